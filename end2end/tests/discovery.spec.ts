// "Find agents" on the orchestrator page: a scan run by the dashboard when asked, its
// candidates streamed onto the page as they are found, and Add all registering them.
// The agents listen on an address of their own (127.0.0.61), so the scan finds only them.
import { test, expect } from '@playwright/test';
import { open, watchErrors, startTestAgent, stop } from './support';

test('Find agents: a scan streams candidates, nothing is added until asked, Add all adds', async ({ page, request }) => {
  const errors = watchErrors(page);
  const one = await startTestAgent(['--host', '127.0.0.61', '--agent-id', 'found-one']);
  const two = await startTestAgent(['--host', '127.0.0.61', '--agent-id', 'found-two']);
  try {
    const [low, high] = [one, two].map((a) => Number(new URL(a.url).port)).sort((a, b) => a - b);
    const formPart: string[] = [];
    page.on('request', (req) => { if (/\/pkg\/split_find_form\.wasm$/.test(req.url())) formPart.push(req.url()); });
    await open(page, '/orchestrator');
    const find = page.getByTestId('find-agents');
    // The form is a part of its own, fetched when a person opens it (and not before).
    expect(formPart).toEqual([]);
    await find.getByRole('button', { name: 'Look for agents…' }).click();
    await expect(find.getByLabel('Where')).toBeFocused();
    expect(formPart.length).toBe(1);
    await find.getByLabel('Addresses and ports').fill(`127.0.0.61:${low}-${high}`);
    await find.getByRole('button', { name: 'Find', exact: true }).click();

    const candidates = find.getByTestId('candidates');
    const rowOne = candidates.getByRole('row').filter({ hasText: 'found-one' });
    const rowTwo = candidates.getByRole('row').filter({ hasText: 'found-two' });
    await expect(rowOne).toContainText('article_writer: 3 inputs');
    await expect(rowTwo).toContainText(two.url);
    await expect(find.getByTestId('find-summary')).toContainText(`${high - low + 1} looked at`);
    await expect(find.getByTestId('find-summary')).toContainText('2 answered');
    // Found is not added.
    await expect(page.locator('tr[data-agent-id="found-one"]')).toHaveCount(0);
    await page.screenshot({ path: 'test-results/discovery-found.png', fullPage: true });

    await find.getByTestId('add-all').click();
    await expect(rowOne).toContainText('registered');
    await expect(rowTwo).toContainText('registered');
    await expect(find.getByTestId('add-all')).toBeDisabled();
    // The list shows them, live, as discovered agents.
    await expect(page.locator('tr[data-agent-id="found-one"]')).toHaveAttribute('data-health', 'healthy');
    await expect(page.locator('tr[data-agent-id="found-two"]')).toBeVisible();
    const stored = await (await request.get('/api/v1/agents/found-one')).json();
    expect(stored.source).toBe('discovered');

    // A scan the network policy or the limit refuses says why, and nothing is sent.
    await find.getByLabel('Addresses and ports').fill('10.0.0.0/8:1-65535');
    await find.getByRole('button', { name: 'Find', exact: true }).click();
    await expect(find.getByRole('alert')).toContainText('more than 65536');
    await page.screenshot({ path: 'test-results/discovery-added.png', fullPage: true });

    // Stop ends a long scan at once (every port of an address nothing listens on).
    await find.getByLabel('Addresses and ports').fill('127.0.0.62:1-65535');
    await find.getByRole('button', { name: 'Find', exact: true }).click();
    await expect(find.getByRole('button', { name: 'Looking…' })).toBeDisabled();
    await find.getByRole('button', { name: 'Stop' }).click();
    await expect(find.getByTestId('find-summary')).toHaveText('Stopped.');
    await expect(find.getByRole('button', { name: 'Find', exact: true })).toBeEnabled();
  } finally {
    await stop(one.child);
    await stop(two.child);
    for (const id of ['found-one', 'found-two']) await request.delete(`/api/v1/agents/${id}?purge=true`);
  }
  expect(errors, 'no console errors or uncaught exceptions').toEqual([]);
});

// The network fails while the form's part is fetched: the section says so, the page lives
// on, and Try again fetches it afresh.
test("Find agents: a form that does not arrive is said, and Try again fetches it", async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/orchestrator');
  await page.route('**/pkg/split_find_form.wasm', (route) => route.abort('internetdisconnected'));
  const find = page.getByTestId('find-agents');
  await find.getByRole('button', { name: 'Look for agents…' }).click();
  await expect(find.getByRole('alert')).toContainText('Find agents could not be opened: this part of the page could not be fetched');
  const again = find.getByRole('button', { name: 'Try again' });
  await expect(again).toBeFocused();

  await page.unroute('**/pkg/split_find_form.wasm');
  await again.click();
  await expect(find.getByLabel('Where')).toBeFocused();
  await expect(find.getByRole('alert')).toHaveCount(0);
  await expect(find.getByRole('button', { name: 'Find', exact: true })).toBeEnabled();
  expect(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e))).toEqual([]);
});
