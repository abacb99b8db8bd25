"""A fast, exact stand-in for autobahn's incremental UTF-8 validator (Python 2.7).

wstest validates every text payload it receives with `Utf8Validator` (wsaccel's Cython DFA
here, about 6 MB/s on this machine kind): in the permessage-deflate cases that send 1,000
messages of 64 KiB and more, that validation is most of wstest's CPU (py-spy: 78 % of its
samples on `protocol.py:1875`) and the reason a full run took 12 minutes a role.

`FastUtf8Validator` gives the same answers, faster: a chunk that starts on a code point
boundary and is valid UTF-8 as a whole is accepted by Python's own decoder (C, hundreds of
MB/s); anything else (a sequence split across chunks, invalid bytes, the UTF-16 surrogates
that Python 2's decoder accepts but UTF-8 forbids) goes to the original validator, whose
results it returns, with the byte counts adjusted for the chunks it skipped.
`autobahn/test_fast_utf8.py` checks it against the original on every split of hand-picked and
random inputs.
"""
import re

from autobahn.websocket.utf8validator import Utf8Validator as OriginalUtf8Validator

# UTF-8 encoded surrogates (U+D800..U+DFFF): Python 2's decoder accepts them, UTF-8 does not
_SURROGATE = re.compile(b'\xed[\xa0-\xbf]')


class FastUtf8Validator(object):
    def __init__(self):
        self._slow = OriginalUtf8Validator()
        self.reset()

    def reset(self):
        self._slow.reset()
        # bytes accepted here and never shown to the slow validator, and the slow validator's
        # own count of the bytes it consumed
        self._skipped = 0
        self._slow_total = 0
        # the slow validator is at a code point boundary with nothing pending
        self._boundary = True
        self._failed = False

    def decode(self, b):
        return self._slow.decode(b)

    def validate(self, ba):
        if self._boundary and not self._failed and not _SURROGATE.search(ba):
            try:
                ba.decode('utf-8')
            except UnicodeDecodeError:
                pass
            else:
                self._skipped += len(ba)
                return (True, True, len(ba), self._slow_total + self._skipped)
        valid, ends, current, total = self._slow.validate(ba)
        self._slow_total = total
        self._boundary = valid and ends
        self._failed = not valid
        return (valid, ends, current, total + self._skipped)
