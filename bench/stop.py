#!/usr/bin/env python3
"""How long SIGTERM takes to end collectd while a poll hangs, and how
close response_time stays to the server's known delay.

Runs the real collectd with our plugin (and, with --baseline-build, the
plugin of another build side by side) against the fake API on 127.0.0.1:
one account whose API hangs and one healthy account, Interval = Timeout
= T; SIGTERM 3 s into the hanging poll; the seconds until collectd has
exited. Then one account whose answers come after a known delay, and the
median response_time it dispatched. Prints a Markdown table.

Usage: bench/stop.py [--timeouts 10,60,600] [--baseline-build DIR]
                     [--baseline-timeouts 10,60]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import harness  # noqa: E402
from harness import Collectd, FakeAPI, account, wait_for  # noqa: E402

HANG = "tdpat_BENCHstophang0123456789ab"
GOOD = "tdpat_BENCHstopgood0123456789ab"


def with_build(build, fn, *args):
    old = harness.BUILD
    harness.BUILD = build
    try:
        return fn(*args)
    finally:
        harness.BUILD = old


def stop_seconds(timeout):
    d = tempfile.mkdtemp(prefix="td-bench-stop-")
    try:
        fake = FakeAPI(d, {HANG: {"label": "hang", "mode": "hang"},
                           GOOD: {"label": "good", "mode": "ok"}})
        ca = os.path.join(harness.certs(), "ca.pem")
        blocks = [account(n, fake.url(), t, CACert=ca, Interval=timeout,
                          Timeout=timeout)
                  for n, t in (("hang", HANG), ("good", GOOD))]
        cd = Collectd(d, "\n".join(blocks), interval=timeout)
        try:
            wait_for(lambda: fake.label("hang").get("requests", 0) >= 1, 15)
            time.sleep(3)
            cd.stop(timeout=timeout + 30)
            return cd.stop_seconds, cd.killed
        finally:
            cd.stop()
            fake.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def response_times(delay, interval, polls):
    d = tempfile.mkdtemp(prefix="td-bench-rt-")
    try:
        fake = FakeAPI(d, {GOOD: {"label": "slow", "mode": "ok",
                                  "delay": delay}})
        ca = os.path.join(harness.certs(), "ca.pem")
        cd = Collectd(d, account("slow", fake.url(), GOOD, CACert=ca,
                                 Interval=interval, Timeout=interval),
                      interval=interval)
        try:
            wait_for(lambda: len(cd.values("slow", "response_time")) >= polls,
                     interval * (polls + 3))
            return [v for _, v in cd.values("slow", "response_time")][1:]
        finally:
            cd.stop()
            fake.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeouts", default="10,60,600")
    ap.add_argument("--baseline-build")
    ap.add_argument("--baseline-timeouts", default="10,60")
    a = ap.parse_args()
    rows = []
    runs = [("ours", harness.BUILD, a.timeouts)]
    if a.baseline_build:
        runs.append(("baseline", a.baseline_build, a.baseline_timeouts))
    for name, build, timeouts in runs:
        for t in [float(x) for x in timeouts.split(",") if x]:
            secs, killed = with_build(build, stop_seconds, t)
            rows.append("| stop during a hanging poll, Timeout %g s | %s | "
                        "%.2f s%s |" % (t, name, secs,
                                        " (SIGKILL)" if killed else ""))
            print(rows[-1], file=sys.stderr)
    for name, build, _ in runs:
        for delay, interval in ((0.3, 1), (1.5, 2)):
            vals = with_build(build, response_times, delay, interval, 6)
            med = statistics.median(vals) if vals else float("nan")
            rows.append("| response_time, fake API delay %.1f s, Interval "
                        "%g s | %s | median %.3f s over %d polls (+%.0f ms) |"
                        % (delay, interval, name, med, len(vals),
                           (med - delay) * 1000))
            print(rows[-1], file=sys.stderr)
    print("| measure | plugin | result |")
    print("|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
