// `tsc -p tests/js/tsconfig.json` (strict, no emit): every export of the package,
// used the way an app would, must type-check; the @ts-expect-error lines must fail.
import init, {
  classifyHost,
  configure,
  getUsage,
  getUsageBreakdown,
  registerUsageEvent,
  trackConversion,
  type Classification,
  type ConfigureOptions,
  type GetUsageBreakdownOptions,
  type GetUsageOptions,
  type HostClassification,
  type RegisterUsageEventOptions,
  type RegisterUsageEventResult,
  type RegistrationOutcome,
  type TrackConversionOptions,
  type Usage,
  type UsageBreakdown,
  type UsageCounts,
  type UsageLimit,
  type UsageTelemetryError,
  type VendorUsage,
} from 'usage-telemetry';

async function app(): Promise<void> {
  await init();
  const config: ConfigureOptions = { endpoint: 'https://licensing.example.com', licenseKey: 'rm_pub_x', logLevel: 'warn', retry: { retries: 2 } };
  configure(config);

  const options: RegisterUsageEventOptions = { licenseKey: 'rm_pub_x', event: 'webcodec-conversion', succeeded: true, host: null };
  const result: RegisterUsageEventResult = await registerUsageEvent(options);
  const billable: boolean = result.billable;
  const classification: Classification = result.classification;

  const query: GetUsageOptions = { apiKey: 'rm_sec_x', since: Date.now() - 86_400_000 };
  const usage: Usage = await getUsage(query);
  const counts: UsageCounts = usage.webcodecConversions;
  const total: number = counts.billable + counts.development + counts.failed + usage.cloudRenders.billable + usage.webRenders.failed;

  const keyless: RegisterUsageEventOptions = { licenseKey: null, event: 'webcodec-conversion', succeeded: true };
  const over: boolean | undefined = (await registerUsageEvent(keyless)).overLimit;
  const limit: UsageLimit | undefined = usage.limit;
  const remaining: number = limit ? limit.remaining + limit.periodEnd - limit.periodStart : 0;

  const range: GetUsageBreakdownOptions = { apiKey: 'rm_sec_x', since: null, until: Date.now(), granularity: 'hour' };
  const answer: UsageBreakdown | VendorUsage = await getUsageBreakdown(range);
  if ('licenses' in answer) {
    const unpaid: (string | null)[] = answer.unlicensed.origins.map((o) => o.origin);
    const licence: string | null | undefined = answer.origins[0]?.license;
    console.log(unpaid, licence, answer.licenses[0]?.limit?.used);
  } else {
    const bucket = answer.series[0];
    const first: number = bucket ? bucket.start + bucket.webcodecConversions.billable : 0;
    console.log(first, answer.otherOrigins.failed, answer.totals.cloudRenders.billable, answer.limit?.remaining);
  }

  const host: HostClassification = classifyHost('https://customer.com');

  const tracking: TrackConversionOptions = {
    event: 'web-render',
    onRegistered: (outcome: RegistrationOutcome) => {
      const shown: string = outcome.ok ? `${outcome.classification} ${outcome.body}` : outcome.error.code;
      console.log(shown);
    },
  };
  const executed: void = await trackConversion({ execute: async () => undefined }, tracking);
  const blob: Blob = await trackConversion(async () => new Blob(['frames']), tracking);
  const size: number = await trackConversion(Promise.resolve(blob.size));
  const sync: string = await trackConversion(() => 'already done', {});

  try {
    await registerUsageEvent({ ...options, endpoint: 'https://licensing.example.com' });
  } catch (error) {
    const failure = error as UsageTelemetryError;
    const code: 'invalid' | 'no_endpoint' | 'secret_key_in_browser' | 'network' | 'timeout' | 'server' | 'not_json' | 'unavailable' = failure.code;
    const status: number | undefined = failure.status;
    console.log(code, status, failure.message);
  }

  // @ts-expect-error: `succeeded` must be a boolean
  await registerUsageEvent({ licenseKey: 'rm_pub_x', event: 'webcodec-conversion', succeeded: 'yes' });
  // @ts-expect-error: unknown event kind
  await registerUsageEvent({ licenseKey: 'rm_pub_x', event: 'render', succeeded: true });
  // @ts-expect-error: trackConversion decides `succeeded` itself
  await trackConversion(Promise.resolve(1), { succeeded: true });
  // @ts-expect-error: granularity is `day` or `hour`
  await getUsageBreakdown({ apiKey: 'rm_sec_x', granularity: 'week' });
  // @ts-expect-error: the result keeps the conversion's type
  const wrong: string = await trackConversion(Promise.resolve(1));

  console.log(billable, classification, total, host, size, sync, wrong, over, remaining, executed);
}

void app;
