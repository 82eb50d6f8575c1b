// Agents that register themselves: one appears by itself, expires when killed, comes
// back when started again; an ID with a space and an accent works in every page and link.
import { test, expect } from '@playwright/test';
import { open, watchErrors, startTestAgent, stop, refusedUrl, TestAgent } from './support';

const ODD_ID = 'Research Agent é1';
const encoded = encodeURIComponent(ODD_ID);

function registryUrl(baseURL: string | undefined): string {
  return `${baseURL}/api/v1`;
}

async function selfRegistered(baseURL: string | undefined): Promise<TestAgent> {
  return startTestAgent([
    '--agent-id', ODD_ID, '--name', 'Research', '--register', registryUrl(baseURL), '--ttl', '3s',
  ]);
}

test.afterEach(async ({ request }) => {
  // Leave the dashboard as the other specs expect it: no agents, no runs.
  await request.delete(`/api/v1/agents/${encoded}?purge=true`);
  const runs = await (await request.get(`/api/v1/runs?agent_id=${encoded}`)).json();
  for (const run of runs) await request.delete(`/api/v1/runs/${run.run_id}`);
});

test('a self-registering agent appears by itself, expires when killed and comes back', async ({ page, baseURL }) => {
  const errors = watchErrors(page);
  await open(page, '/orchestrator');
  const agent = await selfRegistered(baseURL);
  try {
    const row = page.locator(`tr[data-agent-id="${ODD_ID}"]`);
    await expect(row).toBeVisible();
    await expect(row.locator('.name a')).toHaveText('Research');
    await expect(row).toHaveAttribute('data-health', 'healthy');

    // Killed without a goodbye: expired once its TTL passes, shown as such.
    agent.child.kill('SIGKILL');
    await expect(row).toHaveAttribute('data-health', 'expired', { timeout: 15_000 });
    await expect(row.locator('.badge.expired')).toHaveText('○ expired');
    await expect(row.getByTestId('expiry')).toContainText('last heartbeat');
    await expect(page.getByTestId('summary-expired').locator('.count')).toHaveText('1');
    await page.screenshot({ path: 'test-results/registry-expired.png', fullPage: true });
  } finally {
    await stop(agent.child);
  }

  // Started again: it registers again and is back.
  const again = await selfRegistered(baseURL);
  try {
    const row = page.locator(`tr[data-agent-id="${ODD_ID}"]`);
    await expect(row).not.toHaveAttribute('data-health', 'expired', { timeout: 15_000 });
    await expect(row).toHaveAttribute('data-health', 'healthy', { timeout: 15_000 });
  } finally {
    // A goodbye: deregistered, kept on the list.
    await stop(again.child);
  }
  await expect(page.locator(`tr[data-agent-id="${ODD_ID}"] .badge.expired`)).toHaveText('○ deregistered');
  expect(errors).toEqual([]);
});

test('an ID with a space and an accent works in every page and link', async ({ page, baseURL }) => {
  const errors = watchErrors(page);
  const agent = await selfRegistered(baseURL);
  try {
    await open(page, '/orchestrator');
    const row = page.locator(`tr[data-agent-id="${ODD_ID}"]`);
    await expect(row).toHaveAttribute('data-health', 'healthy');

    // The agent's page, by its link.
    await row.locator('.name a').click();
    await expect(page).toHaveURL(new RegExp(`/agents/${encoded}$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Research');
    await expect(page.getByTestId('agent-liveness')).toContainText('last heartbeat');
    await expect(page.getByTestId('agent-liveness')).toContainText('expires after 3 s');
    await page.screenshot({ path: 'test-results/registry-agent-page.png', fullPage: true });
    // Its period links keep the ID.
    await page.getByRole('link', { name: '7 days' }).click();
    await expect(page).toHaveURL(new RegExp(`/agents/${encoded}\\?hours=168$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Research');

    // Execute from its page: the form for this agent, and a run that lands in its history.
    await page.getByRole('link', { name: 'Execute' }).click();
    await expect(page).toHaveURL(new RegExp(`execute=${encoded}`));
    const panel = page.getByTestId('execute-panel');
    await expect(panel.getByRole('heading', { name: `Run ${ODD_ID}` })).toBeVisible();
    await panel.getByLabel(/^Topic/).fill('accents');
    await panel.getByRole('button', { name: 'Run' }).click();
    // The run's page: its agent link goes back to the agent.
    await expect(page.getByTestId('run-page')).toBeVisible();
    await expect(page.getByTestId('run-outputs')).toContainText('accents', { timeout: 20_000 });
    await expect(page.getByTestId('run-agent')).toHaveAttribute('href', `/agents/${encoded}`);

    // Its runs, filtered by the ID.
    await open(page, `/agents/${encoded}`);
    await page.getByRole('link', { name: 'Runs' }).click();
    await expect(page).toHaveURL(new RegExp(`/workflows\\?agent_id=${encoded}`));
    await expect(page.locator('tbody tr').first()).toContainText(ODD_ID);
  } finally {
    await stop(agent.child);
  }
  expect(errors).toEqual([]);
});

test('a fleet that falls silent together pauses expiry, with a banner, until it beats again', async ({ page, request }) => {
  const errors = watchErrors(page);
  // Ten agents (the default floor) with a 2 s TTL that never heartbeat: after 1 s all of
  // them are silent at once, which pauses expiry before any TTL has passed.
  const url = await refusedUrl();
  const ids = Array.from({ length: 10 }, (_, i) => `silent-${i}`);
  try {
    await open(page, '/orchestrator');
    for (const id of ids) {
      const answer = await request.post('/api/v1/agents/register', {
        data: { agent_id: id, agent_name: id, agent_url: url, ttl_seconds: 2 },
      });
      expect(answer.status()).toBe(201);
    }
    const banner = page.getByTestId('self-preservation');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('10 of 10 self-registered agents stopped heartbeating together');
    // Paused before the TTL: none of them shows expired.
    await expect(page.getByTestId('summary-expired')).toHaveCount(0);
    await page.screenshot({ path: 'test-results/registry-self-preservation.png', fullPage: true });

    // Their heartbeats resume, every third of the TTL as real agents send them: the pause
    // ends and the banner goes, by event. (One beat each would leave them silent again
    // a second later, and the banner's gap could fall between two polls.)
    let beating = true;
    const beats = (async () => {
      while (beating) {
        for (const id of ids) {
          expect((await request.post(`/api/v1/agents/${id}/heartbeat`)).status()).toBe(200);
        }
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
    })();
    try {
      await expect(banner).toHaveCount(0);
    } finally {
      beating = false;
      await beats;
    }
  } finally {
    for (const id of ids) await request.delete(`/api/v1/agents/${id}?purge=true`);
  }
  expect(errors).toEqual([]);
});
