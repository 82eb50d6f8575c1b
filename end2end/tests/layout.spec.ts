// Every page at a desktop (1,400 px), a small laptop (1,024 px) and a phone (390 px) width: nothing wider than the
// screen or than its card, the agent list keeps its width as states change, URLs break
// between their parts, and on a phone every cell that is not self-evident is labelled.
import { test, expect, Page, Browser } from '@playwright/test';
import { open, openRegister, watchErrors, startTestAgent, stop, refusedUrl, TestAgent } from './support';

test.describe.configure({ mode: 'serial' });

let agent: TestAgent;
let runId = '';
const AGENTS = ['layout-writer', 'layout-elsewhere-with-a-long-identifier'];
// A self-registered agent that said goodbye: the widest state badge, "○ deregistered".
const GONE = 'layout-gone';

test.beforeAll(async ({ request }) => {
  agent = await startTestAgent();
  const healthy = await request.post('/api/v1/agents', {
    data: { agent_id: AGENTS[0], agent_name: 'Layout Writer', agent_url: agent.url, metadata: 'writes the articles this test reads' },
  });
  expect(healthy.status()).toBe(201);
  const down = await request.post('/api/v1/agents', {
    data: {
      agent_id: AGENTS[1],
      agent_name: 'An agent with a name long enough to wrap in its column',
      agent_url: `${await refusedUrl()}/agents/research/summaries/v2`,
      force: true,
    },
  });
  expect(down.status()).toBe(201);
  const gone = await request.post('/api/v1/agents/register', {
    data: { agent_id: GONE, agent_name: 'Gone', agent_url: await refusedUrl(), ttl_seconds: 60 },
  });
  expect(gone.status()).toBe(201);
  expect((await request.delete(`/api/v1/agents/${GONE}`)).status()).toBe(200);
  const run = await request.post(`/api/v1/agents/${AGENTS[0]}/runs`, { data: { inputs: { topic: 'layout' } } });
  runId = (await run.json()).run_id;
  await expect.poll(async () => (await (await request.get(`/api/v1/runs/${runId}`)).json()).status).toBe('succeeded');
});

test.afterAll(async ({ request }) => {
  await stop(agent.child);
  for (const id of AGENTS) await request.delete(`/api/v1/agents/${id}`);
  await request.delete(`/api/v1/agents/${GONE}?purge=true`);
  await request.delete(`/api/v1/runs/${runId}`);
});

/** Fails when the page, or any card on it, is wider than it may be. */
async function assertNoOverflow(page: Page, what: string) {
  const problems = await page.evaluate(() => {
    const found: string[] = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth) found.push(`page ${doc.scrollWidth} px wide in ${window.innerWidth}`);
    document.querySelectorAll<HTMLElement>('.card').forEach((card) => {
      if (card.scrollWidth > card.clientWidth + 1) {
        const title = card.querySelector('h1, h2')?.textContent ?? card.className;
        found.push(`card "${title}" holds ${card.scrollWidth} px in ${card.clientWidth}`);
      }
    });
    // Nothing runs out of its table cell (a badge under the next column's text).
    document.querySelectorAll<HTMLElement>('table td').forEach((cell) => {
      if (cell.scrollWidth > cell.clientWidth + 1) {
        found.push(`cell "${cell.textContent?.trim().slice(0, 40)}" holds ${cell.scrollWidth} px in ${cell.clientWidth}`);
      }
    });
    return found;
  });
  expect(problems, what).toEqual([]);
}

async function pageAt(browser: Browser, width: number) {
  const page = await browser.newPage({ viewport: { width, height: width > 600 ? 900 : 844 } });
  return { page, errors: watchErrors(page) };
}

