// The execute panel's code (the form generator, the raw JSON editor, the schema
// validator) is a part of the bundle of its own: not fetched by a visit that never opens
// a panel, fetched when one opens. On a slow network it arrives late and the panel says
// so meanwhile; then the form works as ever, under the page's CSP.
import { test, expect } from '@playwright/test';
import { open, watchErrors, startTestAgent, stop, holdBack, TestAgent } from './support';

let agent: TestAgent;

test.beforeAll(async () => {
  agent = await startTestAgent();
});

let runId = '';

// Other files count the shared dashboard's agents and runs: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(agent.child);
  await request.delete(`/api/v1/agents/lazy-writer`);
  await request.delete(`/api/v1/agents/lazy-offline`);
  if (runId) await request.delete(`/api/v1/runs/${runId}`);
});

test("the panel's part arrives only when a panel opens, late on a slow network, and the form still runs", async ({ page }) => {
  const errors = watchErrors(page);
  const r = await page.request.post('/api/v1/agents', { data: { agent_id: 'lazy-writer', agent_name: 'Lazy writer', agent_url: agent.url } });
  expect([200, 201]).toContain(r.status());

  // A slow network: 400 ms for every request and 400 KB/s.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 400, downloadThroughput: 400 * 1024, uploadThroughput: 400 * 1024,
  });
  const parts: string[] = [];
  page.on('request', (req) => {
    if (/\/pkg\/(split|chunk)_[^/]*\.wasm$/.test(req.url())) parts.push(new URL(req.url()).pathname);
  });

  await open(page, '/orchestrator');
  await expect(page.locator('tr[data-agent-id="lazy-writer"]')).toBeVisible();
  expect(parts, 'a visit that opens no panel fetches none of its code').toEqual([]);

  // While it arrives the panel says so, and Escape leaves it as it would the panel. The
  // part is held back until then, so that it cannot arrive first.
  const release = await holdBack(page, '**/pkg/split_panel_*.wasm');
  const execute = page.getByRole('link', { name: 'Execute lazy-writer' });
  await execute.click();
  const opening = page.getByTestId('execute-opening');
  await expect(opening).toContainText('Opening the form…');
  await expect(opening.getByRole('link', { name: 'Close the run form' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(opening).toHaveCount(0);
  await expect(page).not.toHaveURL(/execute=/);
  release();
  await execute.click();
  const panel = page.getByTestId('execute-panel');
  await expect(panel.getByLabel(/^Topic/)).toBeVisible({ timeout: 30_000 });
  expect(parts.some((p) => p.includes('split_panel'))).toBe(true);

  await panel.getByLabel(/^Topic/).fill('lazy loading');
  await panel.getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  runId = page.url().split('/').pop()!;
  await expect(page.getByTestId('run-page')).toHaveAttribute('data-status', 'succeeded', { timeout: 30_000 });
  expect(errors).toEqual([]);
});

// The network fails while the part is fetched: the page says so and stays whole (Leptos
// 0.8's lazy functions would have ended the app), and Try again fetches it afresh.
test("a part that does not arrive is said, and Try again fetches it", async ({ page }) => {
  const errors = watchErrors(page);
  const r = await page.request.post('/api/v1/agents', { data: { agent_id: 'lazy-offline', agent_name: 'Lazy offline', agent_url: agent.url } });
  expect([200, 201]).toContain(r.status());
  await open(page, '/orchestrator');
  await page.route('**/pkg/split_panel_*.wasm', (route) => route.abort('internetdisconnected'));

  await page.getByRole('link', { name: 'Execute lazy-offline' }).click();
  const opening = page.getByTestId('execute-opening');
  await expect(opening.getByRole('alert')).toContainText('The run form could not be opened: this part of the page could not be fetched');
  const again = opening.getByRole('button', { name: 'Try again' });
  await expect(again).toBeFocused();

  await page.unroute('**/pkg/split_panel_*.wasm');
  // The app lives on (a panic would have ended it): Try again opens the form.
  await again.click();
  const panel = page.getByTestId('execute-panel');
  await expect(panel.getByLabel(/^Topic/)).toBeVisible({ timeout: 30_000 });
  await expect(opening).toHaveCount(0);
  // What the failed fetch logged (Chromium, and the part's loader), and nothing else.
  expect(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e))).toEqual([]);
});
