// The module's stand-in when its WebAssembly cannot be used: a page whose
// Content-Security-Policy lacks 'wasm-unsafe-eval', an engine without
// WebAssembly, a .wasm that did not download. The entry (index.js) loads this
// file only then, so other pages never download it.
//
// Registrations still go out as the module sends them: the same JSON body with
// an eventId, to the same endpoint, as a text/plain POST without credentials,
// with keepalive, retried with the same backoff; a secret key or admin token is
// still never sent.
// What it leaves out (README, "Content Security Policy"): the persisted queue and
// batches, reading usage, classifyHost(), and the checks the server makes anyway
// (host, eventId, isStill, isProduction).

/** Below the endpoint, as the module's `REGISTER_PATH`. */
const REGISTER_PATH = '/api/track/register-usage-point';
const EVENTS = ['webcodec-conversion', 'cloud-render', 'web-render'];
const LOG_LEVELS = ['silent', 'warn', 'verbose'];
/** The module's delivery defaults: 3 retries after ~1 s, 2 s, 4 s (±50 %), 10 s per attempt. */
const DEFAULT_RETRY = { retries: 3, baseDelayMs: 1000, timeoutMs: 10_000 };
/** The longest `Retry-After` honoured, as the module's. */
const MAX_RETRY_AFTER_MS = 30_000;
/** What to add, said wherever the stand-in explains itself. */
const CSP_ADVICE = "If the page's Content-Security-Policy blocks it, add 'wasm-unsafe-eval' to script-src";

/** Errors shaped as the module's: `name`, `code`, and `status` when the server answered. */
function telemetryError(code, message, status) {
  const error = new Error(message);
  error.name = 'UsageTelemetryError';
  error.code = code;
  if (status !== undefined) error.status = status;
  return error;
}

const invalid = (field, rule) => telemetryError('invalid', `${field}: ${rule}`);

/** An `http(s)://` base URL without query, fragment or trailing slash (else undefined), as the module's. */
function baseUrl(endpoint) {
  const trimmed = typeof endpoint === 'string' ? endpoint.trim().replace(/\/+$/, '') : '';
  return /^https?:\/\/[^?# ]+$/.test(trimmed) ? trimmed : undefined;
}

function checkedEndpoint(endpoint) {
  const base = baseUrl(endpoint);
  if (base) return base;
  throw invalid('endpoint', `must be an http(s) URL such as https://licensing.example.com, without query or fragment (got \`${endpoint}\`)`);
}

/** The key a registration may carry: a public key, `'free-license'`, or none. */
function checkPublicKey(key, field) {
  if (key === null || key === 'free-license' || (typeof key === 'string' && /^rm_pub_./.test(key))) return;
  throw invalid(field, 'must be a public key (rm_pub_…) or "free-license"; secret keys and admin tokens never go in a page');
}

/** Each retry option's range, as the module's. */
const RETRY_RANGES = { retries: [0, 10], baseDelayMs: [0, 60_000], timeoutMs: [1, 120_000] };

/** The call's retry options over `base`, field by field, each checked against its range. */
function retryWith(base, over) {
  if (over === undefined || over === null) return base;
  if (typeof over !== 'object') throw invalid('retry', 'must be an object such as { retries, baseDelayMs, timeoutMs }');
  const retry = { ...base };
  for (const [field, [min, max]] of Object.entries(RETRY_RANGES)) {
    const value = over[field];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < min || value > max) throw invalid(`retry.${field}`, `must be from ${min} to ${max} (got ${value})`);
    retry[field] = value;
  }
  return retry;
}

/** A version 7 UUID (time-ordered), as the module makes them. */
function freshEventId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 5, time = Date.now(); i >= 0; i--, time = Math.floor(time / 256)) bytes[i] = time % 256;
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * POSTs a registration until the server answers, retrying a network error, a
 * timeout, 429 and 503 as the module does; resolves with how it was counted.
 */
