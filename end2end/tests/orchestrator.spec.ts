// The seed's manual test plan for the orchestrator page, automated.
import type { Page } from '@playwright/test';
import { test, expect, open, watchErrors, startTestAgent, stop, fillForm, openRegister, holdBack, refusedUrl, TestAgent, startEmpty } from './support';

test.describe.configure({ mode: 'serial' });

let agent: TestAgent | undefined;
let AGENT_URL = '';
let NOBODY_URL = '';

// The plan starts from an empty dashboard: whatever an earlier spec left goes first.
test.beforeAll(async ({ request }) => {
  NOBODY_URL = await refusedUrl();
  await startEmpty(request);
});
let errors: string[] = [];
let page: Page;

test.beforeEach(async ({ page: p }) => {
  page = p;
  errors = watchErrors(page);
});

test.afterEach(async () => {
  expect(errors, 'no console errors or uncaught exceptions').toEqual([]);
});

test.afterAll(async () => {
  if (agent) await stop(agent.child);
});

const nav = (p: Page, name: string) =>
  p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });

const registerCalls = (p: Page) => {
  const calls: string[] = [];
  p.on('request', (r) => {
    if (r.url().includes('/api/register_agent')) calls.push(r.url());
  });
  return calls;
};

test('the page loads with the empty state, the navigation, and its form on request', async () => {
  // The form's part of the bundle is fetched when it is opened, not with the page.
  const parts: string[] = [];
  page.on('request', (r) => {
    if (/split_register_form/.test(r.url())) parts.push(r.url());
  });
  await open(page, '/');
  await expect(page).toHaveURL(/\/orchestrator$/);
  await expect(page.getByRole('heading', { name: 'Orchestrator' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Register an agent' })).toBeVisible();
  await expect(page.getByLabel('Agent ID')).toHaveCount(0);
  expect(parts, 'the form is not fetched with the page').toEqual([]);
  // While the part arrives the section says so (held back until then, so that it cannot
  // arrive first); then the form takes its place, with the focus in its first field.
  const release = await holdBack(page, '**/pkg/split_register_form.wasm');
  const section = page.getByTestId('register-agent');
  await section.getByRole('button', { name: 'Register an agent…' }).click();
  await expect(section.getByRole('status')).toHaveText('Opening…');
  release();
  await expect(page.getByLabel('Agent ID')).toBeFocused();
  await expect(section.getByRole('status')).toHaveCount(0);
  expect(parts.length, 'opening it fetches its part').toBe(1);
  await page.unroute('**/pkg/split_register_form.wasm');
  await expect(page.getByLabel('Agent ID')).toBeVisible();
  await expect(page.getByLabel('Agent Name')).toBeVisible();
  await expect(page.getByLabel('Agent URL')).toBeVisible();
  await expect(page.getByLabel(/Description or metadata/)).toBeVisible();
  await expect(page.getByTestId('agents-empty')).toContainText('No agents registered yet');
  await expect(nav(page, 'Orchestrator')).toHaveAttribute('aria-current', 'page');
  await expect(nav(page, 'Workflows')).not.toHaveAttribute('aria-current', 'page');
  await page.screenshot({ path: 'test-results/01-empty.png', fullPage: true });
});

test('an empty form and a bad URL are blocked in the browser', async () => {
  await open(page, '/orchestrator');
  const calls = registerCalls(page);

  await openRegister(page);
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  expect(await page.getByLabel('Agent ID').evaluate((e: HTMLInputElement) => e.validity.valueMissing)).toBe(true);

  await fillForm(page, 'bad-url', 'Bad URL', 'ftp://example.org');
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  expect(await page.getByLabel('Agent URL').evaluate((e: HTMLInputElement) => e.validity.valid)).toBe(false);

  // A rule the browser's pattern cannot express is caught by the shared validator.
  await fillForm(page, 'register', 'Reserved', NOBODY_URL);
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.locator('#agent_id-error')).toContainText('reserved');
  await expect(page.getByLabel('Agent ID')).toHaveAttribute('aria-invalid', 'true');

  expect(calls, 'nothing was sent to the server').toEqual([]);
  await expect(page.getByTestId('agents-empty')).toBeVisible();
});

test('an unreachable agent shows its error, is not added, and Clear resets the form', async () => {
  await open(page, '/orchestrator');
  await fillForm(page, 'nobody', 'Nobody', NOBODY_URL, 'never runs');
  await page.getByRole('button', { name: 'Register', exact: true }).click();

  const message = page.getByTestId('form-message');
  await expect(message).toContainText('connection refused');
  await expect(message.getByRole('button', { name: 'Register anyway' })).toBeVisible();
  await expect(page.getByTestId('agents-empty')).toBeVisible();
  await page.screenshot({ path: 'test-results/02-refused.png', fullPage: true });

  await page.getByRole('button', { name: 'Clear' }).click();
  for (const label of ['Agent ID', 'Agent Name', 'Agent URL']) {
    await expect(page.getByLabel(label)).toHaveValue('');
  }
  await expect(page.getByLabel(/Description or metadata/)).toHaveValue('');
  await expect(message).toHaveCount(0);

  const api = await page.request.get('/api/v1/agents/nobody');
  expect(api.status()).toBe(404);
});

test('the test agent registers and shows healthy without a reload', async () => {
  agent = await startTestAgent();
  AGENT_URL = agent.url;
  await open(page, '/orchestrator');
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await fillForm(page, 'test-agent', 'Test Agent', AGENT_URL, 'writes short articles');
  await page.getByRole('button', { name: 'Register', exact: true }).click();

  await expect(page.getByTestId('form-message')).toContainText("Registered agent 'test-agent'");
  const row = page.locator('tr[data-agent-id="test-agent"]');
  await expect(row).toHaveAttribute('data-health', 'healthy');
  await expect(row).toContainText('Test Agent');
  await expect(row).toContainText(AGENT_URL);
  await expect(row).toContainText('writes short articles');
  await expect(row.locator('time')).toHaveText(/just now|\d+ s ago/);
  await expect(page.getByTestId('agents-empty')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await expect(page.getByLabel('Agent ID')).toHaveValue('');

  // The same ID, URL and name again is a harmless update.
  await fillForm(page, 'test-agent', 'Test Agent', AGENT_URL);
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.getByTestId('form-message')).toContainText("Updated agent 'test-agent'");

  // The ID with another name is refused, naming the agent that has it, until the person
  // confirms Replace.
  await fillForm(page, 'test-agent', 'Test Agent v2', AGENT_URL);
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  const message = page.getByTestId('form-message');
  await expect(message).toContainText(`Agent ID 'test-agent' is already registered to 'Test Agent' at ${AGENT_URL}. Replace it, or choose another ID.`);
  await expect(page.locator('#agent_id-error')).toContainText('Already registered');
  await expect(row).toContainText('Test Agent');
  await expect(row).not.toContainText('Test Agent v2');
  await page.screenshot({ path: 'test-results/03-id-taken.png', fullPage: true });
  await page.getByTestId('replace-agent').click();
  await expect(message).toContainText("Replaced agent 'test-agent'");
  await expect(row).toContainText('Test Agent v2');
  await expect(page.locator('tr[data-agent-id]')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/03-healthy.png', fullPage: true });
});

test('refreshes keep what is typed, and a stopped agent turns unhealthy', async () => {
  await open(page, '/orchestrator');
  const row = page.locator('tr[data-agent-id="test-agent"]');
  await expect(row).toHaveAttribute('data-health', 'healthy');
  const rowHandle = await row.elementHandle();

  await openRegister(page);
  await page.getByLabel('Agent Name').fill('half-typed name');
  await stop(agent!.child);
  agent = undefined;

  // The server notices within 1 s and pushes it: failing at the first failed check,
  // unhealthy at the second.
  await expect(row).toHaveAttribute('data-health', 'unhealthy', { timeout: 9_000 });
  await expect(row.getByTestId('health-reason')).toContainText('connection refused');
  await expect(page.getByLabel('Agent Name')).toHaveValue('half-typed name');
  // Keyed rows: the refresh updated the row in place instead of rebuilding it.
  expect(await rowHandle!.evaluate((e) => e.isConnected)).toBe(true);
  await page.screenshot({ path: 'test-results/04-unhealthy.png', fullPage: true });
});

test('register anyway stores an unreachable agent as unhealthy', async () => {
  await open(page, '/orchestrator');
  await fillForm(page, 'nobody', 'Nobody', NOBODY_URL);
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  await page.getByRole('button', { name: 'Register anyway' }).click();
  // It says what the row shows: failing at its first failed check, not "unhealthy".
  await expect(page.getByTestId('form-message')).toContainText("Registered agent 'nobody' (failing (1 of 2): connection refused");
  const row = page.locator('tr[data-agent-id="nobody"]');
  // No answer has no latency.
  await expect(row.locator('.latency')).toHaveText('—');
  await expect(row).toHaveAttribute('data-health', 'unhealthy');
  await expect(row.getByTestId('health-reason')).toContainText('connection refused');
});

test('Remove asks for confirmation, then the agent is gone', async () => {
  await open(page, '/orchestrator');
  const row = page.locator('tr[data-agent-id="nobody"]');
  await row.getByRole('button', { name: 'Remove' }).click();
  await expect(row).toContainText('Remove this agent?');
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toBeVisible();

  // One row asks at a time: asking on another closes the first's question.
  await row.getByRole('button', { name: 'Remove' }).click();
  const other = page.locator('tr[data-agent-id="test-agent"]');
  await other.getByRole('button', { name: 'Remove' }).click();
  await expect(other).toContainText('Remove this agent?');
  await expect(row).not.toContainText('Remove this agent?');
  await other.getByRole('button', { name: 'Cancel' }).click();

  // A removal the network loses says so on its row, and the agent stays.
  await page.route('**/api/remove_agent*', (route) => route.abort('connectionrefused'));
  await row.getByRole('button', { name: 'Remove' }).click();
  await row.getByRole('button', { name: 'Confirm remove' }).click();
  await expect(row.locator('.field-error')).not.toBeEmpty();
  await expect(row.getByRole('button', { name: 'Remove' })).toBeVisible();
  await expect(other.locator('.field-error')).toHaveCount(0);
  await page.unroute('**/api/remove_agent*');

  // A removal answered after the page was left changes nothing, and ends nothing: the
  // app still routes in the browser (no full load) and logged no error.
  let answer!: () => void;
  const held = new Promise<void>((resolve) => (answer = resolve));
  await page.route('**/api/remove_agent*', async (route) => {
    await held;
    await route.abort('connectionrefused');
  });
  await row.getByRole('button', { name: 'Remove' }).click();
  await row.getByRole('button', { name: 'Confirm remove' }).click();
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await nav(page, 'Workflows').click();
  await expect(nav(page, 'Workflows')).toHaveAttribute('aria-current', 'page');
  const failed = page.waitForEvent('requestfailed', (r) => r.url().includes('/api/remove_agent'));
  answer();
  await failed;
  await nav(page, 'Orchestrator').click();
  await expect(row.getByRole('button', { name: 'Remove' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  await page.unroute('**/api/remove_agent*');
  errors.splice(0, errors.length, ...errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED')));

  // Asking again clears it; confirmed, the agent goes.
  await row.getByRole('button', { name: 'Remove' }).click();
  await expect(row.locator('.field-error')).toHaveCount(0);
  await row.getByRole('button', { name: 'Confirm remove' }).click();
  await expect(row).toHaveCount(0);
  expect((await page.request.get('/api/v1/agents/nobody')).status()).toBe(404);

  await page.reload();
  await expect(page.locator('tr[data-agent-id="nobody"]')).toHaveCount(0);
  await expect(page.locator('tr[data-agent-id="test-agent"]')).toBeVisible();
});

/** Keeps the live stream from connecting, so the page falls back to polling. */
async function withoutStream(p: Page) {
  await p.route('**/api/v1/events*', (route) => route.abort('connectionrefused'));
}

test('a failed refresh says so instead of showing stale state silently, then recovers', async () => {
  await withoutStream(page);
  await open(page, '/orchestrator');
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'reconnecting');
  const row = page.locator('tr[data-agent-id="test-agent"]');
  await expect(row).toBeVisible();
  await page.route('**/api/agent_overview*', (route) => route.abort('connectionrefused'));
  const banner = page.getByTestId('refresh-error');
  await expect(banner).toContainText('Showing the last known state', { timeout: 8_000 });
  await expect(row).toBeVisible();
  await page.unroute('**/api/agent_overview*');
  await expect(banner).toHaveCount(0, { timeout: 8_000 });
  // The aborted fetches were provoked by this test.
  errors.splice(0, errors.length, ...errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED')));
});

test('a refresh that never gets an answer is reported, and refreshes go on', async () => {
  await withoutStream(page);
  await open(page, '/orchestrator');
  await expect(page.locator('tr[data-agent-id="test-agent"]')).toBeVisible();
  // The server accepts the request and never answers (a frozen server, a black hole).
  await page.route('**/api/agent_overview*', () => new Promise(() => {}));
  const banner = page.getByTestId('refresh-error');
  // Reported at the second refresh tick after the hung request: at most ~15 s.
  await expect(banner).toContainText('no answer from the dashboard server', { timeout: 25_000 });
  await page.unroute('**/api/agent_overview*');
  await expect(banner).toHaveCount(0, { timeout: 12_000 });
  errors.splice(0, errors.length, ...errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED')));
});

test('navigation between Orchestrator and Workflows marks the current page', async () => {
  await open(page, '/orchestrator');
  await nav(page, 'Workflows').click();
  await expect(page).toHaveURL(/\/workflows$/);
  await expect(page.getByRole('heading', { name: 'Workflows' })).toBeVisible();
  await expect(page.getByTestId('runs-empty')).toContainText('No runs yet');
  await expect(nav(page, 'Workflows')).toHaveAttribute('aria-current', 'page');

  await nav(page, 'Orchestrator').click();
  await expect(page).toHaveURL(/\/orchestrator$/);
  await expect(nav(page, 'Orchestrator')).toHaveAttribute('aria-current', 'page');
  await expect(page.locator('tr[data-agent-id="test-agent"]')).toBeVisible();
});
