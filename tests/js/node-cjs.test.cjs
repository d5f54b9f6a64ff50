// The npm package required by name from CommonJS.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const telemetry = require('usage-telemetry');

test('require() gives the same API', async () => {
  for (const name of ['registerUsageEvent', 'getUsage', 'classifyHost', 'trackConversion', 'configure']) {
    assert.equal(typeof telemetry[name], 'function', name);
  }
  assert.equal(typeof telemetry.default, 'function', 'a no-op init, as in the web build');
  assert.equal(telemetry.classifyHost('http://[::1]:8080'), 'development');
  const result = await telemetry.registerUsageEvent({
    licenseKey: process.env.USAGE_TEST_PUBLIC_KEY,
    endpoint: process.env.USAGE_SERVER_URL,
    event: 'cloud-render',
    host: 'https://customer.com',
    succeeded: true,
  });
  assert.deepEqual(result, { billable: true, classification: 'billable' });
});
