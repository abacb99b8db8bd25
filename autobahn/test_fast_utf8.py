"""Checks autobahn/fast_utf8.py against autobahn's own validator (run with wstest's Python 2.7):

    target/peers/ab2/bin/python autobahn/test_fast_utf8.py

Every input is validated whole and split at every position (two chunks), and random inputs
in random chunks; every result quad must be the same as the original validator's.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from autobahn.websocket.utf8validator import Utf8Validator  # noqa: E402
from fast_utf8 import FastUtf8Validator  # noqa: E402

HAND_PICKED = [
    b'', b'hello', u'\u00e9t\u00e9'.encode('utf-8'), u'\u20ac'.encode('utf-8'),
    u'\U0001f600 ok'.encode('utf-8'), b'\xed\x9f\xbf', b'\xee\x80\x80',
    b'\xed\xa0\x80', b'\xed\xbf\xbf', b'a\xed\xa0\x80b',          # surrogates: invalid
    b'\xc0\xaf', b'\xe0\x80\xaf', b'\xf0\x80\x80\xaf',          # overlong
    b'\xf4\x8f\xbf\xbf', b'\xf4\x90\x80\x80', b'\xf5\x80\x80\x80',  # max, beyond max
    b'\xf8\x88\x80\x80\x80', b'\xfe', b'\xff', b'\x80', b'a\xbfb',  # 5-byte, bytes never valid
    b'\xe2\x82', b'\xf0\x9f\x98', b'\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5',
    b'\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited',
]


def run(chunks):
    fast, slow = FastUtf8Validator(), Utf8Validator()
    for chunk in chunks:
        got, want = fast.validate(chunk), slow.validate(chunk)
        if tuple(got) != tuple(want):
            return 'chunks %r: fast %r, original %r' % (chunks, got, want)
        if not want[0]:
            break
    return None


def main():
    failures = []
    for data in HAND_PICKED:
        for cut in range(len(data) + 1):
            failure = run([data[:cut], data[cut:]])
            if failure:
                failures.append(failure)
        failure = run([data, data, data])
        if failure:
            failures.append(failure)
    rng = random.Random(7)
    alphabet = [b'a', b'\xc3\xa9', b'\xe2\x82\xac', b'\xf0\x9f\x98\x80', b'\xed\xa0\x80',
                b'\xc0', b'\x80', b'\xf4\x90\x80\x80', b'\xff', b'\xe2\x82']
    for _ in range(3000):
        data = b''.join(rng.choice(alphabet) if rng.random() < 0.3 else b'x'
                        for _ in range(rng.randint(0, 40)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(3, len(data) + 1)))
        chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        failure = run(chunks)
        if failure:
            failures.append(failure)
    for failure in failures[:20]:
        print('FAIL ' + failure)
    print('fast_utf8: %d failures' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
