// Interop peer: a Node `ws` client driving typed-ws's own server accept side.
//
//     node ws_client.js ws://127.0.0.1:PORT
//
// The same checks as websockets_client.py (see there). Prints OK on success; exits non-zero
// naming the first failed check.
'use strict';
const WebSocket = require('ws');

const NAME = 'node-ws';

function fail(what) {
  console.error(`FAIL (${NAME} client): ${what}`);
  process.exit(1);
}

function check(ok, what) {
  if (!ok) fail(what);
}

// A socket whose messages and close are read with `await next()` / `await closed`.
function open(url, protocols, options) {
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, handshakeTimeout: 10000, ...options });
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const item = { data, isBinary };
    if (waiters.length) waiters.shift()(item); else queue.push(item);
  });
  ws.on('error', (e) => fail(`socket error: ${e.message}`));
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  const opened = new Promise((resolve) => ws.on('open', resolve));
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
  return { ws, opened, closed, next };
}

async function main(base) {
  const text = 'h\u00e9llo w\u00f6rld \u2713 \u{1f980}';
  {
    const s = open(`${base}/peer?name=${NAME}`, ['v2.json', 'v1.json'], { headers: { 'X-Typed-Ws': NAME } });
    await s.opened;
    check(s.ws.protocol === 'v1.json', `selected subprotocol ${JSON.stringify(s.ws.protocol)}`);
    s.ws.send(text);
    let m = await s.next();
    check(!m.isBinary && m.data.toString('utf8') === text, `text echo ${m.data}`);
    const blob = Buffer.from([...Array(256).keys()]);
    s.ws.send(blob);
    m = await s.next();
    check(m.isBinary && Buffer.compare(m.data, blob) === 0, 'binary echo');
    const doc = { name: text, count: 41, items: ['a'], ratio: 0.5, flag: true, note: null,
      blob: [0, 1, 255], nested: { neg: -7, big: 2 ** 40 } };
    s.ws.send(JSON.stringify(doc));
    m = await s.next();
    check(!m.isBinary, 'typed reply should be a text frame');
    const reply = JSON.parse(m.data.toString('utf8'));
    const want = { ...doc, count: 42, items: ['a', 'typed-ws'] };
    check(JSON.stringify(sortKeys(reply)) === JSON.stringify(sortKeys(want)),
      `typed reply ${JSON.stringify(reply)}, want ${JSON.stringify(want)}`);
    s.ws.send('close please');
    const c = await s.closed;
    check(c.code === 4001 && c.reason === 'server says bye', `server close ${JSON.stringify(c)}`);
  }
  {
    const s = open(`${base}/peer?name=${NAME}-2`, [], {});
    await s.opened;
    s.ws.send('ping me');
    const m = await s.next();
    check(m.data.toString('utf8') === 'ping me', 'second session echo');
    s.ws.close(4002, 'client bye');
    const c = await s.closed;
    check(c.code === 4002, `own close code ${c.code}`);
  }
  console.log('OK');
  process.exit(0);
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

setTimeout(() => fail('no result within 20 s'), 20000).unref();
main(process.argv[2]).catch((e) => fail(e.stack || String(e)));
