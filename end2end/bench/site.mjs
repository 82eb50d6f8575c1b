// The browser half of `./dev bench site` (server/benches/site/main.rs starts the dashboard and
// runs this): for each page, a fresh Chromium context loads it as a new visitor would and
// reports what crossed the wire (as served, compressed: CDP's encodedDataLength), by kind,
// until the page is hydrated and the network idle; the time to hydration; and the long
// tasks (over 50 ms) the main thread ran. Then, on the first page, what each later step
// (another page by its link, the execute panel) fetches beyond what is already there.
//
//   node end2end/bench/site.mjs BASE_URL PATH...        prints one JSON object per line
import { chromium } from '@playwright/test';

const [base, ...paths] = process.argv.slice(2);
if (!base || paths.length === 0) {
  console.error('usage: node site.mjs BASE_URL PATH...');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

// Runs in the page before anything else: when <body> is marked hydrated, and long tasks.
const probe = () => {
  window.__bench = { hydratedAt: null, longTasks: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.longTasks.push(Math.round(e.duration));
  }).observe({ type: 'longtask', buffered: true });
  new MutationObserver((_, obs) => {
    if (document.body?.dataset.hydrated === 'true') {
      window.__bench.hydratedAt = performance.now();
      obs.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
};

/** Every response's bytes on the wire, with its kind, as CDP reports them. */
async function watchNetwork(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const requests = new Map();
  const done = [];
  let lastActivity = Date.now();
  cdp.on('Network.requestWillBeSent', (e) => {
    requests.set(e.requestId, { url: e.request.url, type: e.type, finished: false });
    lastActivity = Date.now();
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.encoding = e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'] ?? 'none';
  });
  const finish = (e, failed) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    r.finished = true;
    lastActivity = Date.now();
    if (!failed) done.push({ ...r, bytes: e.encodedDataLength });
  };
  cdp.on('Network.loadingFinished', (e) => finish(e, false));
  cdp.on('Network.loadingFailed', (e) => finish(e, true));
  return {
    done,
    mark: () => done.length,
    // Idle: nothing started or finished for 500 ms, the event stream (open for good) apart.
    async idle() {
      const started = Date.now();
      for (;;) {
        const open = [...requests.values()].filter((r) => !r.finished && r.type !== 'EventSource');
        if (open.length === 0 && Date.now() - lastActivity >= 500) return;
        if (Date.now() - started > 30_000) throw new Error(`network never idle: ${open.map((r) => r.url).join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

function kind(r) {
  const path = new URL(r.url).pathname;
  if (r.type === 'Document') return 'html';
  if (path.endsWith('.wasm')) return 'wasm';
  if (path.endsWith('.js') || r.type === 'Script') return 'js';
  if (path.endsWith('.css') || r.type === 'Stylesheet') return 'css';
  return 'data';
}

function summarize(list) {
  const by = { html: 0, wasm: 0, js: 0, css: 0, data: 0 };
  for (const r of list) by[kind(r)] += r.bytes;
  const files = list
    .filter((r) => kind(r) !== 'html' && kind(r) !== 'data')
    .map((r) => `${new URL(r.url).pathname} ${r.bytes} bytes (${r.encoding})`);
  return { ...by, code: by.wasm + by.js + by.css, files, requests: list.length };
}

async function firstLoad(path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(probe);
  const net = await watchNetwork(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(base + path);
  await page.waitForSelector('body[data-hydrated="true"]', { state: 'attached', timeout: 30_000 });
  await net.idle();
  const probeResult = await page.evaluate(() => window.__bench);
  const result = {
    step: 'first load',
    path,
    ...summarize(net.done),
    hydrated_ms: Math.round(probeResult.hydratedAt),
    long_tasks: probeResult.longTasks,
    errors,
  };
  return { result, page, net, context };
}

for (const path of paths) {
  const { result, page, net, context } = await firstLoad(path);
  console.log(JSON.stringify(result));
  if (path === paths[0]) {
    // Later steps from this page: each fetches only what it adds.
    const steps = [
      ['execute panel', async () => {
        const button = page.locator('a[aria-label^="Execute "]').first();
        if ((await button.count()) === 0) return false;
        await button.click();
        await page.waitForSelector('[data-testid="execute-panel"]', { timeout: 30_000 });
        return true;
      }],
      ['workflows by its link', async () => {
        await page.keyboard.press('Escape');
        await page.locator('nav a[href="/workflows"]').first().click();
        await page.waitForURL('**/workflows');
        return true;
      }],
    ];
    for (const [step, run] of steps) {
      const from = net.mark();
      if (!(await run())) continue;
      await net.idle();
      console.log(JSON.stringify({ step, path, ...summarize(net.done.slice(from)), errors: [] }));
    }
  }
  await context.close();
}
await browser.close();