for (const width of [1400, 1024, 390]) {
  test(`every page fits ${width} px`, async ({ browser }) => {
    const { page, errors } = await pageAt(browser, width);
    for (const path of ['/orchestrator', `/orchestrator?execute=${AGENTS[0]}`, '/workflows', `/workflows/${runId}`, `/agents/${AGENTS[0]}`]) {
      await open(page, path);
      if (path.includes('execute=')) await expect(page.getByTestId('run-form')).toBeVisible();
      await assertNoOverflow(page, `${path} at ${width} px`);
      await page.screenshot({ path: `test-results/40-layout-${width}${path.replace(/[/?=]/g, '_')}.png`, fullPage: true });
    }
    // The forms opened on request, laid out in columns where there is room.
    await open(page, '/orchestrator');
    await openRegister(page);
    await page.getByTestId('find-agents').getByRole('button', { name: 'Look for agents…' }).click();
    await expect(page.locator('#find-where')).toBeFocused();
    await assertNoOverflow(page, `/orchestrator with its forms open at ${width} px`);
    await page.screenshot({ path: `test-results/40-layout-${width}_orchestrator_forms.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
}

test('URLs break between their parts, never inside a host and port', async ({ browser }) => {
  const { page, errors } = await pageAt(browser, 1400);
  await open(page, '/orchestrator');
  const url = page.locator(`tr[data-agent-id="${AGENTS[1]}"] td.url .url-text`);
  // The parts are text nodes with a <wbr> between them (one string of HTML, escaped).
  const parts = await url.evaluate((code) =>
    [...code.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent),
  );
  expect(parts[0]).toBe('http://');
  expect(parts[1]).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(parts.slice(2)).toEqual(['/agents', '/research', '/summaries', '/v2']);
  expect(await url.evaluate((code) => code.querySelectorAll('wbr').length)).toBe(parts.length - 1);
  // Each part is on one line (its box is one line high).
  const heights = await url.evaluate((code) =>
    [...code.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => {
        const range = document.createRange();
        range.selectNodeContents(n);
        return range.getClientRects().length;
      }),
  );
  expect(heights.every((lines) => lines === 1), `parts on one line each: ${heights}`).toBe(true);
  expect(errors).toEqual([]);
  await page.close();
});

test('the agent list keeps its width when an agent changes state', async ({ browser }) => {
  const { page, errors } = await pageAt(browser, 1400);
  await open(page, '/orchestrator');
  const card = page.locator('section.card', { has: page.getByTestId('agent-table') });
  const row = page.locator(`tr[data-agent-id="${AGENTS[0]}"]`);
  await expect(row).toHaveAttribute('data-health', 'healthy');
  const before = (await card.boundingBox())!.width;
  await stop(agent.child);
  await expect(row).toHaveAttribute('data-health', /failing|unhealthy/, { timeout: 10_000 });
  await expect(row.getByTestId('health-reason')).toContainText('connection refused');
  const after = (await card.boundingBox())!.width;
  expect(Math.abs(after - before), `card ${before} → ${after} px`).toBeLessThanOrEqual(1);
  await assertNoOverflow(page, 'after the change');
  expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
  await page.close();
});

test('on a phone every cell that is not self-evident says what it is', async ({ browser }) => {
  const { page, errors } = await pageAt(browser, 390);
  await open(page, '/orchestrator');
  const label = (selector: string) =>
    page.locator(selector).first().evaluate((el) => getComputedStyle(el, '::before').content.replace(/"/g, ''));
  expect(await label(`tr[data-agent-id="${AGENTS[0]}"] td.checked`)).toBe('Last checked');
  expect(await label(`tr[data-agent-id="${AGENTS[0]}"] td.uptime`)).toBe('Last 24 h');

  await open(page, '/workflows');
  const row = page.locator(`tr[data-run-id="${runId}"]`);
  expect(await label(`tr[data-run-id="${runId}"] td[data-label="Status"]`)).toBe('Status');
  // The status is on the screen, not cut off to the right.
  const status = (await row.locator('td[data-label="Status"] .badge, td[data-label="Status"] span').first().boundingBox())!;
  expect(status.x + status.width).toBeLessThanOrEqual(390);
  expect(errors).toEqual([]);
  await page.close();
});
