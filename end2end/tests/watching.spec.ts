// Live updates (runs last: the other files expect the database they started with):
// one event stream per browser, relayed to every tab; pages that change in
// place by push (no polling while the stream is up); the indicator, the fallback and the
// recovery when the stream drops; the agent page; the list's summary, search and filter;
// a phone-width screen.
import type { Page, BrowserContext } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, expect, open, watchErrors, startTestAgent, stop, refusedUrl, TestAgent, BIN } from './support';

test.describe.configure({ mode: 'serial' });

let errors: string[] = [];
let agents: TestAgent[] = [];

test.beforeEach(async ({ page }) => {
  errors = watchErrors(page);
});

test.afterEach(async () => {
  for (const a of agents) await stop(a.child);
  agents = [];
  expect(errors, 'no console errors or uncaught exceptions').toEqual([]);
});

async function agent(extra: string[] = []): Promise<TestAgent> {
  const a = await startTestAgent(extra);
  agents.push(a);
  return a;
}

async function register(p: Page, id: string, url: string, force = false, base = '') {
  const r = await p.request.post(`${base}/api/v1/agents`, { data: { agent_id: id, agent_name: `Agent ${id}`, agent_url: url, force } });
  expect([200, 201], await r.text()).toContain(r.status());
}

const row = (p: Page, id: string) => p.locator(`tr[data-agent-id="${id}"]`);
const indicator = (p: Page) => p.getByTestId('live-status');

/** Event stream requests made by a browser context's tabs. */
function streamRequests(context: BrowserContext): string[] {
  const seen: string[] = [];
  context.on('request', (r) => {
    if (r.url().includes('/api/v1/events')) seen.push(r.url());
  });
  return seen;
}

/** Requests to a server function (by name) from a context's tabs, from now on. */
function calls(context: BrowserContext, name: string): string[] {
  const seen: string[] = [];
  context.on('request', (r) => {
    if (r.url().includes(`/api/${name}`)) seen.push(r.url());
  });
  return seen;
}

/** Open event streams, as the dashboard counts them. */
async function openStreams(p: Page, base = ''): Promise<number> {
  const text = await (await p.request.get(`${base}/metrics`)).text();
  const m = text.match(/^configurable_agents_event_stream_clients (\d+)/m);
  expect(m, 'the stream gauge is in /metrics').not.toBeNull();
  return Number(m![1]);
}

/** Errors a test provokes by taking the stream or the server away. */
function dropRefused() {
  errors.splice(0, errors.length, ...errors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(e)));
}

test('two tabs show a stopped agent unhealthy without reload, over one event stream', async ({ page, context }) => {
  // The tabs' timers run on a clock the test can move forward (time flows as usual).
  await context.clock.install();
  const a = await agent();
  await register(page, 'pair', a.url);
  const streams = streamRequests(context);
  const other = await context.newPage();
  const otherErrors = watchErrors(other);
  // Only this agent listed: others changing state meanwhile would bring fresh views.
  await open(page, '/orchestrator?q=pair');
  await open(other, '/orchestrator?q=pair');
  for (const p of [page, other]) {
    await expect(indicator(p)).toHaveAttribute('data-state', 'live');
    await expect(row(p, 'pair')).toHaveAttribute('data-health', 'healthy');
  }
  const handles = await Promise.all([row(page, 'pair').elementHandle(), row(other, 'pair').elementHandle()]);

  const refreshes = calls(context, 'agent_overview');
  await stop(a.child);
  agents = [];
  for (const p of [page, other]) {
    await expect(row(p, 'pair')).toHaveAttribute('data-health', 'unhealthy', { timeout: 10_000 });
    await expect(row(p, 'pair').getByTestId('health-reason')).toContainText('connection refused');
  }
  // A state change brings each tab one fresh view (uptime figure, exact counts); nothing
  // is asked for periodically while the stream is up (the fallback polls every 5 s).
  // Each state change (failing, then unhealthy) brings each tab a fresh view, a moment
  // after it (debounced): the tabs' clocks are moved past that, and the views are let in
  // until none is on its way.
  await page.clock.runFor(1000);
  await other.clock.runFor(1000);
  await expect
    .poll(async () => {
      const seen = refreshes.length;
      await new Promise((r) => setTimeout(r, 300));
      return seen >= 2 && refreshes.length === seen;
    }, { message: 'the fresh views after the change have arrived' })
    .toBe(true);
  const polls = calls(context, 'agent_overview');
  // Six seconds of the tabs' timers at once: the fallback would have asked at 5 s.
  await page.clock.runFor(6000);
  await other.clock.runFor(0);
  await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  await other.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  expect(polls, 'no requests for the list while the stream is up').toEqual([]);
  for (const h of handles) expect(await h!.evaluate((e) => e.isConnected), 'the row was patched in place').toBe(true);
  expect(streams, 'one stream for both tabs').toHaveLength(1);
  // Streams of earlier tests' closed tabs are dropped at the server's next keep-alive.
  await expect.poll(() => openStreams(page), { timeout: 20_000 }).toBe(1);
  await page.screenshot({ path: 'test-results/live-01-two-tabs.png', fullPage: true });
  expect(otherErrors).toEqual([]);
  await page.request.delete('/api/v1/agents/pair');
});

