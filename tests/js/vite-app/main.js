// A Vite app bundling the package: the .wasm becomes a hashed asset.
import init, { registerUsageEvent, trackConversion, configure } from 'usage-telemetry';

await init();
window.viteApp = {
  register: (options) => registerUsageEvent(options),
  track: (endpoint, licenseKey) => {
    configure({ endpoint, licenseKey });
    return trackConversion(async () => 'bundled');
  },
};
document.body.dataset.ready = 'yes';
