// The run form stays open, with what was typed, while the person searches, filters or
// pages the list behind it: those links keep the panel in the URL.
import { test, expect, open, watchErrors, startTestAgent, stop, removeAgents, TestAgent } from './support';

let agent: TestAgent;
const IDS = ['kept-writer', 'kept-other'];

test.beforeAll(async () => {
  agent = await startTestAgent();
});

// Other files count the shared dashboard's agents: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(agent.child);
  await removeAgents(request, IDS);
});

test('searching and filtering the list keep the open run form and what was typed', async ({ page }) => {
  const errors = watchErrors(page);
  for (const id of IDS) {
    const r = await page.request.post('/api/v1/agents', { data: { agent_id: id, agent_name: id, agent_url: agent.url } });
    expect([200, 201]).toContain(r.status());
  }
  await open(page, '/orchestrator?execute=kept-writer');
  const panel = page.getByTestId('execute-panel');
  const topic = panel.getByLabel(/^Topic/);
  await expect(topic).toBeVisible({ timeout: 30_000 });
  await topic.fill('half typed');

  await page.locator('#agent-search').fill('kept-other');
  await expect(page).toHaveURL(/[?&]q=kept-other/);
  await expect(page.locator('tr[data-agent-id]')).toHaveCount(1);
  expect(new URL(page.url()).searchParams.get('execute')).toBe('kept-writer');
  await expect(topic).toHaveValue('half typed');

  await page.getByTestId('summary-healthy').click();
  await expect(page).toHaveURL(/[?&]state=healthy/);
  expect(new URL(page.url()).searchParams.get('execute')).toBe('kept-writer');
  expect(new URL(page.url()).searchParams.get('q')).toBe('kept-other');
  await expect(topic).toHaveValue('half typed');
  expect(errors).toEqual([]);
});
