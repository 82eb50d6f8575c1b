// The run form helps while it is filled in: errors follow the fixes, the count matches
// the fields marked, Run goes to the first field in error, the fields come in the
// schema's order, raw JSON never shows a secret, the panel takes focus and gives it back
// on Escape, and nested levels fit a phone's width.
import { test, expect, Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, watchErrors, startTestAgent, stop, TestAgent } from './support';

test.describe.configure({ mode: 'serial' });

const FIXTURE = path.resolve(__dirname, '../fixtures/json-schema.json');
let agent: TestAgent;
let errors: string[] = [];
let page: Page;

test.beforeAll(async () => {
  agent = await startTestAgent(['--schema', FIXTURE]);
});

test.afterAll(async ({ request }) => {
  await stop(agent.child);
  // The next file starts from an empty dashboard.
  await request.delete('/api/v1/agents/helper');
});

test.beforeEach(async ({ page: p }) => {
  page = p;
  errors = watchErrors(page);
  const r = await page.request.post('/api/v1/agents', { data: { agent_id: 'helper', agent_name: 'Helper', agent_url: agent.url } });
  expect([200, 201]).toContain(r.status());
});

test.afterEach(async () => {
  expect(errors, 'no console errors or uncaught exceptions').toEqual([]);
});

const form = () => page.getByTestId('run-form');
const at = (p: string) => form().locator(`[data-path="${p}"]`);
const marked = () => form().locator('.field-error');

test('the fields come in the order of the schema', async () => {
  await open(page, '/orchestrator?execute=helper');
  const order = Object.keys(JSON.parse(fs.readFileSync(FIXTURE, 'utf8')).properties).map((k) => `/${k}`);
  const shown = await form().evaluate((f) =>
    Array.from(f.querySelectorAll('[data-path]')).map((e) => (e as HTMLElement).dataset.path!).filter((p) => p.split('/').length === 2),
  );
  expect(shown).toEqual(order);
});

test('errors follow the fixes, the count matches the fields marked, and Run goes to the first', async () => {
  await open(page, '/orchestrator?execute=helper');
  // Opening the panel puts focus on its first field.
  await expect(form().getByLabel(/^Slug/)).toBeFocused();

  // A field left with a mistake says so at once; nothing else is marked yet.
  await form().getByLabel(/^Slug/).fill('Bad Slug');
  await page.keyboard.press('Tab');
  await expect(at('/slug').locator('.field-error')).toHaveText('Must be: lowercase letters, digits and - only');
  await expect(marked()).toHaveCount(1);
  // Fixed: the error goes as it is typed, without pressing Run. Copies, left empty on
  // the way back (it had the focus), is now marked as required.
  await form().getByLabel(/^Slug/).fill('good-slug');
  await expect(at('/slug').locator('.field-error')).toHaveCount(0);
  await expect(at('/copies').locator('.field-error')).toHaveText('This field is required');
  await form().getByLabel(/^Copies/).fill('2');
  await expect(marked()).toHaveCount(0);

  // Run with required fields empty: the count is of fields, and focus goes to the first.
  await form().getByLabel(/^Note/).fill('a note that is far too long, with two problems? no: one');
  await form().getByRole('button', { name: 'Run' }).click();
  const count = form().getByTestId('run-form-errors');
  await expect(count).toBeVisible();
  await expect(at('/channel').locator('.field-error')).toHaveText('This field is required');
  const n = await marked().count();
  expect(n).toBeGreaterThan(1);
  await expect(count).toHaveText(`${n} fields need attention.`);
  const focusedIsFirst = await form().evaluate((f) => {
    const first = f.querySelector('[aria-invalid="true"]');
    return first !== null && first === document.activeElement;
  });
  expect(focusedIsFirst, 'focus is on the first field in error').toBe(true);

  // Each fix takes its field off the list at once.
  await form().getByLabel(/^Channel/).selectOption({ label: 'email' });
  await expect(at('/channel').locator('.field-error')).toHaveCount(0);
  await expect(count).toHaveText(`${n - 1} field${n - 1 === 1 ? '' : 's'} need${n - 1 === 1 ? 's' : ''} attention.`);
  await page.screenshot({ path: 'test-results/30-form-errors-follow.png', fullPage: true });
});

test('raw JSON shows a secret as *** and keeps what was typed', async () => {
  await open(page, '/orchestrator?execute=helper');
  await form().getByLabel(/^API key/).fill('sk-typed-secret-77');
  await form().getByTestId('raw-toggle').click();
  const raw = form().getByTestId('raw-inputs');
  await expect(raw).toHaveValue(/"api_key": "\*\*\*"/);
  expect(await raw.inputValue()).not.toContain('sk-typed-secret-77');
  await form().getByRole('button', { name: 'Form' }).click();
  await expect(form().getByLabel(/^API key/)).toHaveValue('sk-typed-secret-77');
});

test('Escape closes the panel and gives focus back to the row it came from', async () => {
  await open(page, '/orchestrator');
  await page.getByRole('link', { name: 'Execute helper' }).click();
  await expect(form().getByLabel(/^Slug/)).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('execute-panel')).toHaveCount(0);
  await expect(page).not.toHaveURL(/execute=/);
  await expect(page.getByRole('link', { name: 'Execute helper' })).toBeFocused();
});

test('four levels of a recursive list fit a phone-width screen', async ({ browser }) => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  const phoneErrors = watchErrors(phone);
  await open(phone, '/orchestrator?execute=helper');
  let pointer = '/outline';
  let level = phone.getByTestId('run-form').locator(`[data-path="${pointer}"]`);
  for (let depth = 0; depth < 4; depth++) {
    await level.locator(`[data-path="${pointer}/subsections"]`).getByRole('button', { name: 'Add item' }).last().click();
    pointer = `${pointer}/subsections/0`;
    level = phone.getByTestId('run-form').locator(`[data-path="${pointer}"]`);
    const lazy = level.getByRole('button', { name: /^Add (?!item)/ });
    if (await lazy.count()) await lazy.first().click();
    await expect(level.locator(`[data-path="${pointer}/heading"]`)).toBeVisible();
  }
  const widths = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  await phone.screenshot({ path: 'test-results/31-recursive-phone.png', fullPage: true });
  expect(widths[0], 'no horizontal scrolling').toBeLessThanOrEqual(widths[1]);
  expect(phoneErrors).toEqual([]);
  await phone.close();
});
