// The package from Node CommonJS, by name: as esm.mjs.
const { registerUsageEvent, getUsage } = require('usage-telemetry');

(async () => {
  const endpoint = process.env.USAGE_SERVER_URL;
  const registered = await registerUsageEvent({
    licenseKey: process.env.PUBLIC_KEY, endpoint, host: 'http://localhost:3000', event: 'webcodec-conversion', succeeded: true,
  });
  const usage = await getUsage({ apiKey: process.env.SECRET_KEY, endpoint });
  console.log(JSON.stringify({ registered, development: usage.webcodecConversions.development }));
})();
