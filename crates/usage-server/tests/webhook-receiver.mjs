// A webhook receiver on loopback for the tests: it verifies every message with
// the reference Standard Webhooks implementation (npm `standardwebhooks`, not
// the server's code) and prints one JSON line per request on stdout.
//
//   node webhook-receiver.mjs [PORT]       first line: {"port": N}
//   PUT /control {"secret": "whsec_…", "mode": "ok" | "fail" | "hold"}
//     ok: 204; fail: 500; hold: never answers (the server's attempt hangs).
//   Each webhook request: {"id", "verified", "error"?, "body", "mode"}.
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../../tools/package.json', import.meta.url));
const { Webhook } = require('standardwebhooks');

let secret = null;
let mode = 'ok';
const held = [];

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (request.url === '/control') {
      const control = JSON.parse(body);
      if (control.secret !== undefined) secret = control.secret;
      if (control.mode !== undefined) mode = control.mode;
      response.writeHead(204).end();
      return;
    }
    const line = { id: request.headers['webhook-id'] ?? null, mode, verified: false };
    try {
      line.body = new Webhook(secret).verify(body, request.headers);
      line.verified = true;
    } catch (error) {
      line.error = String(error && error.message ? error.message : error);
      try { line.body = JSON.parse(body); } catch { line.body = body; }
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
    if (mode === 'hold') {
      held.push(response); // never answered: the server's attempt times out or the server dies
    } else {
      response.writeHead(mode === 'fail' ? 500 : 204).end();
    }
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
