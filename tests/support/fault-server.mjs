// A fault-injecting HTTP server on loopback, for testing the module's delivery.
//
//   node tests/support/fault-server.mjs --upstream http://127.0.0.1:8787
//
// Prints `fault-server listening on http://127.0.0.1:PORT`, then serves
//   POST /s/<scenario>/<mode>/api/track/...   one attempt, faulted by <mode>
//   GET  /log/<scenario>                      the attempts seen: [{ at, body }]
//   POST /up/<scenario>                       a `down` scenario's server comes up
// Modes: ok (proxy), down (close the connection until /up), reset (close the connection), reset-first, lose-first
// (forward, then drop the answer), hang (never answer), status-401, status-500,
// 429-first (Retry-After: 1), 503-first (no Retry-After), not-json.
import http from 'node:http';

const upstreamArg = process.argv.indexOf('--upstream');
const upstream = upstreamArg > 0 ? process.argv[upstreamArg + 1] : null;
const attempts = new Map(); // scenario -> [{ at, body }]
const hanging = new Set();
const up = new Set(); // `down` scenarios that came up

// Connection: close, so a browser never reuses a socket we reset (Chromium silently
// retries a request whose reused socket closes, which would blur attempt counts).
const cors = {
  connection: 'close',
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'retry-after',
  'access-control-allow-methods': 'POST, GET, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

function send(res, status, body, headers = {}) {
  res.writeHead(status, { ...cors, 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function forward(req, path, body) {
  const headers = { 'content-type': req.headers['content-type'] ?? 'text/plain' };
  if (req.headers.origin) headers.origin = req.headers.origin;
  const answer = await fetch(upstream + path, { method: 'POST', headers, body });
  return { status: answer.status, text: await answer.text() };
}

const server = http.createServer(async (req, res) => {
  if (req.method === 'OPTIONS') return send(res, 204, '');
  const logMatch = req.url.match(/^\/log\/([\w-]+)$/);
  if (req.method === 'GET' && logMatch) return send(res, 200, attempts.get(logMatch[1]) ?? []);
  const upMatch = req.url.match(/^\/up\/([\w-]+)$/);
  if (req.method === 'POST' && upMatch) return send(res, 200, { up: up.add(upMatch[1]).size });
  const match = req.url.match(/^\/s\/([\w-]+)\/([\w-]+)(\/.*)$/);
  if (!match) return send(res, 404, { success: false, error: `fault-server: no route ${req.url}` });
  const [, scenario, mode, path] = match;
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString();
  const seen = attempts.get(scenario) ?? [];
  // `settled` once the proxy is done with the attempt (for a forwarded one: the
  // server has answered, so it has counted), so tests can wait for that.
  const attempt = { at: Date.now(), body, settled: false };
  seen.push(attempt);
  attempts.set(scenario, seen);
  const first = seen.length === 1;
  try {
    switch (mode) {
      case 'reset':
        return req.socket.destroy();
      case 'down':
        if (!up.has(scenario)) return req.socket.destroy();
        break;
      case 'reset-first':
        if (first) return req.socket.destroy();
        break;
      case 'lose-first':
        if (first) {
          await forward(req, path, body); // the server counts it; the client never hears
          return req.socket.destroy();
        }
        break;
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      case 'status-401':
        return send(res, 401, { success: false, error: 'injected: apiKey is not a known key' });
      case 'status-500':
        return send(res, 500, { success: false, error: 'injected: internal error' });
      case '429-first':
        if (first) return send(res, 429, { success: false, error: 'injected: slow down' }, { 'retry-after': '1' });
        break;
      case '503-first':
        if (first) return send(res, 503, { success: false, error: 'injected: unavailable' });
        break;
      case 'not-json':
        res.writeHead(200, { ...cors, 'content-type': 'text/html' });
        return res.end('<html><body>Captive portal</body></html>');
      case 'ok':
        break;
      default:
        return send(res, 400, { success: false, error: `fault-server: unknown mode ${mode}` });
    }
    const answer = await forward(req, path, body);
    send(res, answer.status, answer.text);
  } catch (err) {
    send(res, 502, { success: false, error: `fault-server: upstream failed: ${err.message}` });
  } finally {
    attempt.settled = true;
  }
});

server.listen(0, '127.0.0.1', () => {
  console.log(`fault-server listening on http://127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const res of hanging) res.socket?.destroy();
    server.close(() => process.exit(0));
  });
}
