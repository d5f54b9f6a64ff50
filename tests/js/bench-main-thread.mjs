// The module's cost on the main thread, against plain `fetch` (a benchmark, not a
// test: scripts/bench-module.sh runs it and prints the command that reproduces it).
//
// In headless Chromium, V8's sampling profiler (CDP Profiler, 100 µs) runs over
// each burst; its non-idle samples, minus an idle baseline measured the same way,
// are the main-thread time the burst cost: script and wasm, and the browser's own
// work on the main thread (inside `fetch`, IndexedDB calls, garbage collection).
// CDP's `ScriptDuration` is not used: it leaves out the promise reactions that
// plain `fetch` runs in, and reads ~0 for it. Each burst is N
// registrations through `trackConversion` (to `onRegistered`, so the answer has
// been read), or N plain `fetch` POSTs of the same body (to `response.json()`),
// either all at once (a batch converter finishing N files) or one after another;
// and one after another on a page without IndexedDB, where the module keeps its
// queue in memory: the difference is what its IndexedDB journal costs.
// Also: the time from a conversion's end to its registration being answered by the
// server, which commits before it answers (so: counted).
//
// Environment: USAGE_SERVER_URL, BENCH_PUBLIC_KEY; BENCH_N (200), BENCH_RUNS (5),
// BENCH_SAMPLES (50). Prints a JSON object.
import { chromium } from 'playwright-core';
import { serveTestPages, chromiumOptions } from './site.mjs';

const endpoint = process.env.USAGE_SERVER_URL;
const licenseKey = process.env.BENCH_PUBLIC_KEY;
if (!endpoint || !licenseKey) throw new Error('USAGE_SERVER_URL and BENCH_PUBLIC_KEY must be set (scripts/bench-module.sh does)');
const n = Number(process.env.BENCH_N ?? 200);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const samples = Number(process.env.BENCH_SAMPLES ?? 50);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

