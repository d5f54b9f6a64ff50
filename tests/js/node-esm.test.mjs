// The npm package imported by name from Node 20 (ESM), against the real usage server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import init, { registerUsageEvent, getUsage, classifyHost, trackConversion, configure } from 'usage-telemetry';
import { serverUrl, publicKey, secretKey, scenario, faulty, attempts, attemptsEventually, closedUrl, captureWarnings } from './helpers.mjs';

await init(); // a no-op in Node, so browser code runs unchanged

const base = { licenseKey: publicKey, endpoint: serverUrl };
const usage = () => getUsage({ apiKey: secretKey, endpoint: serverUrl });

test('registers billable, development and failed events and reads them back', async () => {
  const before = await usage();
  assert.deepEqual(await registerUsageEvent({ ...base, event: 'webcodec-conversion', host: 'https://customer.com', succeeded: true }),
    { billable: true, classification: 'billable' });
  // Node has no origin: host defaults to null, and a backend event is billable.
  assert.equal((await registerUsageEvent({ ...base, event: 'cloud-render', succeeded: true })).classification, 'billable');
  assert.equal((await registerUsageEvent({ ...base, event: 'web-render', host: 'http://localhost:5173', succeeded: true })).classification, 'development');
  assert.equal((await registerUsageEvent({ ...base, event: 'webcodec-conversion', host: 'https://customer.com', succeeded: false })).classification, 'failed');
  // The legacy apiKey field still works.
  assert.equal((await registerUsageEvent({ apiKey: publicKey, endpoint: serverUrl, event: 'cloud-render', host: null, succeeded: false })).classification, 'failed');
  const after = await usage();
  assert.equal(after.webcodecConversions.billable - before.webcodecConversions.billable, 1);
  assert.equal(after.webcodecConversions.development - before.webcodecConversions.development, 1);
  assert.equal(after.webcodecConversions.failed - before.webcodecConversions.failed, 1);
  assert.equal(after.cloudRenders.billable - before.cloudRenders.billable, 1);
  assert.equal(after.cloudRenders.failed - before.cloudRenders.failed, 1);
  assert.deepEqual(after.webRenders, after.webcodecConversions);
});

test('the request carries exactly the documented fields, and the same eventId on a retry', async () => {
  const name = scenario();
  const eventId = '0f8b3c1e-5a4d-4e2b-9c7f-1a2b3c4d5e6f';
  await registerUsageEvent({ ...base, endpoint: faulty(name, 'reset-first'), event: 'web-render', host: 'https://customer.com',
    succeeded: true, eventId, isStill: true, retry: { baseDelayMs: 10 } });
  const seen = await attempts(name);
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[0].body, { event: 'web-render', apiKey: publicKey, host: 'https://customer.com', succeeded: true, eventId, isStill: true });
  assert.deepEqual(seen[1].body, seen[0].body);
  // Without an eventId, a fresh UUID v7 is made: the time it was made, then random bits,
  // so ids made later sort later.
  const ids = [];
  for (let i = 0; i < 2; i++) {
    const other = scenario();
    const before = Date.now();
    await registerUsageEvent({ ...base, endpoint: faulty(other, 'ok'), event: 'web-render', succeeded: true });
    const id = (await attempts(other))[0].body.eventId;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const madeAt = parseInt(id.replace('-', '').slice(0, 12), 16);
    assert.ok(madeAt >= before && madeAt <= Date.now(), `${id} says ${madeAt}, not between ${before} and now`);
    ids.push(id);
    while (Date.now() <= madeAt); // the next id is made in a later millisecond
  }
  assert.ok(ids[0] < ids[1], `${ids[0]} sorts before ${ids[1]}`);
});

