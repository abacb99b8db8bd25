"""Interop peer: a Python `websockets` client against a typed-ws server run by `Server::serve`
with an origin check and a token hook (tests/tests/server_interop.rs).

    python typed_server_client.py ws://127.0.0.1:PORT [CA.pem]   (wss:// with the CA to trust)

1. Token and allowed origin: upgraded with subprotocol v1.json; the first message is the JSON
   greeting {"user": 7} (the hook's per-connection data); {"n": 41} is answered {"n": 42};
   binary is echoed; closes 1000.
2. No token: refused with 401 and the body "a token is required", never a 101.
3. A foreign origin (a browser on another site): refused with 403 "origin not allowed".
Prints OK on success; exits non-zero naming the first failed check.
"""
import asyncio
import json
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

ALLOWED = "https://app.example.com"


def check(ok, what):
    if not ok:
        sys.exit("FAIL (python websockets client): %s" % what)


async def refused(url, ctx, origin, status, body):
    try:
        async with connect(url, origin=origin, ssl=ctx, compression=None, open_timeout=10):
            check(False, "%s: upgraded, expected %d" % (url, status))
    except InvalidStatus as e:
        got = e.response
        check(got.status_code == status, "%s: status %d, want %d" % (url, got.status_code, status))
        check(got.body == body.encode(), "%s: body %r, want %r" % (url, got.body, body))


async def main(base, cafile):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    async with connect(base + "/app?token=t7", origin=ALLOWED, subprotocols=["v1.json"], ssl=ctx,
                       compression=None, open_timeout=10) as ws:
        check(ws.subprotocol == "v1.json", "subprotocol %r" % ws.subprotocol)
        greeting = json.loads(await ws.recv())
        check(greeting == {"user": 7}, "greeting %r" % greeting)
        await ws.send(json.dumps({"n": 41}))
        reply = await ws.recv()
        check(isinstance(reply, str) and json.loads(reply) == {"n": 42}, "reply %r" % reply)
        blob = bytes(range(256)) * 64
        await ws.send(blob)
        check(await ws.recv() == blob, "binary echo")
        await ws.close(1000, "done")
        check(ws.close_code == 1000, "close code %r" % ws.close_code)
    await refused(base + "/app", ctx, ALLOWED, 401, "a token is required")
    await refused(base + "/app?token=t7", ctx, "https://evil.example.net", 403, "origin not allowed")
    print("OK")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None), 20))
