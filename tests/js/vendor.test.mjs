// The vendor's questions from Node: events without a licence key, free-license
// events, monthly limits passed through, and getUsageBreakdown for licensees
// (secret key) and the vendor (admin token). Its own file, so its process's
// once-per-page warning is its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registerUsageEvent, getUsage, getUsageBreakdown, trackConversion } from 'usage-telemetry';
import {
  serverUrl, publicKey, secretKey, limitedPublicKey, limitedSecretKey, adminToken,
  scenario, faulty, attempts, attemptsEventually, captureWarnings,
} from './helpers.mjs';

test('without a licence key the event is sent with apiKey null, counted as unlicensed, and warned about once', async (t) => {
  const { warnings } = captureWarnings(t);
  const name = scenario();
  const registered = await registerUsageEvent({ endpoint: faulty(name, 'ok'), event: 'webcodec-conversion', host: 'https://unlicensed-node.example.org', succeeded: true });
  assert.deepEqual(registered, { billable: true, classification: 'billable' });
  const [sent] = await attempts(name);
  assert.ok('apiKey' in sent.body);
  assert.equal(sent.body.apiKey, null);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /no licence key is configured: usage is registered as unlicensed/);
  // A second keyless event, through trackConversion too: no second warning.
  const tracked = scenario();
  assert.equal(await trackConversion(async () => 'done', { endpoint: faulty(tracked, 'ok'), host: 'https://unlicensed-node.example.org' }), 'done');
  const [report] = await attemptsEventually(tracked, 1);
  assert.equal(report.body.apiKey, null);
  assert.equal(warnings.length, 1, warnings.join('\n'));

  const view = await getUsageBreakdown({ apiKey: adminToken, endpoint: serverUrl });
  const listed = view.unlicensed.origins.find((o) => o.origin === 'https://unlicensed-node.example.org');
  assert.ok(listed, JSON.stringify(view.unlicensed));
  assert.ok(listed.billable >= 2);
  assert.ok(!view.origins.some((o) => o.origin === 'https://unlicensed-node.example.org' && o.license !== null));
});

test('free-license is sent as is and counted apart from every key', async () => {
  const name = scenario();
  const before = await getUsage({ apiKey: secretKey, endpoint: serverUrl });
  await registerUsageEvent({ licenseKey: 'free-license', endpoint: faulty(name, 'ok'), event: 'webcodec-conversion', host: 'https://hobby-node.example.org', succeeded: true });
  assert.equal((await attempts(name))[0].body.apiKey, 'free-license');
  assert.deepEqual(await getUsage({ apiKey: secretKey, endpoint: serverUrl }), before);
  const view = await getUsageBreakdown({ apiKey: adminToken, endpoint: serverUrl });
  assert.ok(view.freeLicense.origins.some((o) => o.origin === 'https://hobby-node.example.org'));
  assert.ok(view.origins.some((o) => o.origin === 'https://hobby-node.example.org' && o.license === 'free-license'));
});

test('overLimit and the monthly limit are passed through', async () => {
  const over = await registerUsageEvent({ licenseKey: limitedPublicKey, endpoint: serverUrl, event: 'cloud-render', host: 'https://limited.example.org', succeeded: true });
  assert.deepEqual(over, { billable: true, classification: 'billable', overLimit: true });
  const development = await registerUsageEvent({ licenseKey: limitedPublicKey, endpoint: serverUrl, event: 'cloud-render', host: 'http://localhost', succeeded: true });
  assert.deepEqual(development, { billable: false, classification: 'development' });
  const usage = await getUsage({ apiKey: limitedSecretKey, endpoint: serverUrl });
  assert.equal(usage.limit.monthlyBillable, 0);
  assert.ok(usage.limit.used >= 1);
  assert.equal(usage.limit.remaining, 0);
  assert.ok(usage.limit.periodStart <= Date.now() && Date.now() < usage.limit.periodEnd);
  // A key without a limit has no limit field.
  assert.equal('limit' in await getUsage({ apiKey: secretKey, endpoint: serverUrl }), false);
});

test('getUsageBreakdown reads a licensee\'s series, origins and totals, checked before sending', async () => {
  await registerUsageEvent({ licenseKey: publicKey, endpoint: serverUrl, event: 'webcodec-conversion', host: 'https://breakdown-node.example.org', succeeded: true });
  const since = Date.now() - 2 * 86_400_000;
  const breakdown = await getUsageBreakdown({ apiKey: secretKey, endpoint: serverUrl, since, granularity: 'hour' });
  assert.equal(breakdown.granularity, 'hour');
  assert.equal(breakdown.since, since);
  assert.ok(breakdown.series.length >= 48 && breakdown.series.length <= 49);
  assert.ok(breakdown.origins.some((o) => o.origin === 'https://breakdown-node.example.org' && o.billable >= 1));
  const usage = await getUsage({ apiKey: secretKey, endpoint: serverUrl, since });
  assert.deepEqual(breakdown.totals.webcodecConversions, usage.webcodecConversions);
  const summed = breakdown.series.reduce((sum, bucket) => sum + bucket.webcodecConversions.billable, 0);
  assert.equal(summed, usage.webcodecConversions.billable);

  const name = scenario();
  for (const [options, message] of [
    [{ apiKey: publicKey }, /^getUsage needs the secret key/],
    [{ apiKey: secretKey, granularity: 'week' }, /^granularity: unknown variant `week`/],
    [{ apiKey: secretKey, since: Date.now() - 8 * 86_400_000, granularity: 'hour' }, /^granularity `hour` is for ranges up to 7 days/],
    [{ apiKey: secretKey, until: Date.now() + 86_400_000 }, /^until must not be in the future/],
  ]) {
    await assert.rejects(getUsageBreakdown({ ...options, endpoint: faulty(name, 'ok') }), (err) => {
      assert.equal(err.code, 'invalid');
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal((await attempts(name)).length, 0, 'nothing was sent');
  await assert.rejects(getUsageBreakdown({ apiKey: 'rm_adm_unknown', endpoint: serverUrl }), (err) => {
    assert.equal(err.status, 401);
    assert.match(err.message, /the admin token is not known/);
    return true;
  });
});
