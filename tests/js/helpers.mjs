// Shared by the JavaScript tests: the servers scripts/test.sh started, and the
// fault proxy's log of attempts.
import { randomUUID } from 'node:crypto';
import { getUsage } from 'usage-telemetry';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through ./scripts/test.sh`);
  return value;
}

export const serverUrl = required('USAGE_SERVER_URL');
export const faultUrl = required('FAULT_SERVER_URL');
export const publicKey = required('USAGE_TEST_PUBLIC_KEY');
export const secretKey = required('USAGE_TEST_SECRET_KEY');
/** A licence with a monthly limit of 0: every billable event is over it. */
export const limitedPublicKey = required('USAGE_TEST_LIMITED_PUBLIC_KEY');
export const limitedSecretKey = required('USAGE_TEST_LIMITED_SECRET_KEY');
export const adminToken = required('USAGE_TEST_ADMIN_TOKEN');

export const scenario = () => randomUUID();
export const faulty = (name, mode) => `${faultUrl}/s/${name}/${mode}`;

/** The attempts the fault proxy saw for a scenario: [{ at, body }], body parsed. */
export async function attempts(name) {
  const log = await (await fetch(`${faultUrl}/log/${name}`)).json();
  return log.map(({ at, body }) => ({ at, body: JSON.parse(body) }));
}

/** Waits (bounded) for background registrations to reach the proxy and be done
 * with there (a forwarded one answered by the server, so counted). */
export async function attemptsEventually(name, count) {
  for (let i = 0; i < 200; i++) {
    const log = await (await fetch(`${faultUrl}/log/${name}`)).json();
    if (log.length >= count && log.every((attempt) => attempt.settled)) return attempts(name);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the fault proxy never saw ${count} attempts for ${name}`);
}

/** A loopback URL where nothing listens (a port just released). */
export async function closedUrl() {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** Records console.warn during a test `t`; `nextWarning()` resolves with the next one. */
export function captureWarnings(t) {
  const warnings = [];
  let waiting = [];
  t.mock.method(console, 'warn', (...args) => {
    warnings.push(args.join(' '));
    for (const resolve of waiting) resolve(warnings.at(-1));
    waiting = [];
  });
  return { warnings, nextWarning: () => new Promise((resolve) => waiting.push(resolve)) };
}

/** A new licence key pair in the test server's database (the server binary's CLI),
 * so a test counts its own events exactly. */
export async function freshKeys(name) {
  const { execFileSync } = await import('node:child_process');
  const database = required('USAGE_DATABASE_URL');
  const { fileURLToPath } = await import('node:url');
  const binary = fileURLToPath(new URL('../../target/debug/usage-server', import.meta.url));
  const out = execFileSync(binary, ['keys', 'create', '--name', name], { env: { ...process.env, USAGE_DATABASE_URL: database } });
  return JSON.parse(out.toString());
}

/** Makes a `down` scenario's server reachable. */
export async function bringUp(name) {
  await fetch(`${faultUrl}/up/${name}`, { method: 'POST' });
}

/** This month's development conversions of a key (a local page counts as development). */
export async function developmentCount(keys) {
  return (await getUsage({ apiKey: keys.secretKey, endpoint: serverUrl })).webcodecConversions.development;
}

/** Waits (bounded) until the key counts at least `expected` development conversions; returns the count. */
export async function countReaches(keys, expected) {
  for (let i = 0; i < 300; i++) {
    if ((await developmentCount(keys)) >= expected) return developmentCount(keys);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return developmentCount(keys);
}

export { serveTestPages, chromiumOptions } from './site.mjs';
