// Type-checked under moduleResolution "node16" as CommonJS: require() gets the
// CJS types (node/index.d.cts).
import telemetry = require('usage-telemetry');

export async function use(): Promise<void> {
  const result = await telemetry.registerUsageEvent({ licenseKey: 'rm_pub_x', event: 'webcodec-conversion', succeeded: true });
  const kind: 'billable' | 'development' = telemetry.classifyHost('https://shop.example.com');
  await telemetry.default();
  console.log(result.billable, kind);
}
