// Hostile agents in the browser: every string an agent controls (its name, metadata,
// schema labels, outputs, health reasons) is shown as text; nothing it sends runs or
// becomes a javascript: link. Pages carry a nonce Content-Security-Policy, hydrate under
// it, and report no violation (watchErrors fails on Chromium's "Refused to …" errors).
import { test, expect, Page } from '@playwright/test';
import * as http from 'node:http';
import { Dashboard, open, startDashboard, stop, watchErrors } from './support';

const IMG = '<img src=x onerror="window.__pwned=(window.__pwned||0)+1">';
const SCRIPT = '<script>window.__pwned=(window.__pwned||0)+1</script>';
const JS_URL = 'javascript:window.__pwned=(window.__pwned||0)+1';

/** An agent on loopback whose every answer carries markup and javascript: URLs. */
async function hostileAgent(healthStatus: string): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/health') return json({ status: healthStatus });
    if (req.url === '/schema') {
      return json({
        workflow: `${IMG} flow`,
        inputs: {
          topic: { type: 'str', required: true, description: `${IMG} ${SCRIPT}` },
          link: { type: 'str', required: false, description: JS_URL, default: JS_URL },
        },
        outputs: ['result'],
      });
    }
    if (req.url === '/run') {
      return json({ status: 'success', outputs: { result: `${IMG}${SCRIPT}`, href: JS_URL } });
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function expectInert(page: Page) {
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await expect(page.locator('a[href^="javascript:" i]')).toHaveCount(0);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
}

let dashboard: Dashboard;
const agents: http.Server[] = [];

test.beforeAll(async () => {
  dashboard = await startDashboard(['--allow-agent-network', '127.0.0.0/8']);
});

test.afterAll(async () => {
  if (dashboard) await stop(dashboard.child);
  for (const a of agents) a.close();
});

test('pages carry a nonce CSP and hydrate under it; the filters work without inline handlers', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto(`${dashboard.url}/workflows`);
  const csp = response!.headers()['content-security-policy'];
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=_-]+' 'wasm-unsafe-eval'/);
  for (const directive of ["connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) {
    expect(csp).toContain(directive);
  }
  expect(response!.headers()['x-content-type-options']).toBe('nosniff');
  expect(response!.headers()['referrer-policy']).toBe('same-origin');
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  const nonce = csp.match(/'nonce-([^']+)'/)![1];
  // The nonce changes with every response.
  const again = (await page.request.get(`${dashboard.url}/workflows`)).headers()['content-security-policy'];
  expect(again).not.toContain(nonce);
  // No inline handler is left in the page.
  expect(await page.locator('[onchange], [onclick], [onsubmit], [onload]').count()).toBe(0);
  await page.getByLabel('Status').selectOption('failed');
  await expect(page).toHaveURL(/status=failed/);
  expect(errors).toEqual([]);
});

test('the API docs page has its own policy and works under it', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto(`${dashboard.url}/api/docs/`);
  const csp = response!.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self';");
  expect(csp).toContain("frame-ancestors 'none'");
  await expect(page.getByText('configurable-agents').first()).toBeVisible();
  await expect(page.locator('.opblock-summary-path', { hasText: '/api/v1/agents' }).first()).toBeVisible();
  expect(errors).toEqual([]);
});

test('markup and javascript: URLs from an agent are shown as text and never run', async ({ page }) => {
  const errors = watchErrors(page);
  const good = await hostileAgent('healthy');
  const sick = await hostileAgent(`${IMG}${SCRIPT}`);
  agents.push(good.server, sick.server);
  const api = page.request;
  const registered = await api.post(`${dashboard.url}/api/v1/agents`, {
    data: {
      agent_id: 'hostile', agent_name: `${IMG} ${SCRIPT}`, agent_url: good.url,
      metadata: { description: `${IMG}`, homepage: JS_URL, docs_url: JS_URL },
    },
  });
  expect(registered.status()).toBe(201);
  const forced = await api.post(`${dashboard.url}/api/v1/agents`, {
    data: { agent_id: 'sick', agent_name: 'Sick', agent_url: sick.url, force: true },
  });
  expect(forced.status()).toBe(201);
  const run = await api.post(`${dashboard.url}/api/v1/agents/hostile/runs`, { data: { inputs: { topic: IMG } } });
  expect(run.status()).toBe(202);
  const { run_id } = await run.json();
  await expect.poll(async () => (await (await api.get(`${dashboard.url}/api/v1/runs/${run_id}`)).json()).status)
    .toBe('succeeded');

  await open(page, `${dashboard.url}/orchestrator`);
  await expect(page.getByText(`${IMG} ${SCRIPT}`).first()).toBeVisible();
  await expectInert(page);

  await open(page, `${dashboard.url}/agents/sick`);
  await expect(page.getByText(/status "<img src=x onerror=/).first()).toBeVisible();
  await expectInert(page);

  await open(page, `${dashboard.url}/agents/hostile`);
  await expect(page.getByRole('heading', { name: `${IMG} ${SCRIPT}` })).toBeVisible();
  await expectInert(page);

  await open(page, `${dashboard.url}/workflows/${run_id}`);
  await expect(page.getByText(`${IMG}${SCRIPT}`).first()).toBeVisible();
  await expectInert(page);
  await page.screenshot({ path: 'test-results/hostile-run.png', fullPage: true });

  // The form built from the hostile schema: labels and defaults are text.
  await open(page, `${dashboard.url}/orchestrator`);
  await page.locator('tr[data-agent-id="hostile"]').getByRole('link', { name: 'Execute hostile' }).click();
  await expect(page.getByText(`${IMG} ${SCRIPT}`).first()).toBeVisible();
  await expectInert(page);
  await page.screenshot({ path: 'test-results/hostile-form.png', fullPage: true });
  expect(errors).toEqual([]);
});