const site = await serveTestPages();
const browser = await chromium.launch(chromiumOptions);
try {
  /** A page of the test site (`?no-idb`: one without IndexedDB) and a CDP session on it. */
  const openPage = async (query) => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${site.address().port}/${query}`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 15_000 });
    // Main-thread time from V8's sampling profiler: every sample that is not idle
    // (script, wasm, the browser's own work on this thread such as fetch and
    // IndexedDB calls, garbage collection), split by what ran.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    return { page, cdp };
  };
  const withIndexedDB = await openPage('');
  // The same module, its queue in memory: what the IndexedDB journal costs.
  const inMemory = await openPage('?no-idb');
  const nativeParts = { fetch: 'fetch', put: 'indexedDB', delete: 'indexedDB', transaction: 'indexedDB', getAll: 'indexedDB', objectStore: 'indexedDB', '(garbage collector)': 'gc', '(program)': 'browser' };
  const busyTimeOf = async ({ page, cdp }, burst, options) => {
    await cdp.send('Profiler.start');
    const settled = await page.evaluate(burst, options);
    const { profile } = await cdp.send('Profiler.stop');
    if (settled !== options.n) throw new Error(`a burst settled ${settled} of ${options.n}`);
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parts = { script: 0, fetch: 0, indexedDB: 0, gc: 0, browser: 0 };
    profile.samples.forEach((id, index) => {
      const { functionName, url } = nodes.get(id).callFrame;
      if (functionName === '(idle)' || functionName === '(root)') return;
      const part = url ? 'script' : (nativeParts[functionName] ?? 'script');
      parts[part] += (profile.timeDeltas[index + 1] ?? 0) / 1000;
    });
    return { total: Object.values(parts).reduce((a, b) => a + b, 0), ...parts };
  };

  // Each path registers n times, all at once or one after another; the page
  // functions are self-contained (they are sent to the page as text).
  const viaModule = ({ n, atOnce, endpoint, licenseKey }) => {
    const register = (i) => new Promise((onRegistered) => window.telemetry.trackConversion(Promise.resolve(i), { licenseKey, endpoint, onRegistered }));
    const counted = (outcomes) => outcomes.filter((outcome) => outcome.ok).length;
    if (atOnce) return Promise.all(Array.from({ length: n }, (_, i) => register(i))).then(counted);
    return (async () => { const outcomes = []; for (let i = 0; i < n; i++) outcomes.push(await register(i)); return counted(outcomes); })();
  };
  const viaFetch = ({ n, atOnce, endpoint, licenseKey }) => {
    const register = () => fetch(`${endpoint}/api/track/register-usage-point`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ event: 'webcodec-conversion', apiKey: licenseKey, host: location.origin, succeeded: true, eventId: crypto.randomUUID() }),
      keepalive: true,
      credentials: 'omit',
    }).then((response) => response.json());
    const counted = (answers) => answers.filter((answer) => answer.success !== false && answer.classification).length;
    if (atOnce) return Promise.all(Array.from({ length: n }, register)).then(counted);
    return (async () => { const answers = []; for (let i = 0; i < n; i++) answers.push(await register()); return counted(answers); })();
  };
  const idleFor = async ({ n }) => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    return n;
  };
  const bursts = {
    idle: [withIndexedDB, idleFor, {}],
    moduleAtOnce: [withIndexedDB, viaModule, { atOnce: true }],
    fetchAtOnce: [withIndexedDB, viaFetch, { atOnce: true }],
    moduleOneByOne: [withIndexedDB, viaModule, { atOnce: false }],
    moduleOneByOneInMemory: [inMemory, viaModule, { atOnce: false }],
    fetchOneByOne: [withIndexedDB, viaFetch, { atOnce: false }],
  };

  const options = { n, endpoint, licenseKey };
  const warmUp = 10;
  // Warm up every path once (module instantiation, connections, JIT).
  for (const [where, burst, how] of Object.values(bursts)) await busyTimeOf(where, burst, { ...options, ...how, n: warmUp });
  const measured = Object.fromEntries(Object.keys(bursts).map((name) => [name, []]));
  for (let run = 0; run < runs; run++) {
    // Interleaved, so a slower moment of the machine affects every path alike.
    for (const [name, [where, burst, how]] of Object.entries(bursts)) measured[name].push(await busyTimeOf(where, burst, { ...options, ...how }));
  }
  const idle = median(measured.idle.map((m) => m.total));
  // The run with the median total, less the idle baseline, per registration; its parts as measured.
  const perRegistration = (name) => {
    const middle = [...measured[name]].sort((a, b) => a.total - b.total)[Math.floor(measured[name].length / 2)];
    const parts = Object.fromEntries(Object.entries(middle).map(([part, ms]) => [part, ms / n]));
    return { ...parts, total: Math.max(0, middle.total - idle) / n };
  };

  // From a conversion's end to the server's answer (it commits, then answers).
  const latencies = await withIndexedDB.page.evaluate(async ({ samples, endpoint, licenseKey }) => {
    const out = [];
    for (let i = 0; i < samples; i++) {
      let ended;
      const conversion = new Promise((resolve) => setTimeout(resolve, 1)).then(() => { ended = performance.now(); });
      await new Promise((onRegistered) => window.telemetry.trackConversion(conversion, { licenseKey, endpoint, onRegistered }));
      out.push(performance.now() - ended);
    }
    return out;
  }, { samples, endpoint, licenseKey });

  const registeringPaths = Object.keys(bursts).length - 1; // all but idle
  const result = {
    n,
    runs,
    // What the server must have counted: the warm-ups, the runs, the latency samples.
    registrationsMade: registeringPaths * (warmUp + n * runs) + samples,
    idleBaselineMs: idle,
    msPerRegistration: {
      moduleAtOnce: perRegistration('moduleAtOnce'),
      fetchAtOnce: perRegistration('fetchAtOnce'),
      moduleOneByOne: perRegistration('moduleOneByOne'),
      moduleOneByOneInMemory: perRegistration('moduleOneByOneInMemory'),
      fetchOneByOne: perRegistration('fetchOneByOne'),
    },
    rawMs: measured,
    endToCountedMs: { median: median(latencies), p95: percentile(latencies, 95), max: Math.max(...latencies), samples },
  };
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  site.close();
}
