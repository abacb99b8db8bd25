#!/usr/bin/env python3
"""Tests of autobahn/check.py, the Autobahn gate: fake runs made from the committed expected
file, checked and blessed in a temporary directory (the committed file is never written).

    python3 autobahn/test_check.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check.py")
COMMITTED = os.path.join(HERE, "expected-results.json")
AGENT = "typed-ws"


def first_value(value):
    return value[0] if isinstance(value, list) else value


class CheckPy(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="check-py-")
        self.expected = os.path.join(self.dir, "expected.json")
        shutil.copy(COMMITTED, self.expected)
        with open(COMMITTED) as f:
            cases = json.load(f)[AGENT]
        # a run that matches the expected file (lists of accepted values: their first value)
        self.run_cases = {c: {k: first_value(v) for k, v in r.items()} for c, r in cases.items()}
        for result in self.run_cases.values():
            result["duration"] = 3
        self.ok_case = next(c for c, r in self.run_cases.items()
                            if r["behavior"] == "OK" and not c.startswith(("12.", "13.")))
        self.non_strict_case = next(c for c, r in cases.items() if r["behavior"] == "NON-STRICT")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check(self, *args):
        index = os.path.join(self.dir, "index.json")
        with open(index, "w") as f:
            json.dump({AGENT: self.run_cases}, f)
        done = subprocess.run(
            [sys.executable, CHECK, index, "--agent", AGENT, "--expected", self.expected]
            + list(args), capture_output=True, text=True)
        return done.returncode, done.stdout + done.stderr

    def expected_now(self):
        with open(self.expected) as f:
            return f.read()

    def test_a_run_as_expected_passes(self):
        code, out = self.check()
        self.assertEqual(code, 0, out)
        self.assertIn("PASS", out)

    def test_a_downgrade_fails_the_check(self):
        self.run_cases[self.ok_case]["behavior"] = "NON-STRICT"
        code, out = self.check()
        self.assertEqual(code, 1, out)
        self.assertIn("%s: behavior OK -> NON-STRICT" % self.ok_case, out)

    def test_bless_refuses_a_downgrade_and_shows_it(self):
        before = self.expected_now()
        self.run_cases[self.ok_case]["behavior"] = "NON-STRICT"
        code, out = self.check("--bless")
        self.assertEqual(code, 1, out)
        self.assertIn("%s: behavior OK -> NON-STRICT  (DOWNGRADE)" % self.ok_case, out)
        self.assertIn("REFUSED", out)
        self.assertEqual(self.expected_now(), before, "nothing written")

    def test_bless_refuses_a_case_that_disappeared(self):
        before = self.expected_now()
        del self.run_cases[self.ok_case]
        code, out = self.check("--bless")
        self.assertEqual(code, 1, out)
        self.assertIn("%s: missing from this run" % self.ok_case, out)
        self.assertEqual(self.expected_now(), before, "nothing written")

    def test_bless_writes_a_downgrade_only_when_allowed(self):
        self.run_cases[self.ok_case]["behavior"] = "NON-STRICT"
        code, out = self.check("--bless", "--allow-downgrade")
        self.assertEqual(code, 0, out)
        self.assertIn("(DOWNGRADE)", out)
        self.assertIn("1 downgrade(s) allowed", out)
        with open(self.expected) as f:
            self.assertEqual(json.load(f)[AGENT][self.ok_case]["behavior"], "NON-STRICT")
        code, out = self.check()
        self.assertEqual(code, 0, out)

    def test_bless_writes_an_improvement_and_shows_it(self):
        self.run_cases[self.non_strict_case]["behavior"] = "OK"
        code, out = self.check("--bless")
        self.assertEqual(code, 0, out)
        self.assertIn("%s: behavior NON-STRICT -> OK" % self.non_strict_case, out)
        self.assertNotIn("DOWNGRADE", out)
        with open(self.expected) as f:
            self.assertEqual(json.load(f)[AGENT][self.non_strict_case]["behavior"], "OK")

    def test_bless_refuses_a_run_outside_the_allowed_behaviors(self):
        before = self.expected_now()
        self.run_cases[self.ok_case]["behavior"] = "FAILED"
        code, out = self.check("--bless", "--allow-downgrade")
        self.assertEqual(code, 1, out)
        self.assertIn("not blessing a failing run", out)
        self.assertEqual(self.expected_now(), before, "nothing written")

    def test_allow_downgrade_needs_bless(self):
        code, out = self.check("--allow-downgrade")
        self.assertEqual(code, 2, out)


if __name__ == "__main__":
    unittest.main()
