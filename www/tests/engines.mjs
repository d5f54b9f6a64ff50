// The demo's converter in Firefox ESR and WebKitGTK's MiniBrowser, through
// WebDriver (Chromium has the full suite, demo.test.mjs): the built-in sample
// converts with a format the engine offers (the page offers only what the engine
// can encode), the page shows how it was counted, the server counted it, and a
// screenshot per engine goes to test-output/converter-<engine>.png.
//
// Run by scripts/test.sh under Xvfb (WebKit needs a display):
//   xvfb-run -a node --test www/tests/engines.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Builder, By } from 'selenium-webdriver';
import { chosenEngines, startSession } from '../../tests/support/engines.mjs';
import { startServer, outputDir, probe } from './harness.mjs';

const SAMPLE_SECONDS = 4;
let server;
before(async () => {
  server = await startServer();
  mkdirSync(outputDir, { recursive: true });
});
after(() => server?.stop());

const counts = async () => (await server.usage()).webcodecConversions;

for (const name of chosenEngines(['firefox', 'webkit'])) {
  describe(name, () => {
    let driver;
    let session;

    before(async () => {
      session = await startSession(name, Builder);
      driver = session.driver;
    });

    after(() => session?.stop());

    const byTestId = (id) => By.css(`[data-testid="${id}"]`);
    const hidden = (id) => driver.executeScript(`return document.querySelector('[data-testid="${id}"]').hidden`);

    test('the built-in sample converts and is counted as development', async () => {
      const before = await counts();
      await driver.get(`${server.url}/`);
      const format = await driver.findElement(byTestId('output-format'));
      // The worker reports what this engine can encode; the select stays disabled until then.
      await driver.wait(() => format.isEnabled(), 60_000, 'the page never offered a format');
      const offered = await driver.executeScript(
        `return [...document.querySelector('[data-testid="output-format"]').options].map((option) => option.value)`);
      assert.ok(offered.length > 0, `${name} offers no format`);
      console.log(`# ${name} offers: ${offered.join(', ')}`);
      await driver.findElement(byTestId('sample')).click();
      // The smallest size: software encoders in some engines are slow.
      await driver.executeScript(`const resize = document.querySelector('[data-testid="resize"]');
        resize.value = '480'; resize.dispatchEvent(new Event('change', { bubbles: true }));`);
      await driver.findElement(byTestId('convert')).click();
      await driver.wait(async () => !(await hidden('telemetry')), 180_000, 'the registration never showed');
      const words = await driver.findElement(byTestId('classification')).getText();
      const body = JSON.parse(await driver.findElement(byTestId('request-body')).getText());
      const error = await hidden('conversion-error') ? '' : await driver.findElement(byTestId('conversion-error')).getText();
      assert.equal(error, '', `the conversion failed in ${name}`);
      assert.equal(await hidden('result'), false, 'the result is shown');
      assert.match(words, /^development — 127\.0\.0\.1 is a local host and is not billed/);
      assert.deepEqual({ event: body.event, apiKey: body.apiKey, host: body.host, succeeded: body.succeeded },
        { event: 'webcodec-conversion', apiKey: server.key.publicKey, host: `http://127.0.0.1:${server.port}`, succeeded: true });
      const after = await counts();
      assert.equal(after.development - before.development, 1, 'counted once');
      // The output, read back from the download link and probed with Mediabunny in Node.
      const bytes = Buffer.from(await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
        fetch(document.querySelector('[data-testid="download"]').href).then((response) => response.arrayBuffer())
          .then((buffer) => { let text = ''; for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte); done(btoa(text)); });`), 'base64');
      const output = await probe(bytes);
      if (process.env.DEBUG_TRACKS) {
        const { writeFileSync: write } = await import('node:fs');
        write(`/tmp/out-${name}.webm`, bytes);
        const sample = Buffer.from(await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
          import('/assets/' + 'x').catch(() => done(''))`) || '', 'base64');
      }
      assert.ok(Math.abs(output.duration - SAMPLE_SECONDS) <= SAMPLE_SECONDS * 0.1, `duration ${output.duration}`);
      assert.ok(output.video, 'a video track');
      console.log(`# ${name} made ${bytes.length} bytes: ${output.mimeType}, ${output.video} + ${output.audio}, ${output.duration.toFixed(2)} s`);
      await driver.manage().window().setRect({ width: 1100, height: 1700 });
      writeFileSync(join(outputDir, `converter-${name}.png`), Buffer.from(await driver.takeScreenshot(), 'base64'));
    });
  });
}
