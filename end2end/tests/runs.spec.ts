// Running agents' workflows from the dashboard: the form generated from /schema, the run
// page that updates by itself, and the history filtered from the URL.
import type { Page } from '@playwright/test';
import * as path from 'node:path';
import { test, expect, open, watchErrors, startTestAgent, stop, refusedUrl, TestAgent, removeAgents, startEmpty } from './support';

test.describe.configure({ mode: 'serial' });

let writer: TestAgent;
let kinds: TestAgent;
let errors: string[] = [];
let page: Page;

async function register(p: Page, id: string, url: string) {
  const r = await p.request.post('/api/v1/agents', { data: { agent_id: id, agent_name: id, agent_url: url } });
  expect([200, 201]).toContain(r.status());
}

// The history's counts are of every run: the plan starts from an empty dashboard.
test.beforeAll(async ({ request }) => {
  await startEmpty(request);
  // The article writer answering as an async job (1–2 s), so the run page is seen running.
  writer = await startTestAgent(['--async']);
  kinds = await startTestAgent(['--schema', path.resolve(__dirname, '../fixtures/all-kinds.json')]);
});

// Other files count the shared dashboard's agents, and the throttled project runs this
// file again: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(writer.child);
  await stop(kinds.child);
  await removeAgents(request, ['writer', 'kinds', 'gone']);
});

test.beforeEach(async ({ page: p }) => {
  page = p;
  errors = watchErrors(page);
});

test.afterEach(async () => {
  expect(errors, 'no console errors or uncaught exceptions').toEqual([]);
});

test('Execute on a row opens the form; the run page goes from running to succeeded without reload', async () => {
  await register(page, 'writer', writer.url);
  await open(page, '/orchestrator');
  await page.locator('tr[data-agent-id="writer"]').getByRole('link', { name: 'Execute writer' }).click();
  const panel = page.getByTestId('execute-panel');
  await expect(panel.getByRole('heading', { name: 'Run writer' })).toBeVisible();
  await expect(panel.getByLabel(/^Topic/)).toBeVisible();
  await expect(panel.getByLabel(/^Tone/)).toHaveValue('professional');
  await expect(panel.getByText('What the article is about')).toBeVisible();

  // Nothing is sent while a required field is empty.
  await panel.getByRole('button', { name: 'Run' }).click();
  await expect(panel.locator('[data-path="/topic"] .field-error')).toHaveText('This field is required');
  await expect(panel.getByLabel(/^Topic/)).toHaveAttribute('aria-invalid', 'true');

  await panel.getByLabel(/^Topic/).fill('Rust dashboards');
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await panel.getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);
  const run = page.getByTestId('run-page');
  await expect(run).toHaveAttribute('data-status', /queued|running/);
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeVisible();
  await page.screenshot({ path: 'test-results/10-run-running.png', fullPage: true });
  await expect(run).toHaveAttribute('data-status', 'succeeded', { timeout: 15_000 });
  await expect(page.getByTestId('run-outputs')).toContainText('word_count');
  await expect(page.getByTestId('run-outputs')).toContainText('Rust dashboards');
  await expect(page.getByTestId('run-inputs')).toContainText('"topic"');
  await expect(page.getByRole('button', { name: 'Cancel' })).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__sameDocument), 'no reload').toBe(true);
  await page.screenshot({ path: 'test-results/11-run-succeeded.png', fullPage: true });
});

