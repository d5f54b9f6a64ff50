// The package from Node ESM, by name: one registration from a local host, then
// the licence's usage read back. Prints both as JSON.
import { registerUsageEvent, getUsage } from 'usage-telemetry';

const endpoint = process.env.USAGE_SERVER_URL;
const registered = await registerUsageEvent({
  licenseKey: process.env.PUBLIC_KEY, endpoint, host: 'http://localhost:3000', event: 'webcodec-conversion', succeeded: true,
});
const usage = await getUsage({ apiKey: process.env.SECRET_KEY, endpoint });
console.log(JSON.stringify({ registered, development: usage.webcodecConversions.development }));
