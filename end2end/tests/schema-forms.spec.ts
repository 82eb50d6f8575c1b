// Forms for JSON Schema agents: every field kind filled and sent, per-field errors, the
// raw JSON view both ways, secrets kept out of the history and the browser, the last
// inputs offered again, and the schema-drift notice on Edit and re-run.
import type { Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, expect, open, watchErrors, startTestAgent, stop, TestAgent } from './support';

test.describe.configure({ mode: 'serial' });

const SECRET = 'sk-test-secret-4242';
let agent: TestAgent;
let schemaFile: string;
let errors: string[] = [];
let page: Page;
let firstRun = '';

test.beforeAll(async () => {
  // The agent publishes a copy of the fixture, which the drift test then changes.
  schemaFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ca-forms-')), 'schema.json');
  fs.copyFileSync(path.resolve(__dirname, '../fixtures/json-schema.json'), schemaFile);
  agent = await startTestAgent(['--schema', schemaFile]);
});

test.afterAll(async () => {
  await stop(agent.child);
});

test.beforeEach(async ({ page: p }) => {
  page = p;
  errors = watchErrors(page);
});

test.afterEach(async () => {
  expect(errors, 'no console errors or uncaught exceptions').toEqual([]);
});

const at = (p: string) => page.getByTestId('run-form').locator(`[data-path="${p}"]`);

async function openForm() {
  await open(page, '/orchestrator?execute=publisher');
  await expect(page.getByTestId('run-form')).toBeVisible();
}

test('every JSON Schema field kind fills in and arrives at the agent; the secret is kept nowhere', async () => {
  const r = await page.request.post('/api/v1/agents', { data: { agent_id: 'publisher', agent_name: 'Publisher', agent_url: agent.url } });
  expect([200, 201]).toContain(r.status());
  await openForm();
  const form = page.getByTestId('run-form');
  await expect(form.getByText('Lowercase letters, digits and dashes')).toBeVisible();
  await expect(at('/slug')).toContainText('at least 3 characters, lowercase letters, digits and - only');
  await expect(at('/copies')).toContainText('1 to 10');

  await form.getByLabel(/^Slug/).fill('my-post');
  await form.getByLabel(/^Copies/).fill('2');
  await form.getByLabel(/^Ratio/).fill('0.5');
  await form.getByLabel(/^Public/).check();
  await form.getByLabel(/^Channel/).selectOption({ label: 'email' });
  await expect(form.getByLabel(/^Release/)).toHaveAttribute('type', 'date');
  await form.getByLabel(/^Release/).fill('2026-12-01');
  await expect(form.getByLabel(/^Contact/)).toHaveAttribute('type', 'email');
  await form.getByLabel(/^Contact/).fill('ada@example.org');
  await expect(form.getByLabel(/^API key/)).toHaveAttribute('type', 'password');
  await form.getByLabel(/^API key/).fill(SECRET);
  await form.getByLabel(/^Note/).fill('first edition');
  await at('/authors').getByRole('button', { name: 'Add item' }).click();
  await at('/authors/0/name').getByRole('textbox').fill('Ada');
  await at('/authors/0/orcid').getByRole('textbox').fill('0000-0002-1825-0097');
  await at('/owner/name').getByRole('textbox').fill('Grace');
  await at('/labels').getByRole('button', { name: 'Add entry' }).click();
  await at('/labels').getByPlaceholder('key').fill('priority');
  await at('/labels/priority').getByRole('textbox').fill('5');
  await at('/delivery').getByLabel('Which kind').selectOption({ label: 'Courier' });
  await at('/delivery/address').getByRole('textbox').fill('1 Main St');
  await at('/outline/heading').getByRole('textbox').fill('Intro');
  await at('/outline/subsections').getByRole('button', { name: 'Add item' }).click();
  await at('/outline/subsections/0/heading').getByRole('textbox').fill('Background');
  await page.screenshot({ path: 'test-results/20-json-schema-form.png', fullPage: true });

  await form.getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);
  firstRun = page.url().split('/').pop()!;
  const run = page.getByTestId('run-page');
  await expect(run).toHaveAttribute('data-status', 'succeeded', { timeout: 15_000 });
  const sent = {
    slug: 'my-post', copies: 2, ratio: 0.5, public: true, channel: 'email', release: '2026-12-01',
    contact: 'ada@example.org', note: 'first edition', authors: [{ name: 'Ada', orcid: '0000-0002-1825-0097' }],
    owner: { name: 'Grace' }, labels: { priority: 5 }, delivery: { kind: 'courier', address: '1 Main St' },
    outline: { heading: 'Intro', subsections: [{ heading: 'Background' }] },
  };
  // The agent echoes what it received: everything arrived, typed; the secret did too,
  // and is masked in what was stored.
  const stored = await (await page.request.get(`/api/v1/runs/${firstRun}`)).json();
  expect(stored.outputs.echo).toEqual({ ...sent, api_key: '***' });
  expect(stored.inputs).toEqual({ ...sent, api_key: '***' });
  expect(stored.withheld).toEqual(['/api_key']);
  await expect(page.getByTestId('run-withheld')).toContainText('/api_key');
  expect(await page.content()).not.toContain(SECRET);
  expect(JSON.stringify(stored)).not.toContain(SECRET);
  const list = await (await page.request.get('/api/v1/runs')).text();
  expect(list).not.toContain(SECRET);
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  expect(storage).toContain('my-post');
  expect(storage).not.toContain(SECRET);
  await page.screenshot({ path: 'test-results/21-json-schema-run.png', fullPage: true });

  // This browser offers those inputs again (each test has its own storage, so here).
  await openForm();
  const again = page.getByTestId('run-form');
  await again.getByTestId('use-last-inputs').click();
  await expect(again.getByLabel(/^Slug/)).toHaveValue('my-post');
  await expect(at('/owner/name').getByRole('textbox')).toHaveValue('Grace');
  await expect(at('/outline/subsections/0/heading').getByRole('textbox')).toHaveValue('Background');
  await expect(again.getByLabel(/^API key/)).toHaveValue('');
});

