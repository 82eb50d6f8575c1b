import { test as base, expect, Page, APIRequestContext } from '@playwright/test';

/**
 * The journeys' `test`: in the `throttled` project every page of a test is on a slow
 * network (150 ms a request, 200 KB/s down): the bundle, the lazy parts and every answer
 * arrive late, and the journey must still work. Chromium's own throttling, over CDP.
 */
export const test = base.extend<{ throttle: boolean }>({
  throttle: [false, { option: true }],
  page: async ({ page, throttle }, use) => {
    if (throttle) {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: 150, downloadThroughput: 200 * 1024, uploadThroughput: 100 * 1024,
      });
    }
    await use(page);
  },
});
export { expect };
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
 * Chromium logs every non-2xx fetch; 409 (an ID already taken), 422 (refused input) and
 * 502 (refused health check) are answers the tests provoke on purpose, so only those are
 * let through (and `alsoExpected`, e.g. the 401s of a session that a test ends).
 */
export function watchErrors(page: Page, alsoExpected: number[] = []): string[] {
  const errors: string[] = [];
  const statuses = [409, 422, 502, ...alsoExpected].join('|');
  const expected = new RegExp(`Failed to load resource: the server responded with a status of (${statuses}) `);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/**
 * Deletes the agents (for good) and their runs: what a spec made on the shared dashboard,
 * which later specs count (and the `throttled` project runs the journeys again).
 */
export async function removeAgents(request: APIRequestContext, ids: string[]) {
  for (const id of ids) {
    const runs = await (await request.get(`/api/v1/runs?agent_id=${encodeURIComponent(id)}&limit=200`)).json();
    for (const run of Array.isArray(runs) ? runs : []) await request.delete(`/api/v1/runs/${run.run_id}`);
    await request.delete(`/api/v1/agents/${encodeURIComponent(id)}?purge=true`);
  }
}

/**
 * An empty dashboard, for a spec whose plan starts from one (the empty states, counts of
 * all runs): every agent and every run an earlier spec left goes.
 */
export async function startEmpty(request: APIRequestContext) {
  const agents = await (await request.get('/api/v1/agents?limit=1000')).json();
  await removeAgents(request, agents.map((a: { agent_id: string }) => a.agent_id));
  for (let round = 0; round < 100; round++) {
    const runs = await (await request.get('/api/v1/runs?limit=200')).json();
    if (!Array.isArray(runs) || runs.length === 0) return;
    for (const run of runs) await request.delete(`/api/v1/runs/${run.run_id}`);
  }
  throw new Error('runs kept coming while the dashboard was being emptied');
}

/** A started test agent and the URL it listens on. */
export interface TestAgent {
  child: ChildProcess;
  url: string;
}

/**
 * Starts `configurable-agents test-agent` on a port the OS picks and reads the URL it
 * prints, so no other process on a fixed port can stand in for it. Fails loudly if it
 * exits or says nothing within 15 s.
 */
export async function startTestAgent(extra: string[] = []): Promise<TestAgent> {
  const child = spawn(BIN, ['test-agent', '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`test agent printed no address within 15 s: ${out}${stderr}`)), 15_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test agent exited (${code}) before listening: ${stderr}`));
    });
  });
  const r = await fetch(`${url}/health`);
  if (!r.ok) throw new Error(`test agent at ${url} answered /health with ${r.status}`);
  return { child, url };
}

/** A loopback URL where nothing listens (a port just freed by the OS). */
export async function refusedUrl(): Promise<string> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

export async function stop(child: ChildProcess) {
  // Exited, or killed by a signal (then exitCode stays null): nothing to wait for.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Holds back the responses to `pattern` (a lazy part, say) until the returned function is
 * called, so that a test can see what the page shows while they are on their way.
 */
export async function holdBack(page: Page, pattern: string): Promise<() => void> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(pattern, async (route) => {
    await held;
    await route.continue();
  });
  return release;
}

/** Opens Register an agent (its form is a part of the bundle fetched on request), once. */
export async function openRegister(page: Page) {
  const section = page.getByTestId('register-agent');
  const form = section.getByTestId('register-form');
  if (await form.isVisible()) return;
  await section.getByRole('button', { name: 'Register an agent…' }).click();
  await expect(page.getByLabel('Agent ID')).toBeFocused();
}

export async function fillForm(page: Page, id: string, name: string, url: string, metadata = '') {
  await openRegister(page);
  await page.getByLabel('Agent ID').fill(id);
  await page.getByLabel('Agent Name').fill(name);
  await page.getByLabel('Agent URL').fill(url);
  await page.getByLabel(/Description or metadata/).fill(metadata);
}

/** A dashboard of a test's own (another database, other flags), and its base URL. */
export interface Dashboard {
  child: ChildProcess;
  url: string;
}

/**
 * Starts `configurable-agents ui` on a port the OS picks, on a fresh SQLite file (or
 * `database`), with `extra` flags and `env`; resolves with the URL it prints once it serves.
 */
export async function startDashboard(
  extra: string[] = [],
  env: Record<string, string> = {},
  database?: string,
): Promise<Dashboard> {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-e2e-own-'));
  const args = [
    'ui', '--port', '0', '--database-url', database ?? `sqlite://${path.join(dir, 'own.db')}`,
    '--site-root', path.resolve(__dirname, '../../target/site'),
    '--leptos-config', path.resolve(__dirname, '../../Leptos.toml'),
    ...extra,
  ];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dashboard printed no address within 30 s: ${out}${stderr}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/dashboard: (http:\/\/[^\s/]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dashboard exited (${code}) before serving: ${stderr}`));
    });
  });
  return { child, url };
}
