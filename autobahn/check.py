#!/usr/bin/env python3
"""Checks an Autobahn|Testsuite fuzzingserver run (its index.json) for typed-ws.

Two gates, both must hold:

1. every case's behavior is OK, NON-STRICT or INFORMATIONAL and its behaviorClose is OK or
   INFORMATIONAL; UNIMPLEMENTED is allowed only for 12.* and 13.* (permessage-deflate);
2. the per-case results equal the committed expected file (duration ignored), so a case that
   drops from OK to NON-STRICT fails too, and so does a case that improves (re-bless it).
   A field whose expected value is a list accepts any of the listed values: that is how a
   known timing-dependent case is pinned (see docs/CONFORMANCE.md); --bless keeps such lists
   as long as the new run's value is one of them.

    check.py INDEX_JSON --agent typed-ws --expected autobahn/expected-results.json \
        [--cases '1.*' '2.*' ...] [--summary-md FILE] [--bless [--allow-downgrade]]

--cases restricts the expected results to the matching case ids (the wss run covers 1.*-10.*).
--bless writes the run's results as the new expected file, only when gate 1 holds. It prints
the per-case diff against the expected file first, and refuses (writing nothing) when any case
got worse (its behavior or behaviorClose moved down the ORDER below, or it is missing from the
run) unless --allow-downgrade says the downgrade is intended.
Exit status: 0 when both gates hold (or the bless was written), 1 on any failure or a refused
bless, 2 on bad input.
"""
import argparse
import fnmatch
import json
import os
import sys
from collections import Counter

GOOD_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL"}
GOOD_CLOSE = {"OK", "INFORMATIONAL"}
UNIMPLEMENTED_OK = ("12.", "13.")
IGNORED_FIELDS = {"duration"}
ORDER = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN",
         "FAILED BY CLIENT", "FAILED"]


def rank(outcome):
    """Position in ORDER (lower is better); unknown outcomes rank last."""
    return ORDER.index(outcome) if outcome in ORDER else len(ORDER)


def best(value):
    """The best of an expected value that may be a list of accepted values."""
    return min(value, key=rank) if isinstance(value, list) else value


def diff(expected, actual, expected_name):
    """Per-case differences as (case_id, line, is_downgrade), in case order."""
    out = []
    for case_id in sorted(set(expected) | set(actual), key=case_key):
        if case_id not in actual:
            out.append((case_id, "  %s: missing from this run (expected %s)"
                        % (case_id, expected[case_id].get("behavior")), True))
        elif case_id not in expected:
            out.append((case_id, "  %s: not in %s (got %s)"
                        % (case_id, expected_name, actual[case_id].get("behavior")), False))
        else:
            want, got = comparable(expected[case_id]), comparable(actual[case_id])
            changed = sorted(k for k in set(want) | set(got) if not matches(want.get(k), got.get(k)))
            if changed:
                worse = any(rank(got.get(k)) > rank(best(want.get(k)))
                            for k in ("behavior", "behaviorClose") if k in changed)
                out.append((case_id, "  %s: %s%s" % (case_id, ", ".join(
                    "%s %s -> %s" % (k, want.get(k), got.get(k)) for k in changed),
                    "  (DOWNGRADE)" if worse else ""), worse))
    return out


def case_key(case_id):
    return tuple(int(part) if part.isdigit() else part for part in case_id.split("."))


def comparable(result):
    return {k: v for k, v in result.items() if k not in IGNORED_FIELDS}


def matches(want, got):
    return got in want if isinstance(want, list) else want == got


def blessed_entry(previous, result):
    """The run's result for the expected file, keeping the previous entry's lists of accepted
    values where the run's value is one of them."""
    entry = comparable(result)
    for key, want in (previous or {}).items():
        if isinstance(want, list) and entry.get(key) in want:
            entry[key] = want
    return entry


def load_expected(path):
    with open(path) as f:
        expected_all = json.load(f)
    if not isinstance(expected_all, dict) or len(expected_all) != 1:
        raise ValueError("must hold exactly one agent")
    return next(iter(expected_all.values()))


def format_expected(blessed):
    """One line per case, so a re-bless reads as a one-line diff per changed case."""
    (agent, cases), = blessed.items()
    lines = ["  %s: %s" % (json.dumps(c), json.dumps(cases[c], sort_keys=True)) for c in cases]
    return "{\n %s: {\n%s\n }\n}\n" % (json.dumps(agent), ",\n".join(lines))


def gate_one(case_id, result):
    """None when the case passes gate 1, else why it does not."""
    behavior = result.get("behavior")
    close = result.get("behaviorClose")
    unimplemented_ok = behavior == "UNIMPLEMENTED" and case_id.startswith(UNIMPLEMENTED_OK)
    if behavior not in GOOD_BEHAVIOR and not unimplemented_ok:
        return "behavior %s" % behavior
    if close not in GOOD_CLOSE:
        return "behaviorClose %s" % close
    return None


