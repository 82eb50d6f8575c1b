// An output that is prose can be read as text: Markdown rendered safely (no HTML of the
// agent's, no script link, no image loaded), the whole text even when the preview cut
// it, the renderer fetched only when first asked (a lazy part, under the page's CSP).
import * as path from 'node:path';
import { test, expect, open, watchErrors, startTestAgent, stop, TestAgent } from './support';

let kinds: TestAgent;
let runId = '';

test.beforeAll(async () => {
  kinds = await startTestAgent(['--schema', path.resolve(__dirname, '../fixtures/all-kinds.json')]);
});

// Other files count the shared dashboard's agents and runs: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(kinds.child);
  await request.delete('/api/v1/agents/reader?purge=true');
  if (runId) await request.delete(`/api/v1/runs/${runId}`);
});

test('a text output reads as Markdown, safely and whole', async ({ page }) => {
  const errors = watchErrors(page);
  const r = await page.request.post('/api/v1/agents', { data: { agent_id: 'reader', agent_name: 'Reader', agent_url: kinds.url } });
  expect([200, 201]).toContain(r.status());
  // Longer than the preview's 2,000 characters: its end is fetched when read.
  const filler = Array.from({ length: 60 }, (_, i) => `Line ${i} of the findings, long enough to take some room.`).join('\n');
  const notes = [
    '## Findings',
    '',
    'This is **important**: <script>window.owned = 1</script> and <img src=x>.',
    '',
    '[click me](javascript:alert(1)) · [the runs](/workflows) · ![a cat](https://example.org/cat.png)',
    '',
    filler,
    '',
    'THE END',
  ].join('\n');
  const created = await page.request.post('/api/v1/agents/reader/runs', { data: { inputs: { title: 't', count: 1, notes } } });
  expect(created.status()).toBe(202);
  runId = (await created.json()).run_id;
  await expect.poll(async () => (await (await page.request.get(`/api/v1/runs/${runId}`)).json()).status).toBe('succeeded');

  const parts: string[] = [];
  page.on('request', (req) => { if (/split_|chunk_/.test(req.url())) parts.push(req.url()); });
  await open(page, `/workflows/${runId}`);
  const outputs = page.getByTestId('run-outputs');
  await expect(outputs.getByText('more (Copy JSON or Download for all)')).toBeVisible();
  expect(parts, 'the renderer is not fetched before it is needed').toEqual([]);

  // The renderer does not arrive (the network fails): the page says so, and the next
  // Read as text fetches it afresh.
  await page.route('**/pkg/split_rendered_*.wasm', (route) => route.abort('internetdisconnected'));
  await outputs.getByRole('button', { name: 'Read as text' }).click();
  await expect(outputs.getByRole('alert')).toContainText('Could not read the text: this part of the page could not be fetched');
  await page.unroute('**/pkg/split_rendered_*.wasm');
  await outputs.getByRole('button', { name: 'Show as JSON' }).click();

  await outputs.getByRole('button', { name: 'Read as text' }).click();
  const text = outputs.getByTestId('read-as-text');
  await expect(text.locator('h2')).toHaveText('Findings');
  await expect(text.locator('strong')).toHaveText('important');
  await expect(text).toContainText('<script>window.owned = 1</script>');
  await expect(text).toContainText('THE END');
  await expect(text.locator('script, img')).toHaveCount(0);
  await expect(text.locator('a[href^="javascript"]')).toHaveCount(0);
  await expect(text.getByText('click me')).toBeVisible();
  await expect(text.getByRole('link', { name: 'the runs' })).toHaveAttribute('href', '/workflows');
  await expect(text.getByRole('link', { name: 'image: a cat' })).toHaveAttribute('href', 'https://example.org/cat.png');
  expect(await page.evaluate(() => (window as unknown as { owned?: number }).owned)).toBeUndefined();
  expect(parts.length, 'the renderer arrived as a part').toBeGreaterThan(0);

  await outputs.getByRole('button', { name: 'Show as JSON' }).click();
  await expect(text).toHaveCount(0);
  await expect(outputs.getByText('## Findings', { exact: false })).toBeVisible();
  // What the failed fetch logged (Chromium, and the part's loader), and nothing else.
  expect(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e))).toEqual([]);
});
