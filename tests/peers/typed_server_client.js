// Interop peer: a Node `ws` client against a typed-ws server run by `Server::serve` with an
// origin check and a token hook (tests/tests/server_interop.rs).
//
//     node typed_server_client.js ws://127.0.0.1:PORT [CA.pem]   (wss:// with the CA to trust)
//
// The same checks as typed_server_client.py (see there). Prints OK on success; exits non-zero
// naming the first failed check.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const ALLOWED = 'https://app.example.com';

function fail(what) {
  console.error(`FAIL (node ws client): ${what}`);
  process.exit(1);
}

function check(ok, what) {
  if (!ok) fail(what);
}

function options(ca, origin) {
  return { perMessageDeflate: false, handshakeTimeout: 10000, origin, ...(ca ? { ca } : {}) };
}

// Connects expecting a refusal: resolves with the status and body; a 101 fails the check.
function refused(url, ca, origin) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [], options(ca, origin));
    ws.on('open', () => fail(`${url}: upgraded, expected a refusal`));
    ws.on('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      });
    });
    ws.on('error', () => {});
  });
}

async function main(base, ca) {
  {
    const ws = new WebSocket(`${base}/app?token=t7`, ['v1.json'], options(ca, ALLOWED));
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const item = { data, isBinary };
      if (waiters.length) waiters.shift()(item); else queue.push(item);
    });
    ws.on('error', (e) => fail(`socket error: ${e.message}`));
    const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.on('open', resolve));
    check(ws.protocol === 'v1.json', `subprotocol ${JSON.stringify(ws.protocol)}`);
    let m = await next();
    check(!m.isBinary && JSON.parse(m.data.toString('utf8')).user === 7, `greeting ${m.data}`);
    ws.send(JSON.stringify({ n: 41 }));
    m = await next();
    check(!m.isBinary && JSON.parse(m.data.toString('utf8')).n === 42, `reply ${m.data}`);
    const blob = Buffer.alloc(256 * 64, 0).map((_, i) => i % 256);
    ws.send(blob);
    m = await next();
    check(m.isBinary && Buffer.compare(m.data, blob) === 0, 'binary echo');
    ws.close(1000, 'done');
    const code = await closed;
    check(code === 1000, `close code ${code}`);
  }
  let r = await refused(`${base}/app`, ca, ALLOWED);
  check(r.status === 401 && r.body === 'a token is required', `no token: ${JSON.stringify(r)}`);
  r = await refused(`${base}/app?token=t7`, ca, 'https://evil.example.net');
  check(r.status === 403 && r.body === 'origin not allowed', `foreign origin: ${JSON.stringify(r)}`);
  console.log('OK');
  process.exit(0);
}

setTimeout(() => fail('no result within 20 s'), 20000).unref();
const ca = process.argv[3] ? fs.readFileSync(process.argv[3]) : undefined;
main(process.argv[2], ca).catch((e) => fail(e.stack || String(e)));
