"""Interop peer: a Python `websockets` (asyncio) server for tests/tests/interop.rs.

    python websockets_server.py [--tls CERT_PEM KEY_PEM]

Listens on 127.0.0.1, port 0, and prints the port it got as the first line of stdout.
Routes (by path): /echo echoes every message; /hello first sends what it saw of the upgrade
(path, query, X-Typed-Ws header, subprotocol) as JSON, then echoes; /json and /msgpack decode
each message with Python's own json / msgpack, apply `transform` and answer with their own
encoding; /close closes with 4000; /silent stops reading, so pings are never answered.
Subprotocol: "v1.json" when the client offers it, else none.
"""
import asyncio
import json
import ssl
import sys
from urllib.parse import parse_qsl, urlsplit

import msgpack
from websockets.asyncio.server import serve

PEER = "websockets"


def transform(doc):
    doc["count"] += 1
    doc["items"].append(PEER)
    return doc


def envelope(message):
    """Answers a typed-ws #[derive(Message)] envelope, built by hand with this library."""
    if message["type"] == "doc":
        return {"type": "doc", "data": transform(message["data"])}
    return {"type": "pong"}


def select_subprotocol(connection, offered):
    return "v1.json" if "v1.json" in offered else None


async def handler(ws):
    url = urlsplit(ws.request.path)
    route = url.path
    if route == "/hello":
        await ws.send(json.dumps({
            "peer": PEER,
            "path": url.path,
            "query": dict(parse_qsl(url.query)),
            "header": ws.request.headers.get("X-Typed-Ws"),
            "subprotocol": ws.subprotocol,
        }))
        route = "/echo"
    if route == "/echo":
        async for message in ws:
            await ws.send(message)
    elif route == "/json":
        async for message in ws:
            await ws.send(json.dumps(transform(json.loads(message))))
    elif route == "/msgpack":
        async for message in ws:
            await ws.send(msgpack.packb(transform(msgpack.unpackb(message))))
    elif route == "/envelope":
        async for message in ws:
            if isinstance(message, str):
                await ws.send(json.dumps(envelope(json.loads(message))))
            else:
                await ws.send(msgpack.packb(envelope(msgpack.unpackb(message))))
    elif route == "/close":
        await ws.close(4000, "bye from " + PEER)
    elif route == "/silent":
        ws.transport.pause_reading()  # nothing is read any more, so no ping gets its pong
        await asyncio.sleep(60)
    else:
        await ws.close(4404, "no route " + route)


async def main():
    ctx = None
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    async with serve(handler, "127.0.0.1", 0, ssl=ctx, select_subprotocol=select_subprotocol,
                     max_size=64 << 20, ping_interval=None, compression=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
