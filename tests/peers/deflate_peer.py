"""Interop peer for tests/tests/deflate.rs: Python `websockets` with permessage-deflate.

    python deflate_peer.py server [--no-context-takeover] [--max-window-bits N]
    python deflate_peer.py client URL [--no-context-takeover] [--max-window-bits N]

server: listens on 127.0.0.1, port 0, prints the port as the first line, echoes every message.
client: exchanges the messages of `MESSAGES` with an echo server at URL, checks each echo, and
prints "OK <the Sec-WebSocket-Extensions answer>"; exits non-zero naming the first failure.
Without options both use websockets' default compression (what `compression="deflate"` does).
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)


def messages():
    doc = [{"id": i, "user": "user-%d" % (i % 7), "text": "hello from python", "ok": True}
           for i in range(2000)]
    text = json.dumps(doc)
    blob = bytes((i * 7) % 251 for i in range(300_000))
    return ["hi", text, text, "x" * (1 << 20), blob, "h\u00e9llo \u2713 \U0001f980" * 100]


def options(args):
    nct = "--no-context-takeover" in args
    bits = None
    if "--max-window-bits" in args:
        bits = int(args[args.index("--max-window-bits") + 1])
    return nct, bits


async def run_server(args):
    nct, bits = options(args)
    extensions = None
    if nct or bits:
        extensions = [ServerPerMessageDeflateFactory(
            server_no_context_takeover=nct, client_no_context_takeover=nct,
            server_max_window_bits=bits, client_max_window_bits=bits)]

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    kwargs = {"extensions": extensions, "compression": None} if extensions else {}
    async with serve(echo, "127.0.0.1", 0, max_size=64 << 20, ping_interval=None,
                     **kwargs) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()


async def run_client(url, args):
    nct, bits = options(args)
    kwargs = {}
    if nct or bits:
        kwargs = {"compression": None, "extensions": [ClientPerMessageDeflateFactory(
            server_no_context_takeover=nct, client_no_context_takeover=nct,
            server_max_window_bits=bits, client_max_window_bits=bits)]}
    async with connect(url, max_size=64 << 20, ping_interval=None, open_timeout=10,
                       **kwargs) as ws:
        answer = ws.response.headers.get("Sec-WebSocket-Extensions")
        if not answer or "permessage-deflate" not in answer:
            sys.exit("FAIL: no permessage-deflate in the answer: %r" % answer)
        for i, message in enumerate(messages()):
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), 10)
            if echo != message:
                sys.exit("FAIL: echo %d differs (%d vs %d bytes)" % (i, len(echo), len(message)))
        await ws.close(1000, "done")
    print("OK " + answer, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(run_server(sys.argv[2:]))
    else:
        asyncio.run(run_client(sys.argv[2], sys.argv[3:]))