test('a form with every original field kind fills, validates and submits', async () => {
  await register(page, 'kinds', kinds.url);
  await open(page, '/orchestrator?execute=kinds');
  const panel = page.getByTestId('execute-panel');
  const form = panel.getByTestId('run-form');
  await expect(form.getByLabel(/^Count/)).toHaveValue('3');
  await expect(form.getByLabel(/^Draft/)).toBeChecked();

  await form.getByLabel(/^Title/).fill('Hello');
  await form.getByLabel(/^Count/).fill('12a');
  await form.getByLabel(/^Ratio/).fill('0.25');
  await form.getByLabel(/^Draft/).uncheck();
  const tags = form.locator('[data-path="/tags"]');
  await tags.getByRole('button', { name: 'Add item' }).click();
  await tags.getByRole('button', { name: 'Add item' }).click();
  await tags.getByRole('button', { name: 'Add item' }).click();
  await tags.getByRole('textbox', { name: 'Item 1' }).fill('a');
  await tags.getByRole('textbox', { name: 'Item 2' }).fill('to be removed');
  await tags.getByRole('textbox', { name: 'Item 3' }).fill('c');
  await tags.getByRole('button', { name: 'Remove item 2' }).click();
  // The rows after it move up, keeping what was typed.
  await expect(tags.getByRole('textbox', { name: 'Item 2' })).toHaveValue('c');
  const limits = form.locator('[data-path="/limits"]');
  await limits.getByRole('button', { name: 'Add entry' }).click();
  await limits.getByRole('textbox', { name: 'Key' }).fill('max');
  await limits.getByRole('textbox', { name: 'Value of max' }).fill('5');
  const author = form.locator('[data-path="/author"]');
  await author.getByLabel(/^Name/).fill('Ada');
  await author.getByLabel(/^Age/).fill('36');
  await form.getByLabel(/^Extra/).fill('[1, "x"]');
  await page.screenshot({ path: 'test-results/12-all-kinds.png', fullPage: true });

  // The shared validator refuses what is not a whole number, beside the field.
  await form.getByRole('button', { name: 'Run' }).click();
  await expect(form.locator('[data-path="/count"] .field-error')).toHaveText('Must be a whole number');
  await expect(page).toHaveURL(/execute=kinds/);

  await form.getByLabel(/^Count/).fill('12');
  await form.getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('run-page')).toHaveAttribute('data-status', 'succeeded', { timeout: 15_000 });
  const runId = page.url().split('/').pop()!;
  const stored = await (await page.request.get(`/api/v1/runs/${runId}`)).json();
  // Exactly what was filled in: typed values, the removed row gone, empty optionals left out.
  expect(stored.inputs).toEqual({
    title: 'Hello', count: 12, ratio: 0.25, draft: false, tags: ['a', 'c'],
    limits: { max: 5 }, author: { name: 'Ada', age: 36 }, extra: [1, 'x'],
  });
  expect(stored.outputs).toEqual({ echo: stored.inputs });
});

test('Edit and re-run opens the form prefilled; Re-run starts a new run', async () => {
  const runs = await (await page.request.get('/api/v1/runs?agent_id=kinds')).json();
  await open(page, `/workflows/${runs[0].run_id}`);
  await page.getByRole('link', { name: 'Edit and re-run' }).click();
  const form = page.getByTestId('run-form');
  await expect(form.getByLabel(/^Title/)).toHaveValue('Hello');
  await expect(form.getByLabel(/^Count/)).toHaveValue('12');
  await expect(form.locator('[data-path="/tags"] input')).toHaveCount(2);

  await open(page, `/workflows/${runs[0].run_id}`);
  await page.getByRole('button', { name: 'Re-run' }).click();
  await expect(page).not.toHaveURL(new RegExp(runs[0].run_id));
  await expect(page.getByTestId('run-page')).toHaveAttribute('data-status', 'succeeded', { timeout: 15_000 });
});

test('the history filters by agent from the URL, and the filter survives a reload', async () => {
  await open(page, '/workflows?agent_id=writer');
  const table = page.getByTestId('run-table');
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await expect(table.locator('tbody tr').first()).toContainText('article_writer');
  await expect(page.getByLabel('Agent')).toHaveValue('writer');
  await page.reload();
  await expect(page.getByTestId('run-table').locator('tbody tr')).toHaveCount(1);

  // An empty field is every agent; the choice goes in the URL.
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  const picker = page.getByLabel('Agent');
  await picker.fill('');
  // With the suggestions' popup open (they arrive late on a slow network), Chromium's
  // first Enter, or click elsewhere, only closes the popup (a click on Apply was lost so
  // once): the suggestions arrive, Escape closes their popup, then Apply.
  await expect(page.getByTestId('agent-suggestions').locator('option').first()).toBeAttached();
  await picker.press('Escape');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('run-table').locator('tbody tr')).toHaveCount(3);
  await expect(page).not.toHaveURL(/agent_id=/);
  // Typing asks the server for suggestions; choosing one applies it at once (the
  // browser's own list cannot be clicked by a test: the event it sends is sent here).
  await picker.fill('kind');
  await expect(page.getByTestId('agent-suggestions').locator('option[value="kinds"]')).toHaveCount(1);
  await picker.evaluate((el: HTMLInputElement) => {
    el.value = 'kinds';
    el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertReplacementText' }));
  });
  await expect(page).toHaveURL(/agent_id=kinds/);
  await expect(page.getByTestId('run-table').locator('tbody tr')).toHaveCount(2);
  await expect(page.getByTestId('runs-total')).toContainText('of 2');
  await page.screenshot({ path: 'test-results/13-history.png', fullPage: true });
});

