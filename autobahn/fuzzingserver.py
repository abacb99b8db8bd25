"""Runs `wstest` (Autobahn|Testsuite, Python 2.7) bound to the host of the spec's URL.

wstest's fuzzingserver listens on every interface whatever its spec's URL says (autobahn's
`listenWS` defaults to interface ''). This wrapper passes the URL's host as the interface, so
`"url": "ws://127.0.0.1:PORT"` binds loopback only, then runs wstest with the same arguments:

    target/peers/ab2/bin/python autobahn/fuzzingserver.py -m fuzzingserver -s spec.json -u 0

(`-u 0` turns off wstest's embedded web server, which would listen on 0.0.0.0:8080.)
"""
import sys

from autobahn.twisted import websocket
from autobahntestsuite import fuzzing, wstest

_listen_ws = websocket.listenWS


def _listen_on_url_host(factory, contextFactory=None, backlog=50, interface=''):
    return _listen_ws(factory, contextFactory, backlog, interface or factory.host)


fuzzing.listenWS = _listen_on_url_host

if __name__ == '__main__':
    sys.exit(wstest.run())
