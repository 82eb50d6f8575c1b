// Long agent names and URLs take two lines at most, show whole on hover, and the URL is
// copied whole with its Copy button.
import { test, expect } from '@playwright/test';
import { open, watchErrors, startTestAgent, stop, TestAgent } from './support';

let agent: TestAgent;

test.beforeAll(async () => {
  agent = await startTestAgent();
});

// Other files count the shared dashboard's agents: leave none behind.
test.afterAll(async ({ request }) => {
  await stop(agent.child);
  await request.delete(`/api/v1/agents/long-texts`);
});

test('a long name and URL are cut to two lines, whole on hover, and the URL copies whole', async ({ page, context }) => {
  const errors = watchErrors(page);
  const name = 'A research agent whose name goes on '.repeat(5).trim();
  const url = `${agent.url}/${'deeply-nested-prefix/'.repeat(8)}agent`;
  const r = await page.request.post('/api/v1/agents', {
    data: { agent_id: 'long-texts', agent_name: name, agent_url: url, force: true },
  });
  expect([200, 201]).toContain(r.status());
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.setViewportSize({ width: 1280, height: 900 });
  await open(page, '/orchestrator?q=long-texts');
  const row = page.locator('tr[data-agent-id="long-texts"]');

  const nameLink = row.locator('.name a');
  await expect(nameLink).toHaveAttribute('title', name);
  const lines = async (selector: string) =>
    row.locator(selector).evaluate((el) => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight));
  expect(await lines('.name a')).toBeLessThanOrEqual(2.05);
  expect(await lines('.url-text')).toBeLessThanOrEqual(2.05);
  await expect(row.locator('.url-text')).toHaveAttribute('title', url);

  await row.hover();
  await row.getByRole('button', { name: 'Copy the URL of long-texts' }).click();
  await expect(row.locator('button.copy')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
  expect(errors).toEqual([]);
});
