// The package's entry for pages, workers and bundlers (pkg/web/index.js): every
// export works without calling init() first. Importing it and calling configure()
// load nothing more: the module's JavaScript and its .wasm (beside this file,
// found with new URL(…, import.meta.url), so Vite and webpack bundle it) are
// fetched by the first call that needs them, so a page that never converts never
// downloads them. Where the WebAssembly cannot be used (a Content-Security-Policy
// without 'wasm-unsafe-eval', say), fallback.js stands in: registrations still go
// out. init() stays for loading early or from a custom .wasm location;
// wasm-bindgen's initSync() does not: nothing can be synchronous before the
// module's JavaScript has loaded.

/** What the exports call once loaded: the module's JavaScript, or the stand-in. */
let api;
let loading;
/** configure() calls made before loading, applied in order once loaded. */
const early = [];

/** Loads the module once; `input` as wasm-bindgen's init takes it. */
export default function init(input) {
  loading ??= import('./usage_telemetry.js')
    .then(async (module) => {
      const output = await module.default(input);
      module.__start(); // re-send what earlier views left, before any call
      return [module, output];
    })
    .catch(async (reason) => [(await import('./fallback.js')).standIn(reason)])
    .then(([loaded, output]) => {
      api = loaded;
      for (const options of early.splice(0)) {
        try {
          api.configure(options);
        } catch (error) {
          console.warn(`usage-telemetry: configure() before the module loaded was ignored: ${error.message}`);
        }
      }
      return output;
    });
  return loading;
}

/** An export that loads the module, then calls the module's own. */
const afterLoading = (name) => async (options) => {
  await init();
  return api[name](options);
};

export const registerUsageEvent = afterLoading('registerUsageEvent');
export const getUsage = afterLoading('getUsage');
export const getUsageBreakdown = afterLoading('getUsageBreakdown');
export const flush = afterLoading('flush');

/** A copy of an options object, so later changes by the caller do not reach a call made now. */
const copy = (options) => (options && typeof options === 'object' ? { ...options } : options);

/**
 * Before the module loaded, options are kept and applied when it has (an invalid
 * one then warns); configuring loads nothing.
 */
export function configure(options) {
  if (api) return api.configure(options);
  early.push(copy(options));
}

/** Synchronous, so it needs the module loaded: after init() or any other call has settled. */
export function classifyHost(host) {
  if (!api) {
    throw new Error('usage-telemetry: classifyHost() needs the module loaded: await init() (or any other call) first');
  }
  return api.classifyHost(host);
}

/**
 * The conversion starts now and its own promise is returned, whether or not the
 * module has loaded; the registration follows once it has. A module that cannot
 * load costs one warning, never the conversion.
 */
export function trackConversion(conversion, options) {
  const started = start(conversion);
  const kept = copy(options);
  init().then(
    () => api.trackConversion(started, kept).catch(() => {}),
    (error) => console.warn(`usage-telemetry: the module did not load; the conversion was not registered: ${error}`),
  );
  return started;
}

/**
 * As the module's own: called if a function, executed if it has execute() (a
 * Mediabunny `Conversion`), resolved otherwise; a synchronous throw becomes a
 * rejection, as in an async function.
 */
function start(conversion) {
  return new Promise((resolve) => {
    const executable = conversion && typeof conversion === 'object' && !(conversion instanceof Promise) && typeof conversion.execute === 'function';
    resolve(typeof conversion === 'function' ? conversion() : executable ? conversion.execute() : conversion);
  });
}