async function deliver({ url, body, retry }) {
  for (let attempt = 1; ; attempt++) {
    let wait = retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
    let failure;
    let response;
    let text;
    try {
      response = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        credentials: 'omit',
        mode: 'cors',
        keepalive: true,
        signal: AbortSignal.timeout?.(retry.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      failure = error?.name === 'TimeoutError'
        ? telemetryError('timeout', `the usage server at ${url} did not answer within ${retry.timeoutMs} ms (${attempt} attempts)`)
        : telemetryError('network', `could not reach the usage server at ${url} (${attempt} attempts): ${error}`);
    }
    if (!failure) {
      const answer = parseJson(text);
      if (response.ok && answer?.success === true && typeof answer.billable === 'boolean') {
        const registered = { billable: answer.billable, classification: answer.classification };
        if (answer.overLimit === true) registered.overLimit = true;
        return registered;
      }
      const { status } = response;
      if (typeof answer?.error !== 'string') {
        throw telemetryError('not_json', `the usage server answered ${status} with a body that is not the usage API's JSON: ${text.slice(0, 200)}`, status);
      }
      failure = telemetryError('server', `the usage server answered ${status}: ${answer.error}`, status);
      if (status !== 429 && status !== 503) throw failure;
      const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
      if (retryAfter >= 0) wait = Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS);
    }
    if (attempt > retry.retries) throw failure;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * The API the entry calls instead of the module's. `reason` is why the module
 * did not load; the first registration warns once with it (unless `logLevel` is
 * `'silent'`), naming the CSP directive that lets the module compile.
 */
export function standIn(reason) {
  const config = {
    // A vendor's endpoint baked in at build time (scripts/build-pkg.sh defines it).
    endpoint: baseUrl(typeof USAGE_TELEMETRY_ENDPOINT === 'string' ? USAGE_TELEMETRY_ENDPOINT : undefined),
    licenseKey: null,
    logLevel: 'warn',
    retry: DEFAULT_RETRY,
  };
  const said = new Set();

  /** A `console.warn`, unless `logLevel` is `'silent'`. */
  function warn(message) {
    if (config.logLevel !== 'silent') console.warn(`usage-telemetry: ${message}`);
  }

  /** One warning per `topic` for this page. */
  function warnOnce(topic, message) {
    if (config.logLevel === 'silent' || said.has(topic)) return;
    said.add(topic);
    warn(message);
  }

  const unavailable = (call) =>
    telemetryError('unavailable', `${call} needs the WebAssembly module, which did not load (${reason}). ${CSP_ADVICE}`);

  /** Checks what the module checks but `host`, `eventId`, `isStill` and `isProduction` (the server checks those). */
  function prepare(options) {
    if (!options || typeof options !== 'object') throw invalid('options', 'must be an object such as { licenseKey, event, succeeded }');
    if (!EVENTS.includes(options.event)) throw invalid('event', `must be one of ${EVENTS.join(', ')} (got \`${options.event}\`)`);
    if (typeof options.succeeded !== 'boolean') throw invalid('succeeded', 'must be true or false');
    const field = options.licenseKey !== undefined ? 'licenseKey' : 'apiKey';
    const key = options.licenseKey ?? options.apiKey ?? config.licenseKey;
    checkPublicKey(key, field);
    const base = options.endpoint !== undefined ? checkedEndpoint(options.endpoint) : config.endpoint;
    if (!base) throw telemetryError('no_endpoint', "no endpoint configured: pass `endpoint`, or call configure({ endpoint: 'https://…' }) first");
    const body = {
      event: options.event,
      apiKey: key,
      host: options.host !== undefined ? options.host : (globalThis.location?.origin ?? null),
      succeeded: options.succeeded,
      eventId: options.eventId ?? freshEventId(),
    };
    if (options.isStill !== undefined) body.isStill = options.isStill;
    if (options.isProduction !== undefined) body.isProduction = options.isProduction;
    if (key === null) {
      warnOnce('unlicensed', "no licence key is configured: usage is registered as unlicensed. Pass licenseKey, or call configure({ licenseKey: 'rm_pub_…' })");
    }
    return { url: `${base}${REGISTER_PATH}`, body: JSON.stringify(body), retry: retryWith(config.retry, options.retry) };
  }

  function send(prepared) {
    warnOnce('stand-in', `the WebAssembly module did not load (${reason}), so registrations go out without it: one at a time, and none is kept for a later view. ${CSP_ADVICE}`);
    return deliver(prepared);
  }

  /** Registers the outcome of `started` once it settles; never throws or rejects. */
  async function report(started, options) {
    let succeeded = true;
    try {
      await started;
    } catch (error) {
      if (error?.name === 'AbortError' || error?.name === 'ConversionCanceledError') return;
      succeeded = false;
    }
    let outcome;
    let prepared;
    try {
      prepared = prepare({ ...options, event: options?.event ?? 'webcodec-conversion', succeeded });
      outcome = { ok: true, ...(await send(prepared)), body: prepared.body };
      if (config.logLevel === 'verbose') console.debug(`usage-telemetry: conversion registered as ${outcome.classification}`);
    } catch (error) {
      outcome = { ok: false, error, body: prepared?.body };
      warn(`the conversion was not registered (the conversion itself is unaffected): ${error.message}`);
    }
    try {
      options?.onRegistered?.(outcome);
    } catch {
      // what the callback throws is ignored, as by the module
    }
  }

  return {
    /** All or nothing, as the module's: a bad option throws and changes nothing. */
    configure(options) {
      if (!options || typeof options !== 'object') throw invalid('options', 'must be an object such as { endpoint, licenseKey }');
      const endpoint = options.endpoint !== undefined ? checkedEndpoint(options.endpoint) : config.endpoint;
      const retry = retryWith(config.retry, options.retry);
      if (options.licenseKey !== undefined) checkPublicKey(options.licenseKey, 'licenseKey');
      if (options.logLevel !== undefined && !LOG_LEVELS.includes(options.logLevel)) {
        throw invalid('logLevel', `unknown variant \`${options.logLevel}\`, expected one of \`silent\`, \`warn\`, \`verbose\``);
      }
      Object.assign(config, {
        endpoint,
        licenseKey: options.licenseKey ?? config.licenseKey,
        logLevel: options.logLevel ?? config.logLevel,
        retry,
      });
    },
    registerUsageEvent: async (options) => send(prepare(options)),
    /** `started` is the conversion's own promise (the entry started it). */
    trackConversion(started, options) {
      report(started, options);
      return started;
    },
    /** Nothing is ever queued here: each registration is sent, or given up, by its own page. */
    flush: async () => ({ sent: 0, pending: 0 }),
    getUsage: async () => {
      throw unavailable('getUsage()');
    },
    getUsageBreakdown: async () => {
      throw unavailable('getUsageBreakdown()');
    },
    classifyHost() {
      throw unavailable('classifyHost()');
    },
  };
}
