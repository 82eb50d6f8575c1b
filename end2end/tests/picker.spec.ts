// /workflows with 2,000 agents: the agent filter never lists the fleet (the page carries
// no agent at all until someone types), suggests from the server as one types, and
// filters the history by the agent chosen. A dashboard of its own, so the shared one's
// counts stay as the other tests expect them.
import { test, expect } from '@playwright/test';
import { open, watchErrors, startTestAgent, startDashboard, stop, Dashboard, TestAgent } from './support';

const FLEET = 2000;
let dashboard: Dashboard;
let writer: TestAgent;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // Checked once an hour: the fleet's addresses answer nothing, and need not.
  dashboard = await startDashboard(['--health-interval', '1h']);
  writer = await startTestAgent();
  const port = Number(new URL(writer.url).port);
  // Self-registered (the old client's body): no health check on the way in, so 2,000 are
  // quick; 20 at a time.
  for (let start = 0; start < FLEET; start += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, FLEET - start) }, async (_, k) => {
        const n = start + k;
        const r = await fetch(`${dashboard.url}/api/v1/agents/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ agent_id: `fleet-${n}`, agent_name: `Fleet agent ${n}`, host: '127.0.0.1', port, ttl_seconds: 3600 }),
        });
        expect(r.status).toBeLessThan(300);
      }),
    );
  }
  for (const topic of ['one', 'two']) {
    const r = await fetch(`${dashboard.url}/api/v1/agents/fleet-1234/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { topic } }),
    });
    expect(r.status).toBe(202);
  }
  const other = await fetch(`${dashboard.url}/api/v1/agents/fleet-7/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { topic: 'three' } }),
  });
  expect(other.status).toBe(202);
});

test.afterAll(async () => {
  await stop(writer.child);
  await stop(dashboard.child);
});

test('the history of one agent among 2,000 is found by typing, without the page listing them', async ({ page }) => {
  const errors = watchErrors(page);
  const html = await (await page.request.get(`${dashboard.url}/workflows`)).text();
  // Runs name their agents; an agent without runs appears nowhere, and no option lists one.
  expect(html).not.toContain('fleet-1999');
  expect(html).not.toContain('<option value="fleet-');
  expect(html.length, 'the page does not grow with the fleet').toBeLessThan(40_000);

  await open(page, `${dashboard.url}/workflows`);
  await expect(page.getByTestId('run-table').locator('tbody tr')).toHaveCount(3);
  const picker = page.getByLabel('Agent');
  const suggestions = page.getByTestId('agent-suggestions').locator('option');
  await picker.focus();
  await expect(suggestions).toHaveCount(20);
  await picker.pressSequentially('1234', { delay: 30 });
  await expect(suggestions).toHaveCount(1);
  await expect(suggestions).toHaveAttribute('value', 'fleet-1234');
  await expect(suggestions).toHaveText('Fleet agent 1234');
  await picker.fill('fleet-1234');
  await picker.press('Enter');
  await expect(page).toHaveURL(/agent_id=fleet-1234/);
  await expect(page.getByTestId('run-table').locator('tbody tr')).toHaveCount(2);
  await expect(page.getByTestId('runs-total')).toContainText('of 2');
  // The choice survives a reload, from the URL, still without the fleet on the page.
  await page.reload();
  await expect(page.getByLabel('Agent')).toHaveValue('fleet-1234');
  await expect(page.getByTestId('run-table').locator('tbody tr')).toHaveCount(2);
  expect(errors).toEqual([]);
});
