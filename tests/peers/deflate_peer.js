// Interop peer for tests/tests/deflate.rs: Node `ws` with permessage-deflate.
//
//     node deflate_peer.js server [--no-context-takeover] [--max-window-bits N]
//     node deflate_peer.js client URL [--no-context-takeover] [--max-window-bits N]
//
// Same behaviour as deflate_peer.py (see there): perMessageDeflate on, threshold 0 so every
// message is compressed; the client prints "OK <ws.extensions>".
'use strict';
const { WebSocket, WebSocketServer } = require('ws');

function deflateOptions(args) {
  const options = { threshold: 0 };
  if (args.includes('--no-context-takeover')) {
    options.serverNoContextTakeover = true;
    options.clientNoContextTakeover = true;
  }
  const at = args.indexOf('--max-window-bits');
  if (at >= 0) {
    const bits = Number(args[at + 1]);
    options.serverMaxWindowBits = bits;
    options.clientMaxWindowBits = bits;
  }
  return options;
}

function messages() {
  const doc = [];
  for (let i = 0; i < 2000; i++) doc.push({ id: i, user: `user-${i % 7}`, text: 'hello from node', ok: true });
  const text = JSON.stringify(doc);
  const blob = Buffer.alloc(300000);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7) % 251;
  return ['hi', text, text, 'x'.repeat(1 << 20), blob, 'h\u00e9llo \u2713 \u{1f980}'.repeat(100)];
}

function fail(what) {
  console.error(`FAIL (node deflate client): ${what}`);
  process.exit(1);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'server') {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20, perMessageDeflate: deflateOptions(rest) });
  server.on('listening', () => console.log(server.address().port));
  server.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
} else {
  const url = rest[0];
  const ws = new WebSocket(url, { perMessageDeflate: deflateOptions(rest.slice(1)), maxPayload: 64 << 20, handshakeTimeout: 10000 });
  const list = messages();
  let i = 0;
  ws.on('error', (e) => fail(`socket error: ${e.message}`));
  ws.on('open', () => {
    if (!ws.extensions.includes('permessage-deflate')) fail(`extensions ${JSON.stringify(ws.extensions)}`);
    ws.send(list[0]);
  });
  ws.on('message', (data, isBinary) => {
    const sent = list[i];
    const same = typeof sent === 'string'
      ? !isBinary && data.toString('utf8') === sent
      : isBinary && Buffer.compare(data, sent) === 0;
    if (!same) fail(`echo ${i} differs`);
    i += 1;
    if (i < list.length) ws.send(list[i]); else ws.close(1000, 'done');
  });
  ws.on('close', (code) => {
    if (i !== list.length || code !== 1000) fail(`closed with ${code} after ${i} echoes`);
    console.log(`OK ${ws.extensions}`);
  });
  setTimeout(() => fail('no end within 20 s'), 20000).unref();
}
