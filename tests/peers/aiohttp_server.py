"""Interop peer: a Python `aiohttp` server for tests/tests/interop.rs.

    python aiohttp_server.py [--tls CERT_PEM KEY_PEM]

Same routes and output as websockets_server.py (see there). /silent uses autoping=False and
never answers the pings it reads.
"""
import asyncio
import json
import ssl
import sys

import msgpack
from aiohttp import WSMsgType, web

PEER = "aiohttp"


def transform(doc):
    doc["count"] += 1
    doc["items"].append(PEER)
    return doc


def envelope(message):
    """Answers a typed-ws #[derive(Message)] envelope, built by hand with this library."""
    if message["type"] == "doc":
        return {"type": "doc", "data": transform(message["data"])}
    return {"type": "pong"}


async def handler(request):
    route = request.path
    ws = web.WebSocketResponse(protocols=("v1.json",), max_msg_size=64 << 20,
                               autoping=route != "/silent", compress=False)
    await ws.prepare(request)
    if route == "/hello":
        await ws.send_str(json.dumps({
            "peer": PEER,
            "path": request.path,
            "query": dict(request.query),
            "header": request.headers.get("X-Typed-Ws"),
            "subprotocol": ws.ws_protocol,
        }))
        route = "/echo"
    if route == "/close":
        await ws.close(code=4000, message=("bye from " + PEER).encode())
        return ws
    async for msg in ws:
        if route == "/echo":
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        elif route == "/envelope" and msg.type == WSMsgType.TEXT:
            await ws.send_str(json.dumps(envelope(json.loads(msg.data))))
        elif route == "/envelope" and msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msgpack.packb(envelope(msgpack.unpackb(msg.data))))
        elif route == "/json" and msg.type == WSMsgType.TEXT:
            await ws.send_str(json.dumps(transform(json.loads(msg.data))))
        elif route == "/msgpack" and msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msgpack.packb(transform(msgpack.unpackb(msg.data))))
        # /silent: PING messages arrive here (autoping=False) and are ignored
    return ws


async def main():
    ctx = None
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