test('invalid values show their errors on their fields, from the shared validator', async () => {
  await openForm();
  const form = page.getByTestId('run-form');
  await form.getByLabel(/^Slug/).fill('Bad Slug');
  await form.getByLabel(/^Copies/).fill('11');
  await form.getByLabel(/^Ratio/).fill('0');
  await form.getByLabel(/^Contact/).fill('not-an-email');
  await form.getByLabel(/^Note/).fill('a note that is far too long');
  await at('/authors').getByRole('button', { name: 'Add item' }).click();
  await at('/authors/0/orcid').getByRole('textbox').fill('1234');
  await form.getByRole('button', { name: 'Run' }).click();
  await expect(at('/slug').locator('.field-error')).toHaveText('Must be: lowercase letters, digits and - only');
  await expect(at('/copies').locator('.field-error')).toHaveText('Must be at most 10');
  await expect(at('/ratio').locator('.field-error')).toHaveText('Must be greater than 0');
  await expect(at('/contact').locator('.field-error')).toHaveText('Must be an email address');
  await expect(at('/note').locator('.field-error')).toHaveText('Must be at most 20 characters');
  await expect(at('/authors/0/name').locator('.field-error')).toHaveText('This field is required');
  await expect(at('/authors/0/orcid').locator('.field-error')).toContainText('Must match the pattern');
  await expect(at('/api_key').locator('.field-error')).toHaveText('This field is required');
  await expect(at('/channel').locator('.field-error')).toHaveText('This field is required');
  await expect(page).toHaveURL(/execute=publisher/);
  await page.screenshot({ path: 'test-results/22-json-schema-errors.png', fullPage: true });
});

