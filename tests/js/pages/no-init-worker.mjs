// A module worker that calls the package without init().
import { registerUsageEvent } from '/node_modules/usage-telemetry/web/index.js';

self.onmessage = async ({ data }) => {
  try {
    const registered = await registerUsageEvent({ licenseKey: data.licenseKey, endpoint: data.endpoint, event: 'webcodec-conversion', succeeded: true });
    self.postMessage({ registered });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