test('Delete asks first, then the run is gone from the page, the history and the API', async () => {
  const runs = await (await page.request.get('/api/v1/runs?agent_id=kinds')).json();
  const doomed = runs[0].run_id;
  await open(page, `/workflows/${doomed}`);
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Keep' }).click();
  await expect(page.getByTestId('run-page')).toBeVisible();
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page).toHaveURL(/\/workflows$/);
  await expect(page.locator(`tr[data-run-id="${doomed}"]`)).toHaveCount(0);
  expect((await page.request.get(`/api/v1/runs/${doomed}`)).status()).toBe(404);
});

test('an agent whose schema cannot be loaded gets a clear error and Retry', async () => {
  const gone = await page.request.post('/api/v1/agents', {
    data: { agent_id: 'gone', agent_name: 'Gone', agent_url: await refusedUrl(), force: true },
  });
  expect(gone.status()).toBe(201);
  await open(page, '/orchestrator?execute=gone');
  const problem = page.getByTestId('schema-error');
  await expect(problem).toContainText("Could not get the agent's input schema (connection refused)");
  await problem.getByRole('button', { name: 'Retry' }).click();
  await expect(page.getByTestId('schema-error')).toContainText('connection refused');
  await expect(page.getByTestId('run-form')).toHaveCount(0);
});

test('a run that cannot be found says so', async () => {
  await open(page, '/workflows/00000000-0000-0000-0000-000000000000');
  await expect(page.getByTestId('run-missing')).toContainText('Run not found');
  // The page itself answers 404, which Chromium logs; that is the point of this test.
  errors.splice(0, errors.length, ...errors.filter((e) => !/status of 404/.test(e)));
});

test('a re-run links to its source, the run page to its agent, and the history offers Re-run', async () => {
  const runs = await (await page.request.get('/api/v1/runs?agent_id=kinds')).json();
  const source = runs[0].run_id;
  await open(page, '/workflows?agent_id=kinds');
  await page.locator(`tr[data-run-id="${source}"]`).getByTestId('row-rerun').click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);
  await expect(page).not.toHaveURL(new RegExp(source));
  const rerunId = page.url().split('/').pop()!;
  await expect(page.getByTestId('rerun-of')).toHaveAttribute('href', `/workflows/${source}`);
  await expect(page.getByTestId('run-page')).toHaveAttribute('data-status', 'succeeded', { timeout: 15_000 });

  // Edit and re-run says which run the inputs come from, and the new run remembers it.
  await page.getByRole('link', { name: 'Edit and re-run' }).click();
  await expect(page.getByTestId('rerun-source').getByRole('link')).toHaveAttribute('href', `/workflows/${rerunId}`);
  await page.getByTestId('run-form').getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('rerun-of')).toHaveAttribute('href', `/workflows/${rerunId}`);

  // The Agent link goes to the agent's page.
  await page.getByTestId('run-agent').click();
  await expect(page).toHaveURL(/\/agents\/kinds$/);
});

test('the date filter puts only what is set in the URL', async () => {
  await open(page, '/workflows');
  await page.getByLabel('From').fill('2026-01-01');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/\/workflows\?since=2026-01-01$/);
  await expect(page.getByTestId('run-table')).toBeVisible();
});

