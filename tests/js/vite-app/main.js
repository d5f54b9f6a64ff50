// A Vite app bundling the package: the .wasm becomes a hashed asset, loaded by the
// first call (no init()).
import { registerUsageEvent, trackConversion, configure } from 'usage-telemetry';

window.viteApp = {
  register: (options) => registerUsageEvent(options),
  track: (endpoint, licenseKey) => {
    configure({ endpoint, licenseKey });
    return trackConversion(async () => 'bundled');
  },
};
document.body.dataset.ready = 'yes';