test('eight tabs all stay live; a change reaches every one, also after the stream holder closes', async ({ page, context }) => {
  const a = await agent();
  const streams = streamRequests(context);
  const tabs = [page];
  for (let i = 1; i < 8; i++) tabs.push(await context.newPage());
  const tabErrors = tabs.slice(1).map((t) => watchErrors(t));
  for (const t of tabs) {
    await open(t, '/orchestrator');
    await expect(indicator(t)).toHaveAttribute('data-state', 'live');
  }
  await register(page, 'eighth', a.url);
  for (const t of tabs) await expect(row(t, 'eighth')).toHaveAttribute('data-health', 'healthy');
  expect(streams, 'eight tabs, one stream').toHaveLength(1);

  // The tab holding the stream closes: another takes it over, resuming where it was.
  await tabs[0].close();
  const rest = tabs.slice(1);
  await register(rest[0], 'ninth', a.url);
  for (const t of rest) {
    await expect(row(t, 'ninth')).toBeVisible();
    await expect(indicator(t)).toHaveAttribute('data-state', 'live');
  }
  expect(streams, 'one new stream after the takeover').toHaveLength(2);
  expect(streams[1]).toContain('last_event_id=');
  for (const e of tabErrors) expect(e).toEqual([]);
  await rest[0].request.delete('/api/v1/agents/eighth');
  await rest[0].request.delete('/api/v1/agents/ninth');
});

test('a run page goes to succeeded by push, without polling', async ({ page, context }) => {
  const a = await agent(['--work', '5s']);
  await register(page, 'pusher', a.url);
  const created = await page.request.post('/api/v1/agents/pusher/runs', { data: { inputs: { topic: 'push' } } });
  expect(created.status()).toBe(202);
  const { run_id } = await created.json();
  const first = calls(context, 'run_detail');
  await open(page, `/workflows/${run_id}`);
  await expect(indicator(page)).toHaveAttribute('data-state', 'live');
  const run = page.getByTestId('run-page');
  await expect(run).toHaveAttribute('data-status', 'running');
  // The page asks once as it opens (for what changed since it was rendered); after that
  // only push.
  await expect.poll(() => first.length).toBeGreaterThanOrEqual(1);
  const polls = calls(context, 'run_detail');

  await expect(run).toHaveAttribute('data-status', 'succeeded', { timeout: 15_000 });
  await expect(page.getByTestId('run-outputs')).toContainText('A medium, professional article about push.');
  // Polling every second over the seconds left would have asked several times; push
  // asks once, for the outputs, when the run ends. An opening ask owed while the stream
  // connected (one request out at a time) may land after the count began: one more.
  expect(polls.length, polls.join('\n')).toBeLessThanOrEqual(2);
  await page.request.delete(`/api/v1/runs/${run_id}`);
  await page.request.delete('/api/v1/agents/pusher');
});

