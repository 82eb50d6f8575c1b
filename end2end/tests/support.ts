import { expect, Page } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const BIN = path.resolve(__dirname, '..', process.env.CA_BIN ?? '../target/debug/configurable-agents');

/** Opens a page and waits until the WASM has hydrated it (the app marks <body>). */
export async function open(page: Page, url: string) {
  await page.goto(url);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/**
 * Collects console errors and uncaught exceptions; a test asserts there were none.
 * Chromium logs every non-2xx fetch; 422 (refused input) and 502 (refused health check)
 * are answers the tests provoke on purpose, so only those are let through.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  const expected = /Failed to load resource: the server responded with a status of (422|502) /;
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Starts `configurable-agents test-agent` on `port` and waits until /health answers. */
export async function startTestAgent(port: number): Promise<ChildProcess> {
  const child = spawn(BIN, ['test-agent', '--port', String(port)], { stdio: 'ignore' });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return child;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`test agent did not start on port ${port}`);
}

export async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function fillForm(page: Page, id: string, name: string, url: string, metadata = '') {
  await page.getByLabel('Agent ID').fill(id);
  await page.getByLabel('Agent Name').fill(name);
  await page.getByLabel('Agent URL').fill(url);
  await page.getByLabel(/Description or metadata/).fill(metadata);
}
