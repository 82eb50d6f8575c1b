// End-to-end tests: the real dashboard binary, a real Chromium (Debian's, never a
// downloaded one), one worker. Build first: `./dev test` does it all.
import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A port nothing listens on now (the OS picks it). */
function freePort(): string {
  const script = "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return execFileSync(process.execPath, ['-e', script]).toString().trim();
}
// Chosen once, in the runner; the workers inherit it through the environment. A fixed
// port could be held by another process, which would then stand in for our dashboard;
// if the chosen one is taken by the time the server starts, Playwright fails loudly.
process.env.E2E_DASHBOARD_PORT ??= freePort();
export const DASHBOARD_PORT = Number(process.env.E2E_DASHBOARD_PORT);
export const BIN = path.resolve(__dirname, process.env.CA_BIN ?? '../target/debug/configurable-agents');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-e2e-'));
// Where serve.mjs writes the dashboard's panics; teardown.ts fails the run on any.
process.env.E2E_PANICS ??= path.join(dataDir, 'panics.log');

export default defineConfig<{ throttle: boolean }>({
  testDir: './tests',
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  globalTeardown: './teardown.ts',
  use: {
    baseURL: `http://127.0.0.1:${DASHBOARD_PORT}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'chromium' },
    // The journeys again on a slow network (support.ts `test`): lazy parts and answers
    // arrive late, and each still works, with no console error.
    {
      name: 'throttled',
      use: { throttle: true },
      testMatch: /(orchestrator|runs|schema-forms|watching|bulk|read-text)\.spec\.ts$/,
      // It counts the requests of a run page during a 5 s run: on a slow network the page
      // takes half of that to load, so polling and push cannot be told apart there.
      grepInvert: /goes to succeeded by push, without polling/,
    },
  ],
  webServer: {
    // A 1 s health interval so "agent stopped → unhealthy" shows within one page refresh.
    command: [
      'node', JSON.stringify(path.resolve(__dirname, 'serve.mjs')), JSON.stringify(process.env.E2E_PANICS),
      JSON.stringify(BIN), 'ui', '--port', String(DASHBOARD_PORT),
      '--database-url', JSON.stringify(`sqlite://${path.join(dataDir, 'e2e.db')}`),
      '--health-interval', '1s', '--health-timeout', '2s',
      // A changed /schema is seen within half a second (5 s by default), so tests wait
      // for it rather than sleep.
      '--schema-reuse', '500ms',
      '--site-root', JSON.stringify(path.resolve(__dirname, '../target/site')),
      '--leptos-config', JSON.stringify(path.resolve(__dirname, '../Leptos.toml')),
    ].join(' '),
    url: `http://127.0.0.1:${DASHBOARD_PORT}/orchestrator`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