test('Cancel explains itself once, as a notice and not as an error', async () => {
  const slow = await startTestAgent(['--work', '60s']);
  try {
    await register(page, 'slow', slow.url);
    const created = await page.request.post('/api/v1/agents/slow/runs', { data: { inputs: { topic: 'patience' } } });
    expect(created.status()).toBe(202);
    const { run_id } = await created.json();
    await open(page, `/workflows/${run_id}`);
    await expect(page.getByTestId('run-page')).toHaveAttribute('data-status', 'running');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByTestId('run-page')).toHaveAttribute('data-status', 'cancelled');
    await expect(page.getByTestId('run-cancelled')).toContainText('no cancel call');
    await expect(page.getByTestId('run-error')).toHaveCount(0);
    await expect(page.getByText(/no cancel call/)).toHaveCount(1);
    await page.screenshot({ path: 'test-results/14-cancelled.png', fullPage: true });
  } finally {
    await stop(slow.child);
    await page.request.delete('/api/v1/agents/slow');
  }
});

test('executing an unhealthy agent warns before anything is sent', async () => {
  const flaky = await startTestAgent();
  await register(page, 'flaky', flaky.url);
  // Its schema is fetched (and kept) while it runs; then it stops.
  expect((await page.request.get('/api/v1/agents/flaky/schema')).status()).toBe(200);
  await stop(flaky.child);
  await expect
    .poll(async () => (await (await page.request.get('/api/v1/agents/flaky')).json()).health.state, { timeout: 10_000 })
    .toBe('unhealthy');
  await open(page, '/orchestrator?execute=flaky');
  const panel = page.getByTestId('execute-panel');
  await expect(panel.getByTestId('agent-unhealthy-warning')).toContainText('This agent is unhealthy');
  await expect(panel.getByTestId('agent-unhealthy-warning')).toContainText('connection refused');
  await expect(panel.getByRole('button', { name: 'Run anyway' })).toBeVisible();
  await page.screenshot({ path: 'test-results/15-unhealthy-warning.png', fullPage: true });
  await page.request.delete('/api/v1/agents/flaky');
});

test('a run with a 10 MiB output opens quickly, loads more on demand, and downloads whole', async () => {
  // Just under --max-run-output (10 MiB): about 230,000 small objects.
  const big = await startTestAgent(['--pad-output', '10000KiB']);
  try {
    await register(page, 'big', big.url);
    const created = await page.request.post('/api/v1/agents/big/runs', { data: { inputs: { topic: 'volume' } } });
    const { run_id } = await created.json();
    await expect
      .poll(async () => (await (await page.request.get(`/api/v1/runs/${run_id}`)).json()).status, { timeout: 30_000 })
      .toBe('succeeded');

    const html = await (await page.request.get(`/workflows/${run_id}`)).text();
    expect(html.length, 'the run page HTML stays small').toBeLessThan(300 * 1024);
    const started = Date.now();
    await open(page, `/workflows/${run_id}`);
    const hydrated = Date.now() - started;
    const elements = await page.evaluate(() => document.querySelectorAll('*').length);
    console.log(`10 MiB output: run page ${Math.round(html.length / 1024)} KB of HTML, ${elements} elements, hydrated in ${hydrated} ms`);
    expect(elements).toBeLessThan(5000);

    const outputs = page.getByTestId('run-outputs');
    const items = outputs.getByRole('button', { name: /^\[…\] \d+ items$/ }).locator('..');
    await expect(items.getByRole('button', { name: /Show 100 more \(100 of \d+ shown\)/ })).toBeVisible();
    await items.getByRole('button', { name: /Show 100 more/ }).click();
    await expect(items.getByRole('button', { name: /Show 100 more \(200 of \d+ shown\)/ })).toBeVisible();
    await expect(items.locator(':scope > ul > li')).toHaveCount(200);
    // A closed object opens by asking for its entries.
    const row = items.locator(':scope > ul > li').nth(150);
    await row.getByRole('button', { name: /\{…\} 3 keys/ }).click();
    await expect(row).toContainText('"item 150"');

    const download = outputs.getByRole('link', { name: 'Download' });
    await expect(download).toHaveAttribute('href', `/api/v1/runs/${run_id}/outputs?download=1`);
    const whole = await (await page.request.get(`/api/v1/runs/${run_id}/outputs?download=1`)).json();
    expect(whole.items.length).toBeGreaterThan(200_000);
    await page.screenshot({ path: 'test-results/16-big-output.png' });
  } finally {
    await stop(big.child);
    await page.request.delete('/api/v1/agents/big');
  }
});
