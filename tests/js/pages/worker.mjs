// A module worker, where conversions usually run: registers on request.
import init, { registerUsageEvent, trackConversion } from '/node_modules/usage-telemetry/web/usage_telemetry.js';

const ready = init();
self.onmessage = async ({ data }) => {
  await ready;
  try {
    const registered = await registerUsageEvent({ licenseKey: data.licenseKey, endpoint: data.endpoint, event: 'webcodec-conversion', succeeded: true });
    const converted = await trackConversion(async () => 'frames', { licenseKey: data.licenseKey, endpoint: data.trackEndpoint });
    self.postMessage({ registered, converted, origin: self.location.origin });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
