"""Interop peer: a Python `websockets` client driving typed-ws's own server accept side.

    python websockets_client.py ws://127.0.0.1:PORT

First session (/peer?name=websockets, header X-Typed-Ws, subprotocols v2.json + v1.json): checks
that the server selected v1.json, echoes text and binary, sends a JSON document the server
answers with count + 1 and "typed-ws" appended to items, then asks the server to close and
checks its code 4001 and reason. Second session: closes from this side with 4002 "client bye".
Prints OK on success; exits non-zero naming the first failed check.
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

NAME = "websockets"


def check(ok, what):
    if not ok:
        sys.exit("FAIL (%s client): %s" % (NAME, what))


async def main(base):
    async with connect(base + "/peer?name=" + NAME, subprotocols=["v2.json", "v1.json"],
                       additional_headers={"X-Typed-Ws": NAME}, compression=None,
                       open_timeout=10) as ws:
        check(ws.subprotocol == "v1.json", "selected subprotocol %r" % ws.subprotocol)
        text = "h\u00e9llo w\u00f6rld \u2713 \U0001f980"
        await ws.send(text)
        got = await ws.recv()
        check(got == text, "text echo %r" % got)
        blob = bytes(range(256))
        await ws.send(blob)
        got = await ws.recv()
        check(isinstance(got, bytes) and got == blob, "binary echo %r" % got[:16])
        doc = {"name": text, "count": 41, "items": ["a"], "ratio": 0.5, "flag": True,
               "note": None, "blob": [0, 1, 255], "nested": {"neg": -7, "big": 1 << 40}}
        await ws.send(json.dumps(doc))
        got = await ws.recv()
        check(isinstance(got, str), "typed reply should be a text frame, got %r" % type(got))
        reply = json.loads(got)
        want = dict(doc, count=42, items=["a", "typed-ws"])
        check(reply == want, "typed reply %r, want %r" % (reply, want))
        await ws.send("close please")
        try:
            got = await ws.recv()
            check(False, "expected the server's close, got %r" % got)
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            check(rcvd is not None and rcvd.code == 4001 and rcvd.reason == "server says bye",
                  "server close frame %r" % rcvd)

    async with connect(base + "/peer?name=" + NAME + "-2", compression=None,
                       open_timeout=10) as ws:
        await ws.send("ping me")
        check(await ws.recv() == "ping me", "second session echo")
        await ws.close(4002, "client bye")
        check(ws.close_code == 4002, "own close code %r" % ws.close_code)
    print("OK")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1]), 20))
