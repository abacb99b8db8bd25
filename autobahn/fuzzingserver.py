"""Runs `wstest` (Autobahn|Testsuite, Python 2.7) bound to the host of the spec's URL.

wstest's fuzzingserver listens on every interface whatever its spec's URL says (autobahn's
`listenWS` defaults to interface ''). This wrapper passes the URL's host as the interface, so
`"url": "ws://127.0.0.1:PORT"` binds loopback only, then runs wstest with the same arguments:

    target/peers/ab2/bin/python autobahn/fuzzingserver.py -m fuzzingserver -s spec.json -u 0

(`-u 0` turns off wstest's embedded web server, which would listen on 0.0.0.0:8080.)

It also gives wstest's connections `fast_utf8.FastUtf8Validator`, which answers exactly as
autobahn's own UTF-8 validator (checked by `test_fast_utf8.py`) but validates whole valid
chunks with Python's decoder: the validator was most of wstest's CPU in the 64 KiB+
permessage-deflate cases. The validator the test cases use to build their payloads is not
touched.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import autobahn.websocket.protocol as _protocol  # noqa: E402
from fast_utf8 import FastUtf8Validator  # noqa: E402

_protocol.Utf8Validator = FastUtf8Validator

from autobahn.twisted import websocket
from autobahntestsuite import fuzzing, wstest

_listen_ws = websocket.listenWS


def _listen_on_url_host(factory, contextFactory=None, backlog=50, interface=''):
    return _listen_ws(factory, contextFactory, backlog, interface or factory.host)


fuzzing.listenWS = _listen_on_url_host

if __name__ == '__main__':
    sys.exit(wstest.run())
