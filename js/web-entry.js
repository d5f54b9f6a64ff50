// The package's entry for pages, workers and bundlers (pkg/web/index.js): every
// export works without calling init() first. Importing it and calling configure()
// load nothing more: the module's JavaScript and its .wasm (beside this file,
// found with new URL(…, import.meta.url), so Vite and webpack bundle it) are
// fetched by the first call that needs them, so a page that never converts never
// downloads them. init() stays for loading early or from a custom .wasm location;
// wasm-bindgen's initSync() does not: nothing can be synchronous before the
// module's JavaScript has loaded.

/** The module's JavaScript, once it and its .wasm have loaded. */
let wasm;
let loading;
/** configure() calls made before the module loaded, applied in order when it has. */
const early = [];

/** Loads the module once; `input` as wasm-bindgen's init takes it. */
export default function init(input) {
  loading ??= import('./usage_telemetry.js').then(async (module) => {
    const output = await module.default(input);
    wasm = module;
    wasm.__start(); // re-send what earlier views left, before any call
    for (const options of early.splice(0)) {
      try {
        wasm.configure(options);
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
  return wasm[name](options);
};

export const registerUsageEvent = afterLoading('registerUsageEvent');
export const getUsage = afterLoading('getUsage');
export const getUsageBreakdown = afterLoading('getUsageBreakdown');
export const flush = afterLoading('flush');

/**
 * Before the module loaded, options are kept and applied when it has (an invalid
 * one then warns); configuring loads nothing.
 */
export function configure(options) {
  if (wasm) return wasm.configure(options);
  early.push(options && typeof options === 'object' ? { ...options } : options);
}

/** Synchronous, so it needs the module loaded: after init() or any other call has settled. */
export function classifyHost(host) {
  if (!wasm) {
    throw new Error('usage-telemetry: classifyHost() needs the module loaded: await init() (or any other call) first');
  }
  return wasm.classifyHost(host);
}

/**
 * The conversion starts now and its own promise is returned at once, whether or
 * not the module has loaded; the registration follows when it has. A module that
 * cannot load costs one warning, never the conversion.
 */
export function trackConversion(conversion, options) {
  if (wasm) return wasm.trackConversion(conversion, options);
  const started = start(conversion);
  const kept = options && typeof options === 'object' ? { ...options } : options;
  init().then(
    () => wasm.trackConversion(started, kept).catch(() => {}),
    (error) => console.warn(`usage-telemetry: the module did not load; the conversion was not registered: ${error}`),
  );
  return started;
}

/** As the module's own: called if a function, executed if it has execute(), resolved otherwise. */
function start(conversion) {
  const call = (fn, self) => {
    try {
      return Promise.resolve(fn.call(self));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  if (typeof conversion === 'function') return call(conversion, undefined);
  if (conversion && typeof conversion === 'object' && !(conversion instanceof Promise) && typeof conversion.execute === 'function') {
    return call(conversion.execute, conversion);
  }
  return Promise.resolve(conversion);
}
