// Type-checked under moduleResolution "bundler" and "node16" (ESM): every export
// with its types, as an app imports them.
import init, {
  registerUsageEvent, getUsage, getUsageBreakdown, classifyHost, trackConversion, configure, flush,
  type RegisterUsageEventResult, type HostClassification,
} from 'usage-telemetry';

export async function use(): Promise<void> {
  await init();
  configure({ endpoint: 'https://usage.example.com', licenseKey: 'rm_pub_x' });
  const result: RegisterUsageEventResult = await registerUsageEvent({ licenseKey: 'rm_pub_x', event: 'webcodec-conversion', succeeded: true });
  const kind: HostClassification = classifyHost('https://shop.example.com');
  const output: string = await trackConversion(async () => 'converted');
  await flush();
  const usage = await getUsage({ apiKey: 'rm_sec_x', endpoint: 'https://usage.example.com' });
  const breakdown = await getUsageBreakdown({ apiKey: 'rm_sec_x', endpoint: 'https://usage.example.com' });
  console.log(result.classification, kind, output, usage.webcodecConversions.billable, breakdown.granularity);
}