test('raw JSON edits the same inputs both ways, with errors by line', async () => {
  await openForm();
  const form = page.getByTestId('run-form');
  await form.getByLabel(/^Slug/).fill('raw-test');
  await form.getByLabel(/^Copies/).fill('4');
  await form.getByTestId('raw-toggle').click();
  const raw = form.getByTestId('raw-inputs');
  const text = JSON.parse(await raw.inputValue());
  expect(text.slug).toBe('raw-test');
  expect(text.copies).toBe(4);

  // Edited as text, back to the form: the fields show it.
  await raw.fill(JSON.stringify({ ...text, slug: 'from-raw', channel: 'print' }, null, 2));
  await form.getByRole('button', { name: 'Form' }).click();
  await expect(form.getByLabel(/^Slug/)).toHaveValue('from-raw');
  await expect(form.getByLabel(/^Channel/)).toHaveValue('2');

  // Broken JSON keeps the text view and says where.
  await form.getByTestId('raw-toggle').click();
  await raw.fill('{\n  "slug": "x",\n}');
  await form.getByRole('button', { name: 'Form' }).click();
  await expect(form.getByTestId('raw-problem')).toContainText('Line 3, column 1');
  // Valid JSON that does not fit: each error with its line.
  await raw.fill('{\n  "slug": "No Caps",\n  "copies": 0\n}');
  await form.getByRole('button', { name: 'Run' }).click();
  const listed = form.getByTestId('raw-errors');
  await expect(listed).toContainText('Line 2: /slug: Must be: lowercase letters, digits and - only');
  await expect(listed).toContainText('Line 3: /copies: Must be at least 1');
  await expect(listed).toContainText('/api_key: This field is required');
  await page.screenshot({ path: 'test-results/23-raw-json.png', fullPage: true });
});

test('Re-run of a run with a secret asks for it again', async () => {
  await open(page, `/workflows/${firstRun}`);
  await page.getByRole('button', { name: 'Re-run' }).click();
  await expect(page).toHaveURL(new RegExp(`execute=publisher&from=${firstRun}`));
  const form = page.getByTestId('run-form');
  await expect(form.getByTestId('secrets-again')).toContainText('/api_key');
  await expect(form.getByLabel(/^Slug/)).toHaveValue('my-post');
  await expect(form.getByLabel(/^API key/)).toHaveValue('');
  await expect(page.getByTestId('schema-drift')).toHaveCount(0);
});

test('after the agent changes its schema, Edit and re-run shows what changed', async () => {
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
  delete schema.properties.homepage;
  schema.properties.summary = { type: 'string' };
  schema.required.push('summary');
  schema.properties.copies.maximum = 1;
  fs.writeFileSync(schemaFile, JSON.stringify(schema));
  // Once the dashboard has seen the change (it reuses a schema for --schema-reuse).
  await expect
    .poll(async () => {
      const view = await (await page.request.get('/api/v1/agents/publisher/schema')).json();
      return view.schema.fields.some((f: { name: string }) => f.name === 'summary');
    })
    .toBe(true);
  await open(page, `/orchestrator?execute=publisher&from=${firstRun}`);
  const drift = page.getByTestId('schema-drift');
  await expect(drift).toContainText("The agent's input schema changed since this run");
  await expect(drift.getByTestId('drift-added')).toContainText('/summary');
  await expect(drift.getByTestId('drift-removed')).toContainText('/homepage');
  await expect(drift.getByTestId('drift-changed')).toContainText('/copies');
  await expect(drift.getByTestId('drift-changed')).toContainText('1 to 10 → 1 to 1');
  const misfits = drift.getByTestId('drift-misfits');
  await expect(misfits).toContainText('/copies: Must be at most 1');
  await expect(misfits).toContainText('/summary: This field is required');
  await expect(misfits).not.toContainText('/api_key');
  await page.screenshot({ path: 'test-results/24-schema-drift.png', fullPage: true });

  // Leave the dashboard as this file found it (other files count agents and runs).
  const runs = await (await page.request.get('/api/v1/runs?agent_id=publisher&limit=200')).json();
  for (const r of runs) expect((await page.request.delete(`/api/v1/runs/${r.run_id}`)).status()).toBe(200);
  expect((await page.request.delete('/api/v1/agents/publisher')).status()).toBe(200);
});
