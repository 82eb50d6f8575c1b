// Two dashboards on one PostgreSQL, as a person sees them: the orchestrator page names
// both and how many agents each checks, shows an agent registered through the other one
// as it happens, and says when the other one is gone (killed with SIGKILL).
// Needs PostgreSQL (TEST_DATABASE_URL, as the PostgreSQL integration suite); skipped,
// saying so, without it.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { Dashboard, open, startDashboard, startTestAgent, stop, TestAgent, watchErrors } from './support';

const POSTGRES = process.env.TEST_DATABASE_URL;

/** Runs one statement with psql (installed with PostgreSQL) on the server's admin database. */
function psql(statement: string) {
  try {
    execFileSync('psql', [POSTGRES!, '-v', 'ON_ERROR_STOP=1', '-q', '-c', statement], { stdio: 'pipe' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('this test creates its database with psql: apt-get install postgresql-client');
    throw new Error(`psql ${statement}: ${err.stderr?.toString() ?? err.message}`);
  }
}

test.describe('several dashboards on one PostgreSQL', () => {
  test.skip(!POSTGRES, 'needs PostgreSQL: set TEST_DATABASE_URL=postgres://USER@HOST/DB (./dev test passes it on)');

  const name = `ca_e2e_${process.pid}_${Date.now()}`;
  let a: Dashboard;
  let b: Dashboard;
  let agent: TestAgent;

  test.beforeAll(async () => {
    psql(`CREATE DATABASE "${name}"`);
    const url = new URL(POSTGRES!);
    url.pathname = `/${name}`;
    // A short node timeout, so that a killed dashboard is gone within seconds.
    const flags = (address: string) => ['--node-timeout', '2s', '--node-address', address, '--health-interval', '1s'];
    a = await startDashboard(flags('dashboard-a'), {}, url.toString());
    b = await startDashboard(flags('dashboard-b'), {}, url.toString());
    agent = await startTestAgent();
  });

  test.afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((d) => stop(d.child)));
    if (agent) await stop(agent.child);
    psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });

  test('the page names both dashboards, shows what the other registers, and says when it is gone', async ({ page }) => {
    const errors = watchErrors(page);
    await open(page, `${a.url}/orchestrator`);
    const line = page.getByTestId('dashboards');
    await expect(line).toContainText('2 of 2 dashboards live on this database');
    await expect(line).toContainText('dashboard-a (this one, checks 0)');
    await expect(line).toContainText('dashboard-b (checks 0)');

    // Registered through B: A's open page lists it as it happens (no reload).
    const registered = await fetch(`${b.url}/api/v1/agents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: 'through-b', agent_name: 'Through B', agent_url: agent.url }),
    });
    expect(registered.status).toBe(201);
    const row = page.locator('tr[data-agent-id="through-b"]');
    await expect(row).toBeVisible();
    // Whichever dashboard checks it, A's page shows the result.
    await expect(row).toHaveAttribute('data-health', 'healthy');

    // B killed: no goodbye. Within the node timeout A counts it gone and checks the agent.
    b.child.kill('SIGKILL');
    await expect(async () => {
      await open(page, `${a.url}/orchestrator`);
      await expect(line).toContainText('1 of 2 dashboards live on this database', { timeout: 1_000 });
      await expect(line).toContainText('dashboard-b (gone)', { timeout: 1_000 });
      await expect(line).toContainText('dashboard-a (this one, checks 1)', { timeout: 1_000 });
    }).toPass({ timeout: 15_000 });
    await expect(page.locator('tr[data-agent-id="through-b"]')).toHaveAttribute('data-health', 'healthy');
    expect(errors).toEqual([]);
  });
});
