// csp.html's script: the page has no inline script (its policy forbids them), so
// what index.html does inline happens here. `?endpoint=…&key=…` configure the
// package at start, as an app does; site.mjs puts the endpoint in connect-src.
import * as telemetry from '/node_modules/usage-telemetry/web/index.js';

// What the page warns and any error, for WebDriver, which cannot read the console in every engine.
window.warnings = [];
window.errors = [];
const warn = console.warn.bind(console);
console.warn = (...args) => { window.warnings.push(args.join(' ')); warn(...args); };
const error = console.error.bind(console);
console.error = (...args) => { window.errors.push(args.join(' ')); error(...args); };
window.addEventListener('error', (event) => window.errors.push(`error: ${event.message}`));
window.addEventListener('unhandledrejection', (event) => window.errors.push(`unhandled rejection: ${event.reason}`));

const params = new URLSearchParams(location.search);
telemetry.configure({ endpoint: params.get('endpoint'), licenseKey: params.get('key') });
window.telemetry = telemetry;
document.body.dataset.ready = 'yes';
