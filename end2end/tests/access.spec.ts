// Access control in the browser: a dashboard with an admin token sends every page to
// sign in and back, keeps the session in an HttpOnly cookie, and sends a page whose
// session ended (signed out elsewhere) to sign in again instead of retrying forever.
import { test, expect } from '@playwright/test';
import { Dashboard, open, startDashboard, stop, watchErrors } from './support';

const ADMIN = 'ca_e2e-admin-token-0123456789abcdef0123456789abcdef';
let dashboard: Dashboard;

test.beforeAll(async () => {
  dashboard = await startDashboard([], { CA_ADMIN_TOKEN: ADMIN });
});

test.afterAll(async () => {
  if (dashboard) await stop(dashboard.child);
});

test('a page sends you to sign in and back to it; signing out ends the session', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`${dashboard.url}/workflows?status=failed`);
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fworkflows%3Fstatus%3Dfailed$/);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await page.getByLabel('Admin token').fill('ca_not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('status')).toHaveText('That is not an admin token of this dashboard.');
  await expect(page).toHaveURL(/failed=token&next=%2Fworkflows%3Fstatus%3Dfailed/);
  await page.screenshot({ path: 'test-results/sign-in.png' });

  await page.getByLabel('Admin token').fill(ADMIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${dashboard.url}/workflows?status=failed`);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.locator('.site-header .signed-in')).toHaveText('admin (configured)');
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'ca_session');
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');
  expect(await page.evaluate(() => document.cookie)).not.toContain('ca_session');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await expect(page.getByRole('status')).toHaveText('Signed out.');
  await page.goto(`${dashboard.url}/orchestrator`);
  await expect(page).toHaveURL(/\/sign-in\?next=%2Forchestrator$/);
  expect(errors).toEqual([]);
});

test('a page whose session ends elsewhere goes to sign in by itself', async ({ page }) => {
  // The ended stream and the question that follows it answer 401: expected here.
  const errors = watchErrors(page, [401]);
  await page.goto(`${dashboard.url}/sign-in?next=%2Forchestrator`);
  await page.getByLabel('Admin token').fill(ADMIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await open(page, `${dashboard.url}/orchestrator`);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
  // Signed out from another tab: the same cookie, ended on the server.
  const other = await page.context().newPage();
  await other.goto(`${dashboard.url}/sign-in`);
  await other.evaluate(() => fetch('/sign-out', { method: 'POST' }));
  await other.close();
  await expect(page).toHaveURL(/\/sign-in\?next=%2Forchestrator$/, { timeout: 15_000 });
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('the tokens page creates a token once, lists it, revokes it, and names agents beating without one', async ({ page }) => {
  const errors = watchErrors(page);
  // An old agent that has not moved to a token yet.
  const refused = await fetch(`${dashboard.url}/api/v1/agents/legacy-writer/heartbeat`, { method: 'POST' });
  expect(refused.status).toBe(401);

  await page.goto(`${dashboard.url}/sign-in?next=%2Ftokens`);
  await page.getByLabel('Admin token').fill(ADMIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${dashboard.url}/tokens`);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('tokenless')).toContainText('1 agent heartbeats without a token');
  await expect(page.getByTestId('tokenless')).toContainText('legacy-writer');

  await page.getByLabel('Name').fill('research');
  await page.getByLabel('Or only IDs starting with (optional)').fill('research-');
  await page.getByRole('button', { name: 'Create' }).click();
  const shown = page.getByTestId('new-token');
  await expect(shown).toContainText('Copy it now: it is not shown again.');
  const token = (await shown.locator('code').textContent())!.trim();
  expect(token).toMatch(/^ca_[0-9a-f]{64}$/);
  const row = page.locator('.token-table tr', { hasText: 'research' });
  await expect(row).toContainText('agent IDs starting with "research-"');
  await expect(page.locator('.token-table')).not.toContainText(token);

  // The token works for its agents, and not beyond them.
  const register = (id: string) => fetch(`${dashboard.url}/api/v1/t/${token}/agents/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: id, host: '127.0.0.1', port: 9 }),
  });
  expect((await register('research-1')).status).toBe(201);
  expect((await register('writer-1')).status).toBe(403);
  await page.reload();
  await expect(page.locator('.token-table tr', { hasText: 'research' }).locator('td.num')).toHaveText('1');
  await page.screenshot({ path: 'test-results/tokens-page.png', fullPage: true });

  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Revoke research' }).click();
  await expect(page.locator('.token-table')).not.toContainText('research');
  await expect.poll(async () => (await register('research-2')).status, { timeout: 5_000 }).toBe(401);
  expect(errors).toEqual([]);
});