test('invalid calls reject with a clear error and send nothing', async () => {
  const name = scenario();
  const endpoint = faulty(name, 'ok');
  const cases = [
    [{ ...base, endpoint, event: 'render', succeeded: true }, /^event: unknown variant `render`/],
    [{ ...base, endpoint, event: 'web-render', succeeded: 'yes' }, /^succeeded: invalid type: string "yes", expected a boolean/],
    [{ ...base, endpoint, event: 'web-render' }, /^succeeded: is missing/],
    [{ ...base, endpoint, event: 'web-render', succeeded: true, host: 'customer.com/page' }, /^host `customer.com\/page` is not a valid origin/],
    [{ licenseKey: secretKey, endpoint, event: 'web-render', succeeded: true }, /^secret keys must never be sent from a browser/],
    [{ licenseKey: '', endpoint, event: 'web-render', succeeded: true }, /^licenseKey is missing/],
    [{ licenseKey: 'pk_live_x', endpoint, event: 'web-render', succeeded: true }, /^licenseKey is not a licence key/],
    [{ licenseKey: publicKey, event: 'web-render', succeeded: true }, /^no endpoint configured/],
    [{ ...base, endpoint, event: 'web-render', succeeded: true, retry: { timeoutMs: 0 } }, /^retry.timeoutMs: must be from 1 to 120000/],
    ['rm_pub_x', /^options: must be an object/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(registerUsageEvent(options), (err) => {
      assert.equal(err.name, 'UsageTelemetryError');
      assert.equal(err.code, options.licenseKey === publicKey && !options.endpoint ? 'no_endpoint' : 'invalid');
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal((await attempts(name)).length, 0, 'nothing was sent');
});

test('getUsage checks since and the key before sending', async () => {
  const now = Date.now();
  const counts = await getUsage({ apiKey: secretKey, endpoint: serverUrl, since: now - 86_400_000 });
  assert.equal(typeof counts.webcodecConversions.billable, 'number');
  await assert.rejects(getUsage({ apiKey: secretKey, endpoint: serverUrl, since: now - 91 * 86_400_000 }), /since must be within the last 90 days/);
  await assert.rejects(getUsage({ apiKey: secretKey, endpoint: serverUrl, since: now + 3_600_000 }), /since must be within the last 90 days/);
  await assert.rejects(getUsage({ apiKey: secretKey, endpoint: serverUrl, since: '2026-01-01' }), /^UsageTelemetryError: since: invalid type/);
  await assert.rejects(getUsage({ apiKey: publicKey, endpoint: serverUrl }), /getUsage needs the secret key/);
  await assert.rejects(getUsage({ apiKey: 'rm_sec_unknown', endpoint: serverUrl }), (err) => {
    assert.equal(err.code, 'server');
    assert.equal(err.status, 401);
    assert.match(err.message, /the usage server answered 401: apiKey is not a known key/);
    return true;
  });
});

test('classifyHost answers with the server\'s rules', () => {
  assert.equal(classifyHost('http://localhost:3000'), 'development');
  assert.equal(classifyHost('https://app.localhost'), 'development');
  assert.equal(classifyHost('http://192.168.1.20:8080'), 'development');
  assert.equal(classifyHost('https://customer.com'), 'billable');
  assert.throws(() => classifyHost('https://customer.com/path'), (err) => err.name === 'UsageTelemetryError' && /not a valid origin/.test(err.message));
  assert.throws(() => classifyHost(42), /host: must be a string/);
});

test("Node's `fetch failed` is a network error, retried", async () => {
  await assert.rejects(
    registerUsageEvent({ ...base, endpoint: await closedUrl(), event: 'web-render', succeeded: true, retry: { retries: 1, baseDelayMs: 10 } }),
    (err) => {
      assert.equal(err.code, 'network');
      assert.match(err.message, /\(2 attempts\): TypeError: fetch failed \(ECONNREFUSED\)/);
      return true;
    },
  );
});

test('retry waits are the doubling backoff, each within ±50 % of it', async () => {
  const name = scenario();
  await assert.rejects(
    registerUsageEvent({ ...base, endpoint: faulty(name, 'reset'), event: 'web-render', succeeded: true, retry: { retries: 3, baseDelayMs: 200 } }),
    (err) => err.code === 'network',
  );
  const at = (await attempts(name)).map((attempt) => attempt.at);
  assert.equal(at.length, 4);
  const waits = at.slice(1).map((time, i) => time - at[i]);
  waits.forEach((wait, i) => {
    const backoff = 200 * 2 ** i;
    // The proxy stamps arrivals, so a wait also holds one failed round trip on
    // loopback: a few ms above the drawn delay, never below it.
    assert.ok(wait >= backoff * 0.5 && wait < backoff * 1.5 + 100, `wait ${i + 1}: ${wait} ms for a ${backoff} ms backoff (${waits})`);
  });
});

test('trackConversion settles exactly as the conversion does and registers afterwards', async () => {
  const value = { file: 'out.webm' };
  const ok = scenario();
  assert.equal(await trackConversion(Promise.resolve(value), { ...base, endpoint: faulty(ok, 'ok') }), value);
  const [registered] = await attemptsEventually(ok, 1);
  assert.equal(registered.body.succeeded, true);
  assert.equal(registered.body.event, 'webcodec-conversion');

  const failure = new Error('decoder failed');
  const failed = scenario();
  await assert.rejects(trackConversion(() => Promise.reject(failure), { ...base, endpoint: faulty(failed, 'ok'), event: 'web-render' }),
    (err) => err === failure);
  const [report] = await attemptsEventually(failed, 1);
  assert.equal(report.body.succeeded, false);
  assert.equal(report.body.event, 'web-render');

  // A function that throws synchronously rejects, as an async function would.
  const thrown = new TypeError('bad input');
  await assert.rejects(trackConversion(() => { throw thrown; }, { ...base, endpoint: faulty(scenario(), 'ok') }), (err) => err === thrown);
  // A plain value is a conversion that already succeeded.
  assert.equal(await trackConversion(() => 7, { ...base, endpoint: faulty(scenario(), 'ok') }), 7);
});

test('trackConversion executes execute() objects, tells onRegistered, and skips cancelled conversions', async () => {
  // A Mediabunny Conversion is an object with execute(); it is called as a method.
  const name = scenario();
  const conversion = { calls: 0, async execute() { this.calls += 1; return 'converted'; } };
  let settle;
  const settled = new Promise((resolve) => { settle = resolve; });
  const onRegistered = (outcome) => { settle(outcome); throw new Error('a throwing callback is ignored'); };
  assert.equal(await trackConversion(conversion, { ...base, endpoint: faulty(name, 'ok'), onRegistered }), 'converted');
  assert.equal(conversion.calls, 1);
  const outcome = await settled;
  assert.deepEqual({ ok: outcome.ok, billable: outcome.billable, classification: outcome.classification }, { ok: true, billable: true, classification: 'billable' });
  const [sent] = await attempts(name);
  assert.equal(outcome.body, JSON.stringify(sent.body), 'body is the exact JSON that was sent');

  // A registration that fails reaches the callback as { ok: false, error }.
  const failed = await new Promise((resolve) => {
    closedUrl().then((endpoint) => trackConversion(async () => 'done', { ...base, endpoint, retry: { retries: 0 }, onRegistered: resolve }));
  });
  assert.equal(failed.ok, false);
  assert.equal(failed.error.name, 'UsageTelemetryError');
  assert.equal(failed.error.code, 'network');
  assert.equal(JSON.parse(failed.body).succeeded, true);

  // Mediabunny's ConversionCanceledError, like AbortError, is not reported at all.
  const cancelled = scenario();
  class ConversionCanceledError extends Error { name = 'ConversionCanceledError'; }
  const canceledError = new ConversionCanceledError('canceled');
  let calledBack = false;
  await assert.rejects(
    trackConversion({ execute: async () => { throw canceledError; } }, { ...base, endpoint: faulty(cancelled, 'ok'), onRegistered: () => { calledBack = true; } }),
    (err) => err === canceledError,
  );
  // A later conversion on the same scenario registers; by then the cancelled one has settled.
  const later = await new Promise((resolve) => trackConversion(async () => 1, { ...base, endpoint: faulty(cancelled, 'ok'), onRegistered: resolve }));
  assert.equal(later.ok, true);
  const seen = await attempts(cancelled);
  assert.equal(seen.length, 1, 'only the later conversion was registered');
  assert.equal(calledBack, false);
});

test('trackConversion does not wait for the registration', async (t) => {
  const name = scenario();
  const { warnings, nextWarning } = captureWarnings(t);
  const warning = nextWarning();
  // The proxy never answers: the registration times out after 1 s, in the background.
  const result = await trackConversion(Promise.resolve('done'), { ...base, endpoint: faulty(name, 'hang'), retry: { retries: 0, timeoutMs: 1000 } });
  assert.equal(result, 'done');
  assert.equal(warnings.length, 0, 'the conversion settled before the registration did');
  assert.equal((await attemptsEventually(name, 1)).length, 1, 'the registration is in flight, unanswered');
  assert.match(await warning, /did not answer within 1000 ms/);
});

test('an aborted conversion is not reported as failed', async () => {
  const name = scenario();
  const abort = new DOMException('cancelled by the user', 'AbortError');
  await assert.rejects(trackConversion(Promise.reject(abort), { ...base, endpoint: faulty(name, 'ok') }), (err) => err === abort);
  // A later, successful conversion to the same scenario is the only one that arrives.
  await trackConversion(Promise.resolve(1), { ...base, endpoint: faulty(name, 'ok') });
  const seen = await attemptsEventually(name, 1);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].body.succeeded, true);
});

for (const [what, patched, reason] of [
  ['a blocked fetch', () => { throw new TypeError('Failed to fetch (blocked by an extension)'); }, /blocked by an extension/],
  ['a fetch patched to resolve to something other than a Response', async () => ({ status: 200, ok: true }), /something other than a Response/],
]) {
  test(`${what} leaves one console.warn and nothing else`, async (t) => {
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const { warnings, nextWarning } = captureWarnings(t);
    const warnedOnce = nextWarning();
    const realFetch = globalThis.fetch;
    globalThis.fetch = patched;
    try {
      const result = await trackConversion(async () => 'converted', { ...base, retry: { retries: 1, baseDelayMs: 1 } });
      assert.equal(result, 'converted');
      await warnedOnce;
    } finally {
      globalThis.fetch = realFetch;
    }
    // Let any stray rejection surface before counting.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onUnhandled);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /usage-telemetry: the conversion was not registered \(the conversion itself is unaffected\)/);
    assert.match(warnings[0], reason);
    assert.deepEqual(unhandled, []);
  });
}

test('configure sets defaults; logLevel silent keeps the console quiet; no endpoint warns and skips', async (t) => {
  const { warnings, nextWarning } = captureWarnings(t);
  assert.throws(() => configure({ endpoint: 'ftp://x' }), /endpoint: must be an http\(s\) URL/);
  assert.throws(() => configure({ licenseKey: secretKey }), /licenseKey: must be a public key/);
  assert.throws(() => configure({ logLevel: 'loud' }), /logLevel: unknown variant `loud`/);

  // No endpoint anywhere: trackConversion still returns, and warns.
  const warnedOnce = nextWarning();
  assert.equal(await trackConversion(Promise.resolve(1), { licenseKey: publicKey }), 1);
  await warnedOnce;
  assert.match(warnings[0], /no endpoint configured/);

  const name = scenario();
  configure({ endpoint: faulty(name, 'ok'), licenseKey: publicKey, logLevel: 'silent' });
  try {
    assert.equal((await registerUsageEvent({ event: 'web-render', succeeded: true })).classification, 'billable');
    assert.equal((await attempts(name))[0].body.apiKey, publicKey);
    // A failing background registration under logLevel silent: not a word.
    await trackConversion(Promise.resolve(2), { endpoint: await closedUrl(), retry: { retries: 0 } });
    // The next one goes to the configured endpoint; once it has arrived, the failed
    // one (started first, refused at once) has long been logged, or not.
    await trackConversion(Promise.resolve(3));
    await attemptsEventually(name, 2);
    assert.equal(warnings.length, 1, warnings.join('\n'));
  } finally {
    configure({ logLevel: 'warn', endpoint: serverUrl });
  }
});
