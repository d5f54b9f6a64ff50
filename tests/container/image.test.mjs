// The container image (scripts/image.sh builds it) run with podman, as a vendor
// runs it: register and read through the published port; the SQLite data kept in
// the volume across a restart; SIGTERM (podman stop) ends it within the shutdown
// deadline with every acknowledged event kept; and the same image serving from a
// PostgreSQL this test starts on the host.
//
//   node --test tests/container/          (after scripts/image.sh)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const IMAGE = process.env.USAGE_IMAGE ?? 'usage-server:latest';
// This machine's kernel needs runc (crun fails on its hybrid cgroups), and the
// sandbox cannot raise limits: both are given explicitly.
const RUN = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];
const SHUTDOWN_SECS = 10;
const suffix = `${process.pid}`;
const cleanups = [];

const podman = (...args) => execFileSync('podman', args, { encoding: 'utf8' }).trim();
/** A container's output: its stdout, then its stderr (the log lines). */
const logs = (name) => {
  const result = spawnSync('podman', ['logs', name], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`;
};

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits for `url` to answer 200: the container started and migrated. */
async function ready(url, container) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${container} never became ready:\n${logs(container)}`);
    // The container's start is not an event this process can await: poll /readyz.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function register(url, body) {
  const response = await fetch(`${url}/api/track/register-usage-point`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.status;
}

async function billable(url, secretKey) {
  const response = await fetch(`${url}/api/track/get-usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey: secretKey, since: null }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).webcodecConversions.billable;
}

const event = (apiKey, n) => ({
  event: 'webcodec-conversion', apiKey, host: 'https://customer.com', succeeded: true,
  eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
});

before(() => {
  assert.ok(podman('image', 'exists', IMAGE) === '', `${IMAGE} is built (scripts/image.sh)`);
});

after(() => {
  for (const cleanup of cleanups.reverse()) {
    try { cleanup(); } catch { /* best effort */ }
  }
});

test('SQLite in a volume: served on the published port, kept across restarts, SIGTERM keeps every acknowledged event', async () => {
  const name = `usage-test-${suffix}`;
  const volume = `usage-test-data-${suffix}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  cleanups.push(() => podman('rm', '-f', name), () => podman('volume', 'rm', '-f', volume));
  podman('run', '-d', '--name', name, ...RUN, '-p', `127.0.0.1:${port}:8787`, '-v', `${volume}:/data`,
    '-e', `USAGE_SHUTDOWN_TIMEOUT_SECS=${SHUTDOWN_SECS}`, '-e', 'USAGE_RATE_LIMIT_PER_KEY=0', IMAGE);
  await ready(url, name);
  assert.equal(podman('inspect', name, '--format', '{{.Config.User}}'), '65532:65532', 'not root');
  const key = JSON.parse(podman('exec', name, '/usage-server', 'keys', 'create', '--name', 'acme'));

  // Registrations from 8 clients while the container is told to stop.
  let sent = 0;
  let acknowledged = 0;
  let stopping = false;
  const clients = Array.from({ length: 8 }, async (_, client) => {
    for (let n = 0; !stopping; n++) {
      sent++;
      try {
        if (await register(url, event(key.publicKey, client * 1_000_000 + n)) === 200) acknowledged++;
      } catch {
        return; // the server closed: it is stopping
      }
    }
  });
  while (acknowledged < 200) await new Promise((resolve) => setImmediate(resolve));
  const started = Date.now();
  podman('stop', '--time', String(SHUTDOWN_SECS + 5), name);
  const stoppedAfter = Date.now() - started;
  stopping = true;
  await Promise.all(clients);
  assert.equal(podman('inspect', name, '--format', '{{.State.ExitCode}}'), '0', 'a clean exit on SIGTERM, as PID 1');
  assert.ok(stoppedAfter < SHUTDOWN_SECS * 1000, `stopped within the shutdown deadline: ${stoppedAfter} ms`);
  const output = logs(name);
  assert.match(output, /"message":"usage-server stopped; every acknowledged event is stored"/);
  for (const line of output.split('\n').filter((l) => l.startsWith('{'))) JSON.parse(line);

  // The same volume, a restarted container: every acknowledged event is there.
  podman('start', name);
  await ready(url, name);
  const counted = await billable(url, key.secretKey);
  assert.ok(counted >= acknowledged && counted <= sent, `acknowledged ${acknowledged} ≤ counted ${counted} ≤ sent ${sent}`);
  assert.equal(await register(url, event(key.publicKey, 999_999_999)), 200);
  assert.equal(await billable(url, key.secretKey), counted + 1);
  podman('stop', '--time', String(SHUTDOWN_SECS), name);
});

test('the image serves from a PostgreSQL on the host', async () => {
  const bin = readdirSync('/usr/lib/postgresql').map((version) => `/usr/lib/postgresql/${version}/bin`)
    .filter((dir) => existsSync(`${dir}/initdb`)).sort().pop();
  assert.ok(bin, 'PostgreSQL is installed (scripts/setup.sh)');
  const dir = mkdtempSync(join(tmpdir(), 'usage-image-pg-'));
  const asPostgres = process.getuid() === 0;
  const pg = (program, args) => {
    const [command, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', `${bin}/${program}`, ...args]] : [`${bin}/${program}`, args];
    const result = spawnSync(command, argv, { encoding: 'utf8' });
    assert.equal(result.status, 0, `${program}: ${result.stderr}`);
  };
  if (asPostgres) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const pgPort = await freePort();
  pg('initdb', ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  pg('pg_ctl', ['-D', `${dir}/data`, '-o', `-c listen_addresses=127.0.0.1 -p ${pgPort} -k ${dir} -c fsync=off`, '-l', `${dir}/log`, '-w', 'start']);
  cleanups.push(() => { pg('pg_ctl', ['-D', `${dir}/data`, '-m', 'immediate', 'stop']); rmSync(dir, { recursive: true, force: true }); });

  const name = `usage-test-pg-${suffix}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const database = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
  cleanups.push(() => podman('rm', '-f', name));
  // The host's loopback PostgreSQL: the container shares the host's network.
  podman('run', '-d', '--name', name, ...RUN, '--network', 'host',
    '-e', `USAGE_DATABASE_URL=${database}`, '-e', `USAGE_SERVER_ADDR=127.0.0.1:${port}`, IMAGE);
  await ready(url, name);
  const key = JSON.parse(podman('exec', name, '/usage-server', 'keys', 'create', '--name', 'acme'));
  for (let n = 0; n < 5; n++) assert.equal(await register(url, event(key.publicKey, n)), 200);
  assert.equal(await billable(url, key.secretKey), 5);
  assert.match(logs(name), /"engine":"Postgres"/);
  podman('stop', '--time', String(SHUTDOWN_SECS), name);
});
