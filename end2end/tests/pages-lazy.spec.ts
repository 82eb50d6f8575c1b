// Each page is a part of the bundle of its own (app/src/pages/mod.rs): a first load
// fetches its own page's part (named in a Link header, so that it comes beside the main part)
// and no other page's; going to another page in the browser fetches that page's part
// then. A part that does not arrive is said, and nothing is lost: going to a page, the
// page says so and Try again loads it in full; on the first load, the server's page stays
// on screen, said to be inert, and links load their pages in full.
import { test, expect } from '@playwright/test';
import { open, watchErrors } from './support';

const PAGE_PART = /\/pkg\/split_page_([a-z_]+)\.wasm$/;

function pageParts(page: import('@playwright/test').Page): string[] {
  const parts: string[] = [];
  page.on('request', (req) => {
    const m = PAGE_PART.exec(new URL(req.url()).pathname);
    if (m) parts.push(m[1]);
  });
  return parts;
}

/** The failed fetches a test provokes (Chromium's log line, the part loader's). */
const provoked = /ERR_INTERNET_DISCONNECTED|Failed to fetch|Failed to load resource: net::ERR_FAILED/;

test('a first load fetches its own page part, named in the response; another page fetches its part when the router goes there', async ({ page }) => {
  const errors = watchErrors(page);
  const parts = pageParts(page);
  const answer = await page.request.get('/orchestrator');
  expect(answer.headers()['link'], 'the page names its part, for the browser to fetch at once').toMatch(
    /<\/pkg\/split_page_orchestrator\.wasm>; rel=preload; as=fetch; crossorigin/,
  );

  await open(page, '/orchestrator');
  await expect(page.getByRole('heading', { name: 'Registered agents' })).toBeVisible();
  // Fetched once: the preload and the loader's own fetch are one request.
  expect(parts).toEqual(['orchestrator']);

  // The router goes to Workflows in the browser (no full load) and fetches its part then.
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workflows' }).click();
  await expect(page).toHaveURL(/\/workflows$/);
  await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toBeVisible();
  expect(parts).toEqual(['orchestrator', 'workflows']);
  // Back again: the part is here already.
  await page.goBack();
  await expect(page.getByRole('heading', { name: 'Registered agents' })).toBeVisible();
  expect(parts).toEqual(['orchestrator', 'workflows']);
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  expect(errors).toEqual([]);
});

test('a page whose part does not arrive says so, and Try again loads it', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, '/orchestrator');
  await page.route('**/pkg/split_page_tokens.wasm', (route) => route.abort('internetdisconnected'));

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
  const unavailable = page.getByTestId('page-unavailable');
  await expect(unavailable.getByRole('alert')).toContainText(
    'This page could not be opened: this part of the page could not be fetched',
  );
  // The rest of the app lives on: the header still routes.
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();

  await page.unroute('**/pkg/split_page_tokens.wasm');
  await unavailable.getByRole('link', { name: 'Try again' }).click();
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByRole('heading', { name: 'Tokens', level: 1 })).toBeVisible();
  await expect(unavailable).toHaveCount(0);
  expect(errors.filter((e) => !provoked.test(e))).toEqual([]);
});

test("a first load whose page part does not arrive keeps the server's page, says it is inert, and links load in full", async ({ page }) => {
  const errors = watchErrors(page);
  await page.route('**/pkg/split_page_workflows.wasm', (route) => route.abort('internetdisconnected'));
  await page.goto('/workflows');
  const inert = page.getByTestId('page-inert');
  await expect(inert).toContainText('This page shows what the dashboard sent but will not update or respond');
  await expect(inert).toContainText('this part of the page could not be fetched');
  // What the server sent is still there, once.
  await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toHaveCount(1);
  await expect(page.getByTestId('run-filters')).toBeVisible();
  // Not hydrated, and said so: nothing else was put in its place.
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(0);

  // A link is a full load: the next page is whole and interactive.
  await page.unroute('**/pkg/split_page_workflows.wasm');
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Orchestrator' }).click();
  await expect(page).toHaveURL(/\/orchestrator$/);
  await expect(page.getByRole('heading', { name: 'Registered agents' })).toBeVisible();
  await expect(page.getByTestId('page-inert')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBeUndefined();
  expect(errors.filter((e) => !provoked.test(e))).toEqual([]);
});
