#!/usr/bin/env python3
"""Runs the integration tests (tests/integration/test_*.py) and prints TAP.

Every function named test_* takes one argument, a fresh temporary directory,
and raises AssertionError (or anything else) to fail. Tests run in parallel
(-j) since most of their time is spent waiting for collectd's intervals.
Usage: run.py [-j N] [-k SUBSTRING] [--keep]
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
    args = ap.parse_args()
    tests = discover(args.k)
    print("1..%d" % len(tests), flush=True)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.j) as pool:
        futures = [pool.submit(run_one, n, f, args.keep) for n, f in tests]
        for i, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            name, ok, why, secs, d = fut.result()
            print("%s %d - %s (%.1f s)" % ("ok" if ok else "not ok", i, name, secs),
                  flush=True)
            if not ok:
                failed += 1
                print("# kept: %s" % d)
                for line in why.rstrip().splitlines():
                    print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
