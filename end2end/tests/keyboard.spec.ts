// The keyboard: `/` focuses the page's search, j/k move between rows and Enter opens
// one, `?` lists the shortcuts; keys typed into a field stay the field's; the Execute
// panel keeps Tab inside it while open.
import { test, expect, Page } from '@playwright/test';
import { open, watchErrors, startTestAgent, stop, TestAgent } from './support';

let agent: TestAgent;

test.beforeAll(async () => {
  agent = await startTestAgent();
});

async function register(page: Page) {
  for (const id of ['kb-alpha', 'kb-beta']) {
    const r = await page.request.post('/api/v1/agents', { data: { agent_id: id, agent_name: `Keyboard ${id}`, agent_url: agent.url } });
    expect([200, 201]).toContain(r.status());
  }
}

// Other files count the shared dashboard's agents: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(agent.child);
  for (const id of ['kb-alpha', 'kb-beta']) await request.delete(`/api/v1/agents/${id}`);
});

test('/ searches, j and k move between rows, Enter opens one, ? lists the shortcuts', async ({ page }) => {
  const errors = watchErrors(page);
  await register(page);
  await open(page, '/orchestrator?q=kb-');
  const rows = page.locator('tbody tr[data-agent-id]');
  await expect(rows).toHaveCount(2);

  await page.keyboard.press('/');
  await expect(page.getByLabel('Search agents')).toBeFocused();
  // Typed into the field, j is a letter, not a move (the list follows the search).
  await page.keyboard.type('j');
  await expect(page.getByLabel('Search agents')).toHaveValue('kb-j');
  await expect(page).toHaveURL(/q=kb-j/);
  await page.getByLabel('Search agents').fill('kb-');
  await expect(page).toHaveURL(/q=kb-$/);
  await expect(rows).toHaveCount(2);
  await page.locator('h1').click();

  await page.keyboard.press('j');
  await expect(rows.nth(0)).toBeFocused();
  await page.keyboard.press('j');
  await expect(rows.nth(1)).toBeFocused();
  await page.keyboard.press('j');
  await expect(rows.nth(1)).toBeFocused();
  await page.keyboard.press('k');
  await expect(rows.nth(0)).toBeFocused();

  await page.keyboard.press('?');
  await expect(page.getByTestId('shortcuts')).toBeVisible();
  await expect(page.getByTestId('shortcuts')).toContainText('Open the row');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('shortcuts')).toHaveCount(0);

  await expect(rows.nth(0)).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/agents\/kb-alpha$/);

  // The history's search is its agent filter.
  await open(page, '/workflows');
  await page.keyboard.press('/');
  await expect(page.getByTestId('agent-picker')).toBeFocused();
  expect(errors).toEqual([]);
});

test('the Execute panel keeps Tab inside it until Escape', async ({ page }) => {
  const errors = watchErrors(page);
  await register(page);
  await open(page, '/orchestrator?q=kb-alpha');
  await page.getByRole('link', { name: 'Execute kb-alpha' }).click();
  const panel = page.getByTestId('execute-panel');
  await expect(panel.getByLabel(/^Topic/)).toBeVisible();
  await panel.getByLabel(/^Topic/).focus();
  // Round the panel twice, forwards and back: the focus never leaves it.
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    expect(await panel.evaluate((p) => p.contains(document.activeElement))).toBe(true);
  }
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Shift+Tab');
    expect(await panel.evaluate((p) => p.contains(document.activeElement))).toBe(true);
  }
  await page.keyboard.press('Escape');
  await expect(panel).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Execute kb-alpha' })).toBeFocused();
  expect(errors).toEqual([]);
});