def case_details(report_dir, result):
    """The 'result' and 'resultClose' sentences of a case's own report, when present."""
    path = os.path.join(report_dir, result.get("reportfile", ""))
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return ""
    parts = [report.get("result", ""), report.get("resultClose", "")]
    return " | ".join(p for p in parts if p)


def summary(results):
    behaviors = Counter(r.get("behavior") for r in results.values())
    closes = Counter(r.get("behaviorClose") for r in results.values())
    names = [n for n in ORDER if n in behaviors or n in closes]
    names += sorted((set(behaviors) | set(closes)) - set(names), key=str)
    lines = ["| outcome | behavior | behaviorClose |", "|---|---:|---:|"]
    for name in names:
        lines.append("| %s | %d | %d |" % (name, behaviors.get(name, 0), closes.get(name, 0)))
    lines.append("| **total** | %d | %d |" % (len(results), len(results)))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", help="the run's index.json")
    parser.add_argument("--agent", required=True)
    parser.add_argument("--expected", required=True)
    parser.add_argument("--cases", nargs="*", default=None, help="case id patterns (fnmatch)")
    parser.add_argument("--summary-md", help="also write the summary table to this file")
    parser.add_argument("--bless", action="store_true", help="write the expected file")
    parser.add_argument("--allow-downgrade", action="store_true",
                        help="with --bless: write it even when cases got worse")
    args = parser.parse_args()
    if args.allow_downgrade and not args.bless:
        print("--allow-downgrade only goes with --bless")
        return 2

    try:
        with open(args.index) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        print("cannot read %s: %s (did the client reach updateReports?)" % (args.index, e))
        return 2
    if args.agent not in index:
        print("agent %r not in %s (agents: %s)" % (args.agent, args.index, sorted(index)))
        return 2
    actual = index[args.agent]
    report_dir = os.path.dirname(os.path.abspath(args.index))

    def selected(case_id):
        return args.cases is None or any(fnmatch.fnmatchcase(case_id, p) for p in args.cases)

    failures = []
    for case_id in sorted(actual, key=case_key):
        why = gate_one(case_id, actual[case_id])
        if why:
            detail = case_details(report_dir, actual[case_id])
            failures.append("  %s: %s%s" % (case_id, why, " - " + detail if detail else ""))

    table = summary(actual)
    print(table)
    if args.summary_md:
        with open(args.summary_md, "w") as f:
            f.write(table + "\n")

    if failures:
        print("\nFAIL: %d case(s) outside the allowed behaviors "
              "(OK/NON-STRICT/INFORMATIONAL, close OK/INFORMATIONAL, UNIMPLEMENTED only for "
              "12.*/13.*):" % len(failures))
        print("\n".join(failures))
        print("reports: %s" % report_dir)
        if args.bless:
            print("not blessing a failing run")
        return 1

    if args.bless:
        if args.cases is not None:
            print("--bless needs the full run (no --cases)")
            return 2
        try:
            previous = load_expected(args.expected)
        except FileNotFoundError:
            previous = {}
        except (OSError, ValueError) as e:
            print("cannot read %s: %s (not blessing over it)" % (args.expected, e))
            return 2
        changes = diff(previous, actual, args.expected)
        downgrades = [line for _, line, worse in changes if worse]
        if changes:
            print("\n%d case(s) change in %s:" % (len(changes), args.expected))
            print("\n".join(line for _, line, _ in changes))
        else:
            print("\nno case changes in %s" % args.expected)
        if downgrades and not args.allow_downgrade:
            print("\nREFUSED: %d case(s) got worse; nothing written. If that is intended, "
                  "bless with --bless --allow-downgrade and say why in the commit."
                  % len(downgrades))
            return 1
        blessed = {args.agent: {c: blessed_entry(previous.get(c), actual[c])
                                for c in sorted(actual, key=case_key)}}
        with open(args.expected, "w") as f:
            f.write(format_expected(blessed))
        print("\nblessed %d cases into %s%s" % (
            len(actual), args.expected,
            " (%d downgrade(s) allowed)" % len(downgrades) if downgrades else ""))
        return 0

    try:
        expected = {c: r for c, r in load_expected(args.expected).items() if selected(c)}
    except (OSError, ValueError) as e:
        print("cannot read %s: %s" % (args.expected, e))
        return 2

    diffs = [line for _, line, _ in diff(expected, actual, args.expected)]
    if diffs:
        print("\nFAIL: %d case(s) differ from %s:" % (len(diffs), args.expected))
        print("\n".join(diffs))
        print("reports: %s\nif the change is an improvement, re-bless: scripts/autobahn --bless"
              % report_dir)
        return 1
    print("\nPASS: %d cases, all allowed, all as in %s" % (len(actual), args.expected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
