#!/usr/bin/env python3
"""Runs the integration tests (tests/integration/test_*.py) and prints TAP.

Every function named test_* takes one argument, a fresh temporary directory,
and raises AssertionError (or anything else) to fail. Tests run in parallel
(-j) since most of their time is spent waiting for collectd's intervals.

With --again-alone, a test that failed in the parallel pass runs once more
after it, alone on the machine. Many tests judge polls at Interval 1 with a
0.9 s Timeout, and a loaded two-core machine running a sanitizer build can
miss that for reasons of its own. A test that then passes is reported "ok"
with its first failure printed in full beside it ("# failed in the parallel
pass, passed alone"), and counted in the "# passed only alone" line, so no
such failure goes unseen; a test that fails alone too fails.
Usage: run.py [-j N] [-k SUBSTRING] [--keep] [--again-alone]
"""

import argparse
import concurrent.futures
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def discover(pattern):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if fn.startswith("test_") and fn.endswith(".py"):
            mod = importlib.import_module(fn[:-3])
            for name in dir(mod):
                if name.startswith("test_") and callable(getattr(mod, name)):
                    full = "%s.%s" % (fn[:-3], name)
                    if not pattern or pattern in full:
                        tests.append((full, getattr(mod, name)))
    return tests


def run_one(name, fn, keep):
    d = tempfile.mkdtemp(prefix="td-it-")
    start = time.monotonic()
    try:
        fn(d)
        ok, why = True, ""
    except Exception:
        ok, why = False, traceback.format_exc()
    secs = time.monotonic() - start
    if ok and not keep:
        shutil.rmtree(d, ignore_errors=True)
    return name, ok, why, secs, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", type=int, default=4)
    ap.add_argument("-k", default="")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--again-alone", action="store_true")
    args = ap.parse_args()
    tests = discover(args.k)
    print("1..%d" % len(tests), flush=True)
    failed = 0
    first = {}  # name -> (why, dir) of its failure in the parallel pass
    i = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.j) as pool:
        futures = [pool.submit(run_one, n, f, args.keep) for n, f in tests]
        for fut in concurrent.futures.as_completed(futures):
            name, ok, why, secs, d = fut.result()
            if not ok and args.again_alone:
                first[name] = (why, d)
                continue
            i += 1
            report(i, name, ok, why, secs, d)
            failed += not ok
    alone = []
    for name, fn in tests:
        if name not in first:
            continue
        name, ok, why, secs, d = run_one(name, fn, args.keep)
        i += 1
        report(i, name, ok, why, secs, d, first[name])
        failed += not ok
        if ok:
            alone.append(name)
    if args.again_alone:
        print("# passed only alone: %d%s" % (
            len(alone), "".join("\n#   " + n for n in alone)), flush=True)
    return 1 if failed else 0


def report(i, name, ok, why, secs, d, first=None):
    """One TAP line, and the failure (and a first failure) as comments."""
    tail = ""
    if first:
        tail = ", run alone after failing in the parallel pass"
    print("%s %d - %s (%.1f s%s)" % ("ok" if ok else "not ok", i, name, secs,
                                    tail), flush=True)
    if first:
        print("# failed in the parallel pass%s; kept: %s" %
              (", passed alone" if ok else "", first[1]))
        for line in first[0].rstrip().splitlines():
            print("#   " + line)
    if not ok:
        print("# kept: %s" % d)
        for line in why.rstrip().splitlines():
            print("# " + line)


if __name__ == "__main__":
    sys.exit(main())
