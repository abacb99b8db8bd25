// Interop peer: a Node `ws` server for tests/tests/interop.rs.
//
//     node ws_server.js [--tls CERT_PEM KEY_PEM]
//
// Same routes and output as websockets_server.py (see there), with @msgpack/msgpack for
// /msgpack. /silent pauses the socket, so nothing is read and no ping gets its pong.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');
const msgpack = require('@msgpack/msgpack');

const PEER = 'node-ws';

function transform(doc) {
  doc.count += 1;
  doc.items.push(PEER);
  return doc;
}

// Answers a typed-ws #[derive(Message)] envelope, built by hand with this library.
function envelope(message) {
  if (message.type === 'doc') {
    return { type: 'doc', data: transform(message.data) };
  }
  return { type: 'pong' };
}

const args = process.argv.slice(2);
const server = args[0] === '--tls'
  ? https.createServer({ cert: fs.readFileSync(args[1]), key: fs.readFileSync(args[2]) })
  : http.createServer();
const wss = new WebSocketServer({
  server,
  maxPayload: 64 << 20,
  perMessageDeflate: false,
  handleProtocols: (offered) => (offered.has('v1.json') ? 'v1.json' : false),
});

wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  const url = new URL(req.url, 'http://peer');
  let route = url.pathname;
  if (route === '/hello') {
    ws.send(JSON.stringify({
      peer: PEER,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      header: req.headers['x-typed-ws'] ?? null,
      subprotocol: ws.protocol || null,
    }));
    route = '/echo';
  }
  switch (route) {
    case '/echo':
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      break;
    case '/json':
      ws.on('message', (data) => ws.send(JSON.stringify(transform(JSON.parse(data.toString('utf8'))))));
      break;
    case '/envelope':
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          ws.send(msgpack.encode(envelope(msgpack.decode(data))));
        } else {
          ws.send(JSON.stringify(envelope(JSON.parse(data.toString('utf8')))));
        }
      });
      break;
    case '/msgpack':
      ws.on('message', (data) => ws.send(msgpack.encode(transform(msgpack.decode(data)))));
      break;
    case '/close':
      ws.close(4000, 'bye from ' + PEER);
      break;
    case '/silent':
      ws._socket.pause(); // nothing is read any more, so no ping gets its pong
      break;
    default:
      ws.close(4404, 'no route ' + route);
  }
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});
