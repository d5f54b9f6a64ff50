// What the package costs a page that has not converted anything: a benchmark,
// not a test (scripts/bench-page-load.sh runs it and prints the command).
//
// Three pages, loaded in turn in fresh headless Chromium contexts (cold cache):
// pages/load-plain.html; pages/load-package.html, the same page importing the
// package and calling configure() at start, as an app does (the module loads on
// first need); and the same with `?idle`, which also loads it once the browser is
// idle (requestIdleCallback), the alternative the package does not take. For
// each load, from CDP: the bytes transferred (Network.loadingFinished's
// encodedDataLength) and the main thread's task time (Performance.getMetrics'
// TaskDuration) at the `load` event and once the network is idle; and whether
// the .wasm was fetched. Medians over the runs.
//
// Environment: BENCH_RUNS (15). Prints a Markdown section.
import { chromium } from 'playwright-core';
import { serveTestPages, chromiumOptions } from './site.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 15);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};

const site = await serveTestPages();
const browser = await chromium.launch(chromiumOptions);
const origin = `http://127.0.0.1:${site.address().port}`;

/** One cold load of `path`: bytes and main-thread time at `load` and at network idle. */
async function measure(path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Performance.enable');
  const urls = new Map();
  let bytes = 0;
  let wasm = false;
  cdp.on('Network.requestWillBeSent', ({ requestId, request }) => urls.set(requestId, request.url));
  cdp.on('Network.loadingFinished', ({ requestId, encodedDataLength }) => {
    bytes += encodedDataLength;
    if (urls.get(requestId)?.endsWith('.wasm')) wasm = true;
  });
  const taskMs = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    return metrics.find((metric) => metric.name === 'TaskDuration').value * 1000;
  };
  await page.goto(`${origin}${path}`, { waitUntil: 'load' });
  const atLoad = { bytes, taskMs: await taskMs(), wasm };
  await page.waitForLoadState('networkidle');
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  const atIdle = { bytes, taskMs: await taskMs(), wasm };
  await context.close();
  return { atLoad, atIdle };
}

const pages = { plain: '/load-plain.html', package: '/load-package.html', idle: '/load-package.html?idle' };
const results = { plain: [], package: [], idle: [] };
try {
  // One of each first, unmeasured: the browser's own first-use costs.
  for (const path of Object.values(pages)) await measure(path);
  const names = Object.keys(pages);
  for (let run = 0; run < runs; run++) {
    // A different order each run: no page always follows the same one.
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + run) % names.length];
      results[name].push(await measure(pages[name]));
    }
  }
} finally {
  await browser.close();
  site.close();
}

const row = (label, pick, format) => {
  const plain = median(results.plain.map(pick));
  const cells = ['package', 'idle'].map((name) => {
    const value = median(results[name].map(pick));
    return `${format(value)} (${value >= plain ? '+' : '−'}${format(Math.abs(value - plain))})`;
  });
  return `| ${label} | ${format(plain)} | ${cells.join(' | ')} |`;
};
const kb = (value) => `${(value / 1000).toFixed(1)} kB`;
const ms = (value) => `${value.toFixed(1)} ms`;
const fetched = (name, when) => results[name].filter((result) => result[when].wasm).length;
console.log(`## The package on page load (headless Chromium)

A page that imports the package and calls \`configure()\` at start, against the same page without it,
and against one that also loads the module when the browser is idle (\`tests/js/pages/load-package.html\`,
\`load-plain.html\`, \`load-package.html?idle\`): medians of ${runs} cold loads each (cache off, a fresh context per
load, the order rotating). Bytes: what the network delivered, headers included, uncompressed (the test
server does not compress). Main-thread time: Chromium's \`TaskDuration\`, every task on the page's main
thread since navigation. In brackets: the difference from the page without the package.

| | without the package | with it (loads on first need) | with it, loaded when idle |
|---|---|---|---|
${row('bytes by `load`', (r) => r.atLoad.bytes, kb)}
${row('main-thread time by `load`', (r) => r.atLoad.taskMs, ms)}
${row('bytes by network idle', (r) => r.atIdle.bytes, kb)}
${row('main-thread time by network idle', (r) => r.atIdle.taskMs, ms)}

The \`.wasm\` was fetched by network idle in ${fetched('package', 'atIdle')} of ${runs} loads on first need, and in ${fetched('idle', 'atIdle')} of ${runs} when idle.

Reproduce: \`./scripts/bench-page-load.sh\`.`);
