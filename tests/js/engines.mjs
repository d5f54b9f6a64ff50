// The module's delivery guarantees, a keyless registration, flush() and the
// fallback to memory without IndexedDB in every engine,
// driven through WebDriver (selenium-webdriver): Chromium (chromedriver), Firefox
// ESR (geckodriver, headless) and WebKitGTK's MiniBrowser (WebKitWebDriver; it needs
// a display, so scripts/test.sh runs this file under xvfb-run). One WebDriver
// session per engine is one browser profile: IndexedDB outlives the page, as it
// does for a person who closes a tab and comes back.
//
// Run by scripts/test.sh: `xvfb-run -a node --test tests/js/engines.mjs`.
// USAGE_ENGINES=firefox,webkit picks engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Builder } from 'selenium-webdriver';
import { getUsageBreakdown } from 'usage-telemetry';
import {
  serverUrl, adminToken, scenario, faulty, attempts, freshKeys, bringUp, serveTestPages, developmentCount, countReaches,
} from './helpers.mjs';
import { chosenEngines, startSession } from '../support/engines.mjs';

let site;
let origin;
before(async () => {
  site = await serveTestPages();
  origin = `http://127.0.0.1:${site.address().port}`;
});
after(() => site?.close());

for (const name of chosenEngines()) {
  describe(name, () => {
    let driver;
    let session;

    before(async () => {
      session = await startSession(name, Builder);
      driver = session.driver;
    });

    after(() => session?.stop());

    /** Runs `fn(arg)` (an async function) in the page; resolves with its result. */
    async function inPage(fn, arg) {
      const outcome = await driver.executeAsyncScript(
        `const done = arguments[arguments.length - 1];
         Promise.resolve().then(() => (${fn})(arguments[0])).then((value) => done({ value }), (error) => done({ error: String(error) }));`,
        arg,
      );
      if (outcome.error) throw new Error(`in ${name}: ${outcome.error}`);
      return outcome.value;
    }

    /** Opens the test page (a new view of the same profile) and waits for the module. */
    async function openPage(query = '') {
      await driver.get(`${origin}/${query}`);
      await driver.wait(async () => (await driver.executeScript('return document.body && document.body.dataset.ready')) === 'yes', 15_000);
    }

    /** Leaves the page: its view ends (pagehide), the profile stays. */
    const leavePage = () => driver.get('about:blank');

    /** Reports a conversion while the server is down; resolves when its only attempt failed. */
    const convertWhileDown = (licenseKey, endpoint) => inPage(({ licenseKey, endpoint }) => new Promise((resolve) => {
      window.telemetry.trackConversion(async () => 'converted', { licenseKey, endpoint, retry: { retries: 0 }, onRegistered: (outcome) => resolve(outcome.ok) });
    }), { licenseKey, endpoint });

    test('a registration without a licence key counts as unlicensed', async () => {
      const unlicensed = async () => (await getUsageBreakdown({ apiKey: adminToken, endpoint: serverUrl })).unlicensed.totals.webcodecConversions.development;
      const before = await unlicensed();
      const proxied = scenario();
      await openPage();
      const registered = await inPage(({ endpoint }) =>
        window.telemetry.registerUsageEvent({ endpoint, event: 'webcodec-conversion', succeeded: true }), { endpoint: faulty(proxied, 'ok') });
      assert.equal(registered.classification, 'development');
      const [sent] = await attempts(proxied);
      assert.equal(sent.body.apiKey, null, 'sent as `apiKey: null`');
      assert.equal(sent.body.host, origin, 'with the page origin');
      assert.equal(await unlicensed(), before + 1);
    });

    test('a conversion reported while the server is down is counted once by a later view', async () => {
      const keys = await freshKeys(`engines-${name}-later-view`);
      const down = scenario();
      await openPage();
      assert.equal(await convertWhileDown(keys.publicKey, faulty(down, 'down')), false, 'the server is down');
      await leavePage();
      assert.equal(await developmentCount(keys), 0);
      await bringUp(down);
      await openPage();
      assert.equal(await countReaches(keys, 1), 1, 'the next view re-sent it');
      await openPage();
      assert.deepEqual(await inPage(() => window.telemetry.flush()), { sent: 0, pending: 0 }, 'nothing left');
      assert.equal(await developmentCount(keys), 1, 'still once after another view');
      assert.equal(new Set((await attempts(down)).map((a) => a.body.eventId)).size, 1, 'every attempt carried the same eventId');
    });

    test('flush() sends what is pending in one batch', async () => {
      const keys = await freshKeys(`engines-${name}-flush`);
      const down = scenario();
      await openPage();
      for (let i = 0; i < 3; i++) assert.equal(await convertWhileDown(keys.publicKey, faulty(down, 'down')), false);
      await bringUp(down);
      assert.deepEqual(await inPage(() => window.telemetry.flush()), { sent: 3, pending: 0 });
      assert.equal(await developmentCount(keys), 3);
      const batch = (await attempts(down)).at(-1).body;
      assert.ok(Array.isArray(batch) && batch.length === 3, 'the three went in one request');
    });

    test('without IndexedDB, registrations are kept in memory with one warning', async () => {
      const keys = await freshKeys(`engines-${name}-no-idb`);
      await openPage('?no-idb');
      const converted = await inPage(({ licenseKey, endpoint }) =>
        window.telemetry.trackConversion(async () => 'converted', { licenseKey, endpoint }), { licenseKey: keys.publicKey, endpoint: serverUrl });
      assert.equal(converted, 'converted');
      assert.equal(await countReaches(keys, 1), 1);
      const warnings = await driver.executeScript('return window.warnings');
      assert.deepEqual(warnings.filter((warning) => /kept in memory only/.test(warning)).length, 1, warnings.join('\n'));
    });

    test('a page left the instant the conversion resolves still registers it', async () => {
      const keys = await freshKeys(`engines-${name}-instant-leave`);
      await openPage();
      const result = await inPage(({ licenseKey, endpoint }) =>
        window.telemetry.trackConversion(async () => 'converted', { licenseKey, endpoint }), { licenseKey: keys.publicKey, endpoint: serverUrl });
      assert.equal(result, 'converted');
      await leavePage();
      assert.equal(await countReaches(keys, 1), 1);
    });

    /** Opens csp.html (`wasm`: with 'wasm-unsafe-eval'), configured with `keys` and `endpoint`. */
    async function openStrictPage({ wasm, keys, endpoint }) {
      const query = new URLSearchParams({ endpoint, key: keys.publicKey });
      await driver.get(`${origin}/csp.html?${wasm ? 'wasm&' : ''}${query}`);
      await driver.wait(async () => (await driver.executeScript('return document.body && document.body.dataset.ready')) === 'yes', 15_000);
    }

    /** Converts on the open page; resolves with the conversion's result and how its registration settled. */
    const convertAndWait = () => inPage(() => new Promise((resolve) => {
      let result;
      window.telemetry.trackConversion(async () => 'converted', {
        onRegistered: (outcome) => resolve({ result, ok: outcome.ok, error: outcome.error && String(outcome.error.message), body: outcome.body }),
      }).then((value) => { result = value; });
    }));

    /** What the page loaded of the package, by file name. */
    const packageFilesLoaded = () => inPage(() => performance.getEntriesByType('resource')
      .map((entry) => new URL(entry.name).pathname)
      .filter((path) => path.includes('/usage-telemetry/'))
      .map((path) => path.split('/').pop()));

    test('a strict CSP without wasm-unsafe-eval: the stand-in registers once, with one warning', async (t) => {
      const keys = await freshKeys(`engines-${name}-strict-csp`);
      const proxied = scenario();
      await openStrictPage({ wasm: false, keys, endpoint: faulty(proxied, 'ok') });
      const converted = await convertAndWait();
      assert.equal(converted.result, 'converted');
      assert.equal(converted.ok, true, converted.error);
      assert.equal(await countReaches(keys, 1), 1);
      const [sent, ...more] = await attempts(proxied);
      assert.deepEqual(more, [], 'one request');
      assert.deepEqual(Object.keys(sent.body), ['event', 'apiKey', 'host', 'succeeded', 'eventId']);
      assert.deepEqual({ ...sent.body, eventId: undefined }, {
        event: 'webcodec-conversion', apiKey: keys.publicKey, host: origin, succeeded: true, eventId: undefined,
      });
      assert.match(sent.body.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v7');
      assert.equal(JSON.stringify(sent.body), converted.body, 'onRegistered has the body sent');
      const warnings = await driver.executeScript('return window.warnings');
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /^usage-telemetry: the WebAssembly module did not load .*add 'wasm-unsafe-eval' to script-src$/s);
      t.diagnostic(`${name} warned: ${warnings[0]}`);
      assert.deepEqual(await driver.executeScript('return window.errors'), []);
      assert.ok((await packageFilesLoaded()).includes('fallback.js'));
      const unavailable = await inPage(() => {
        try {
          window.telemetry.classifyHost(location.origin);
          return 'no error';
        } catch (error) {
          return `${error.name} ${error.code}`;
        }
      });
      assert.equal(unavailable, 'UsageTelemetryError unavailable');
      assert.equal(await developmentCount(keys), 1, 'still once');
    });

    test("the same page with 'wasm-unsafe-eval' uses the module, and sends the same body", async () => {
      const keys = await freshKeys(`engines-${name}-csp-wasm`);
      const proxied = scenario();
      await openStrictPage({ wasm: true, keys, endpoint: faulty(proxied, 'ok') });
      const converted = await convertAndWait();
      assert.deepEqual([converted.result, converted.ok], ['converted', true], converted.error);
      assert.equal(await countReaches(keys, 1), 1);
      const [sent] = await attempts(proxied);
      assert.deepEqual(Object.keys(sent.body), ['event', 'apiKey', 'host', 'succeeded', 'eventId'], 'the fields the stand-in sends, in its order');
      assert.deepEqual([sent.body.apiKey, sent.body.host], [keys.publicKey, origin]);
      assert.deepEqual(await driver.executeScript('return window.warnings'), []);
      assert.deepEqual(await driver.executeScript('return window.errors'), []);
      const loaded = await packageFilesLoaded();
      assert.ok(loaded.includes('usage_telemetry_bg.wasm') && !loaded.includes('fallback.js'), loaded.join(', '));
      assert.equal(await inPage(() => window.telemetry.classifyHost(location.origin)), 'development');
    });

    test('a burst of 1,000 conversions is counted once each, in batches', async () => {
      const keys = await freshKeys(`engines-${name}-burst`);
      const proxied = scenario();
      await openPage();
      const outcomes = await inPage(({ licenseKey, endpoint }) => new Promise((resolve) => {
        const results = [];
        for (let i = 0; i < 1000; i++) {
          window.telemetry.trackConversion(async () => i, {
            licenseKey, endpoint, onRegistered: (outcome) => {
              results.push(outcome.ok ? 'ok' : outcome.error.message);
              if (results.length === 1000) resolve(results);
            },
          });
        }
      }), { licenseKey: keys.publicKey, endpoint: faulty(proxied, 'ok') });
      assert.deepEqual(outcomes.filter((outcome) => outcome !== 'ok'), []);
      assert.equal(await developmentCount(keys), 1000);
      const requests = await attempts(proxied);
      assert.ok(requests.length <= 20, `${requests.length} requests for 1,000 registrations`);
      assert.ok(requests.some((request) => Array.isArray(request.body)), 'in batches');
    });
  });
}
