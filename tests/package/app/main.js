// The same small app for every bundler: it imports the package by name and
// registers when the test asks, with no init() (the first call loads the module).
import { registerUsageEvent, classifyHost } from 'usage-telemetry';

window.app = {
  register: (options) => registerUsageEvent(options),
  classify: (host) => classifyHost(host),
};
document.body.dataset.ready = 'yes';