/** A dashboard of the test's own, on a port of its own, so that it can be restarted. */
async function startDashboard(port: number, dbFile: string): Promise<ChildProcess> {
  const child = spawn(BIN, [
    'ui', '--port', String(port), '--database-url', `sqlite://${dbFile}`, '--health-interval', '1s',
    '--site-root', path.resolve(__dirname, '../../target/site'),
    '--leptos-config', path.resolve(__dirname, '../../Leptos.toml'),
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the dashboard exited (${child.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/orchestrator`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the dashboard did not answer on port ${port} within 20 s: ${stderr}`);
}

test('the indicator says reconnecting while the server restarts, and the page catches up after', async ({ page }) => {
  const port = Number(new URL(await refusedUrl()).port);
  const base = `http://127.0.0.1:${port}`;
  const dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ca-restart-')), 'restart.db');
  let server = await startDashboard(port, dbFile);
  try {
    await open(page, `${base}/orchestrator`);
    await expect(indicator(page)).toHaveAttribute('data-state', 'live');

    await stop(server);
    await expect(indicator(page)).toHaveAttribute('data-state', 'reconnecting');
    await expect(indicator(page)).toContainText('reconnecting');
    await page.screenshot({ path: 'test-results/live-02-reconnecting.png' });

    server = await startDashboard(port, dbFile);
    await expect(indicator(page)).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
    // What happened meanwhile arrives too (a new server: resync, then events).
    const a = await agent();
    await register(page, 'after-restart', a.url, false, base);
    await expect(row(page, 'after-restart')).toHaveAttribute('data-health', 'healthy');
    await expect(page.getByTestId('refresh-error')).toHaveCount(0, { timeout: 10_000 });
  } finally {
    await stop(server);
  }
  dropRefused();
});

test('the agent page shows uptime, latency and the state changes, and follows by push', async ({ page }) => {
  const a = await agent();
  await register(page, 'detail', a.url);
  // A few checks (every second) for the latency chart.
  await expect
    .poll(async () => {
      const history = await (await page.request.get('/api/v1/agents/detail/history?hours=1')).json();
      return history.latency.reduce((n: number, b: { probes: number }) => n + b.probes, 0);
    }, { timeout: 10_000 })
    .toBeGreaterThanOrEqual(3);
  await open(page, '/orchestrator');
  await row(page, 'detail').getByRole('link', { name: 'Agent detail' }).click();
  await expect(page).toHaveURL(/\/agents\/detail$/);
  const detail = page.getByTestId('agent-page');
  await expect(detail).toHaveAttribute('data-health', 'healthy');
  await expect(page.getByRole('heading', { name: 'Agent detail' })).toBeVisible();
  await expect(page.getByTestId('uptime-figure')).toHaveText('100 %');
  await expect(page.getByTestId('latency-chart').locator('polyline')).toHaveCount(1);
  await expect(page.getByTestId('health-timeline').locator('li')).toHaveCount(1);
  await expect(page.getByTestId('health-timeline').locator('li').first()).toHaveAttribute('data-state', 'healthy');
  await expect(indicator(page)).toHaveAttribute('data-state', 'live');

  await stop(a.child);
  agents = [];
  await expect(detail).toHaveAttribute('data-health', 'unhealthy', { timeout: 10_000 });
  await expect(page.getByTestId('agent-reason')).toContainText('connection refused');
  // Newest first: unhealthy, failing, healthy.
  const states = page.getByTestId('health-timeline').locator('li');
  await expect(states).toHaveCount(3);
  await expect(states.first()).toHaveAttribute('data-state', 'unhealthy');
  await expect(states.first()).toContainText('connection refused');
  await page.getByRole('link', { name: '7 days' }).click();
  await expect(page).toHaveURL(/hours=168/);
  await expect(states).toHaveCount(3);
  await page.screenshot({ path: 'test-results/live-03-agent-page.png', fullPage: true });

  await page.request.delete('/api/v1/agents/detail');
  await expect(page.getByTestId('agent-gone')).toBeVisible();
});

test('the summary counts by state; search and the state filter narrow the list and live in the URL', async ({ page }) => {
  const a = await agent();
  const nobody = await refusedUrl();
  await register(page, 'zz-find-one', a.url);
  await register(page, 'zz-find-two', a.url);
  await register(page, 'zz-find-dead', nobody, true);
  // Failing at its registration, unhealthy at the monitor's next check.
  await expect.poll(async () => (await (await page.request.get('/api/v1/agents/zz-find-dead')).json()).health.state).toBe('unhealthy');
  await open(page, '/orchestrator');
  const total = Number(await page.getByTestId('summary-all').locator('.count').textContent());
  expect(total).toBeGreaterThanOrEqual(3);

  await page.getByLabel('Search agents').fill('zz-find');
  await expect(page).toHaveURL(/q=zz-find/);
  await expect(page.locator('tr[data-agent-id]')).toHaveCount(3);
  await expect(page.getByTestId('agent-pager')).toContainText('Showing 1–3 of 3');

  await page.getByTestId('summary-unhealthy').click();
  await expect(page).toHaveURL(/state=unhealthy/);
  await expect(page.locator('tr[data-agent-id]').first()).toHaveAttribute('data-health', 'unhealthy');
  await expect(row(page, 'zz-find-one')).toHaveCount(0);
  await expect(page.getByTestId('summary-unhealthy')).toHaveAttribute('aria-current', 'true');
  // Execute and Close keep the list as it was.
  await row(page, 'zz-find-dead').getByRole('link', { name: 'Execute zz-find-dead' }).click();
  await expect(page).toHaveURL(/q=zz-find&state=unhealthy&execute=zz-find-dead/);
  await expect(page.getByTestId('execute-panel')).toBeVisible();
  await page.getByRole('link', { name: 'Close the run form' }).click();
  await expect(page).toHaveURL(/q=zz-find&state=unhealthy$/);
  await expect(row(page, 'zz-find-dead')).toBeVisible();

  // Counts follow by push: a healthy one stops.
  await page.goto('/orchestrator?q=zz-find');
  await expect(indicator(page)).toHaveAttribute('data-state', 'live');
  const unhealthy = Number(await page.getByTestId('summary-unhealthy').locator('.count').textContent());
  await stop(a.child);
  agents = [];
  await expect(page.getByTestId('summary-unhealthy').locator('.count')).toHaveText(String(unhealthy + 2), { timeout: 10_000 });
  for (const id of ['zz-find-one', 'zz-find-two', 'zz-find-dead']) await page.request.delete(`/api/v1/agents/${id}`);
});

test('the orchestrator page fits a phone-width screen', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const phone = await context.newPage();
  const phoneErrors = watchErrors(phone);
  const nobody = await refusedUrl();
  await register(phone, 'phone-agent', `${nobody}/a/rather/long/path/prefix/for/this/agent`, true);
  await open(phone, '/orchestrator');
  await expect(row(phone, 'phone-agent')).toBeVisible();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
  expect(overflow, 'nothing wider than the screen').toBeLessThanOrEqual(390);
  const url = await row(phone, 'phone-agent').locator('.url code').boundingBox();
  expect(url!.width, 'the URL is not squeezed to a character per line').toBeGreaterThan(200);
  const header = await phone.locator('.site-header').boundingBox();
  expect(header!.width).toBeLessThanOrEqual(390);
  await phone.screenshot({ path: 'test-results/live-04-phone.png', fullPage: true });
  await phone.request.delete('/api/v1/agents/phone-agent');
  expect(phoneErrors).toEqual([]);
  await context.close();
});
