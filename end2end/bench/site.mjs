// The browser half of `./dev bench site` (server/benches/site/main.rs starts the dashboard and
// runs this): for each page, a fresh Chromium context loads it as a new visitor would and
// reports what crossed the wire (as served, compressed: CDP's encodedDataLength), by kind,
// until the page is hydrated and the network idle; the time to hydration; and the long
// tasks (over 50 ms) the main thread ran. A second load of the page, traced, says what the
// longest of those tasks spent its time on (V8 compiling the WASM functions hydration calls
// for the first time, running them, layout). Then, on the first page, what each later step
// (the forms opened on request, the execute panel, another page by its link) fetches
// beyond what is already there.
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

// What a trace of the main thread says its longest task did. Tracing slows the page, so
// the durations are not the untraced ones: the shares are what to read.
const TRACED = [
  'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.wasm',
  'disabled-by-default-v8.compile',
].join(',');

// Event names, by what they are: V8 compiles a WASM function (Liftoff) on its first call,
// on the thread that calls it; a module's streaming compile is mostly elsewhere.
const COMPILE = new Set(['wasm.CompileLazy', 'wasm.CompileBaseline']);
const LAYOUT = new Set(['Layout', 'UpdateLayoutTree', 'Paint', 'PrePaint', 'Commit', 'Layerize']);

async function longestTask(path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const net = await watchNetwork(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Tracing.start', { categories: TRACED, transferMode: 'ReturnAsStream' });
  await page.goto(base + path);
  await page.waitForSelector('body[data-hydrated="true"]', { state: 'attached', timeout: 30_000 });
  // As the untraced load: the tasks until the network is idle.
  await net.idle();
  const complete = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.end');
  const { stream } = await complete;
  let text = '';
  for (;;) {
    const chunk = await cdp.send('IO.read', { handle: stream });
    text += chunk.data;
    if (chunk.eof) break;
  }
  await context.close();
  const parsed = JSON.parse(text);
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents;
  // A renderer's main thread: the navigation may have moved the page to a new renderer.
  const mains = new Set(
    events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}/${e.tid}`),
  );
  const onMain = events.filter((e) => e.ph === 'X' && mains.has(`${e.pid}/${e.tid}`));
  const task = onMain.filter((e) => e.name === 'RunTask').sort((a, b) => b.dur - a.dur)[0];
  if (!task) return null;
  const inside = onMain.filter(
    (e) => e !== task && e.pid === task.pid && e.tid === task.tid && e.ts >= task.ts && e.ts + (e.dur ?? 0) <= task.ts + task.dur,
  );
  // Outermost events of a kind only: a compile inside a compile is counted once.
  const outermost = (names) => {
    const picked = inside.filter((e) => names.has(e.name)).sort((a, b) => a.ts - b.ts);
    let end = -Infinity;
    let sum = 0;
    for (const e of picked) {
      if (e.ts >= end) {
        sum += e.dur;
        end = e.ts + e.dur;
      }
    }
    return sum;
  };
  const ms = (us) => Math.round(us / 1000);
  const compile = outermost(COMPILE);
  const layout = outermost(LAYOUT);
  return { task_ms: ms(task.dur), compile_ms: ms(compile), layout_ms: ms(layout), rest_ms: ms(task.dur - compile - layout) };
}

for (const path of paths) {
  const { result, page, net, context } = await firstLoad(path);
  result.traced = await longestTask(path);
  console.log(JSON.stringify(result));
  if (path === paths[0]) {
    // Later steps from this page: each fetches only what it adds.
    const opens = (section, button, field) => async () => {
      await page.getByTestId(section).getByRole('button', { name: button }).click();
      await page.waitForSelector(`${field}:focus`, { timeout: 30_000 });
      return true;
    };
    const steps = [
      ['register form', opens('register-agent', 'Register an agent…', '#agent_id')],
      ['find form', opens('find-agents', 'Look for agents…', '#find-where')],
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
