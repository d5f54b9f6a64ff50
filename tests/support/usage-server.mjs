// Starts `usage-server serve` on a loopback port for the JavaScript tests and
// resolves with the URL it prints first ("usage-server listening on http://…").
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** `bin serve --addr 127.0.0.1:0 …args` with `env`; `{ url, stop }` once it listens. */
export async function startUsageServer(bin, args = [], env = process.env) {
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...args], {
    env: { ...env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`usage-server exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const match = /listening on (http:\S+)/.exec(line);
      if (match) resolve(match[1]);
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  return { url, stop: () => child.kill('SIGTERM') };
}
