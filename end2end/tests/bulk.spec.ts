// Several agents at once: choose rows (a click, Shift+click for a range, `x` on a
// focused row, the page's box), re-check them now, remove them after one question that
// says how many and what goes with them.
import { test, expect, open, watchErrors, startTestAgent, stop, TestAgent } from './support';

let agent: TestAgent;
const ids = ['bulk-1', 'bulk-2', 'bulk-3', 'bulk-4', 'bulk-5'];

test.beforeAll(async () => {
  agent = await startTestAgent();
});

// Other files count the shared dashboard's agents: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(agent.child);
  for (const id of ids) await request.delete(`/api/v1/agents/${id}?purge=true`);
});

test('choose agents, re-check them now, remove them at once', async ({ page }) => {
  const errors = watchErrors(page);
  for (const id of ids) {
    const r = await page.request.post('/api/v1/agents', { data: { agent_id: id, agent_name: `Bulk ${id}`, agent_url: agent.url } });
    expect([200, 201]).toContain(r.status());
  }
  await open(page, '/orchestrator?q=bulk-');
  const rows = page.locator('tbody tr[data-agent-id]');
  await expect(rows).toHaveCount(5);
  const box = (id: string) => page.getByLabel(`Choose ${id}`, { exact: true });
  const bar = page.getByTestId('bulk-bar');
  await expect(bar).toHaveCount(0);

  // A click, then Shift+click: the range between them.
  await box('bulk-1').click();
  await box('bulk-3').click({ modifiers: ['Shift'] });
  await expect(bar).toContainText('3 chosen');
  for (const [id, on] of [['bulk-1', true], ['bulk-2', true], ['bulk-3', true], ['bulk-4', false]] as const) {
    if (on) await expect(box(id)).toBeChecked();
    else await expect(box(id)).not.toBeChecked();
  }
  await expect(page.getByTestId('select-all')).toHaveJSProperty('indeterminate', true);

  // `x` on a focused row chooses it.
  await rows.nth(4).focus();
  await page.keyboard.press('x');
  await expect(box('bulk-5')).toBeChecked();
  await expect(bar).toContainText('4 chosen');

  await bar.getByRole('button', { name: 'Re-check now' }).click();
  await expect(page.getByTestId('bulk-outcome')).toContainText('Checking 4 agents now');

  // Remove asks once, naming how many and what goes.
  await bar.getByRole('button', { name: 'Remove…' }).click();
  await expect(bar).toContainText('Remove 4 agents? Their health history is deleted with them; their runs stay in the history.');
  await bar.getByRole('button', { name: 'Cancel' }).click();
  await expect(rows).toHaveCount(5);
  await bar.getByRole('button', { name: 'Remove…' }).click();
  await bar.getByRole('button', { name: 'Remove 4 agents' }).click();
  await expect(page.getByTestId('bulk-outcome')).toContainText('Removed 4 agents.');
  await expect(rows).toHaveCount(1);
  await expect(bar).toHaveCount(0);
  for (const id of ['bulk-1', 'bulk-2', 'bulk-3', 'bulk-5']) {
    expect((await page.request.get(`/api/v1/agents/${id}`)).status()).toBe(404);
  }

  // The page's box chooses every row on it, and clears them.
  await page.getByTestId('select-all').check();
  await expect(bar).toContainText('1 chosen');
  await expect(box('bulk-4')).toBeChecked();
  await bar.getByRole('button', { name: 'Clear' }).click();
  await expect(bar).toHaveCount(0);
  await expect(box('bulk-4')).not.toBeChecked();
  expect(errors).toEqual([]);
});
