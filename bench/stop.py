#!/usr/bin/env python3
"""The `stop` section of bench/run: how long SIGTERM takes to end collectd
while a poll hangs, and how close response_time stays to the server's
known delay.

The real collectd with our plugin (and, with --baseline-so, an earlier
build's, side by side) against the fake API on 127.0.0.1: one account
whose API hangs and one healthy account, Interval = Timeout = T; SIGTERM
3 s into the hanging poll; the seconds until collectd has exited. Then
one account whose answers come after a known delay, and the median
response_time it dispatched.

Run alone: bench/stop.py [--timeouts 10,60,600] [--baseline-so SO]
[--baseline-timeouts 10,60] (the baseline's stop waits for its Timeout,
so its 600 s row is left out by default).
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
from harness import Collectd, FakeAPI, Stack, account, wait_for  # noqa: E402

HANG = "tdpat_BENCHstophang0123456789ab"
GOOD = "tdpat_BENCHstopgood0123456789ab"

STOP_FULL = dict(stop_timeouts=[10, 60, 600], stop_baseline_timeouts=[10, 60],
                 rt_cases=[(0.3, 1), (1.5, 2)], rt_polls=6)
STOP_QUICK = dict(stop_timeouts=[10], stop_baseline_timeouts=[10],
                  rt_cases=[(0.3, 1)], rt_polls=3)

B = None  # bench.py, for say and verdict, when run as a section


def say(msg):
    if B is not None:
        B.say(msg)
    else:
        sys.stderr.write(msg + "\n")


class Build:
    """A build directory holding the given telemetrydeck.so, for the
    harness (which copies BUILD/.libs/telemetrydeck.so)."""

    def __init__(self, so):
        self.dir = tempfile.mkdtemp(prefix="td-bench-build-")
        os.makedirs(os.path.join(self.dir, ".libs"))
        shutil.copy(so, os.path.join(self.dir, ".libs", "telemetrydeck.so"))

    def __enter__(self):
        self.old, harness.BUILD = harness.BUILD, self.dir
        return self

    def __exit__(self, *exc):
        harness.BUILD = self.old
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_seconds(timeout):
    d = tempfile.mkdtemp(prefix="td-bench-stop-")
    with Stack() as s:
        s.callback(shutil.rmtree, d, ignore_errors=True)
        fake = s.start(FakeAPI(d, {HANG: {"label": "hang", "mode": "hang"},
                                   GOOD: {"label": "good", "mode": "ok"}}))
        ca = os.path.join(harness.certs(), "ca.pem")
        blocks = [account(n, fake.url(), t, CACert=ca, Interval=timeout,
                          Timeout=timeout)
                  for n, t in (("hang", HANG), ("good", GOOD))]
        cd = s.start(Collectd(d, "\n".join(blocks), interval=timeout))
        started = wait_for(
            lambda: fake.label("hang").get("requests", 0) >= 1, 15)
        time.sleep(3)
        ran = cd.stop(timeout=timeout + 30)
        return cd.stop_seconds, cd.killed, bool(started) and ran


def response_times(delay, interval, polls):
    d = tempfile.mkdtemp(prefix="td-bench-rt-")
    with Stack() as s:
        s.callback(shutil.rmtree, d, ignore_errors=True)
        fake = s.start(FakeAPI(d, {GOOD: {"label": "slow", "mode": "ok",
                                          "delay": delay}}))
        ca = os.path.join(harness.certs(), "ca.pem")
        cd = s.start(Collectd(d, account("slow", fake.url(), GOOD, CACert=ca,
                                         Interval=interval, Timeout=interval),
                              interval=interval))
        wait_for(lambda: len(cd.values("slow", "response_time")) >= polls,
                 interval * (polls + 3))
        return [v for _, v in cd.values("slow", "response_time")][1:]


def bench_stop(plugins, S):
    """plugins: [(name, path of telemetrydeck.so)], ours first."""
    say("10. stop during a hanging poll; response_time against a known delay")
    res = {"stop": [], "rt": []}
    for name, so in plugins:
        timeouts = S["stop_timeouts"] if name == "ours" else \
            S["stop_baseline_timeouts"]
        with Build(so):
            for t in timeouts:
                secs, killed, valid = stop_seconds(t)
                res["stop"].append((name, t, secs, killed, valid))
                say("   %-8s Timeout %4g s: stopped in %.2f s%s" % (
                    name, t, secs, " (SIGKILL)" if killed else ""))
            for delay, interval in S["rt_cases"]:
                vals = response_times(delay, interval, S["rt_polls"])
                med = statistics.median(vals) if vals else float("nan")
                res["rt"].append((name, delay, interval, med, len(vals)))
                say("   %-8s delay %.1f s: response_time %.3f s" % (
                    name, delay, med))
    return res


def rows_stop(S, res):
    verdict = B.verdict if B is not None else (
        lambda ok: "met" if ok else "**missed**")
    for t in S["stop_timeouts"]:
        cells = {}
        ok = False
        for name, tt, secs, killed, valid in res["stop"]:
            if tt != t:
                continue
            cells[name] = "%.2f s%s%s" % (secs, " (SIGKILL)" if killed else "",
                                          "" if valid else " (no poll seen)")
            if name == "ours":
                ok = valid and not killed and secs <= 2
        yield ("10 SIGTERM 3 s into a poll of a hanging API, Interval = "
               "Timeout = %g s: seconds until collectd exited" % t,
               cells.get("ours", ""), "", cells.get("before", "not run (it "
                                                    "waits for its Timeout)"),
               "", "<= 2 s", verdict(ok))
    for delay, interval in S["rt_cases"]:
        cells = {}
        ok = False
        for name, dl, iv, med, n in res["rt"]:
            if (dl, iv) != (delay, interval):
                continue
            cells[name] = "median %.3f s over %d polls (+%.0f ms)" % (
                med, n, (med - delay) * 1000)
            if name == "ours":
                ok = abs(med - delay) < 0.05
        yield ("10 response_time against the fake API's delay of %.1f s, "
               "Interval %g s" % (delay, interval), cells.get("ours", ""), "",
               cells.get("before", ""), "", "within 50 ms of the delay",
               verdict(ok))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeouts", default="10,60,600")
    ap.add_argument("--baseline-so")
    ap.add_argument("--baseline-timeouts", default="10,60")
    a = ap.parse_args()
    S = dict(STOP_FULL)
    S["stop_timeouts"] = [float(x) for x in a.timeouts.split(",") if x]
    S["stop_baseline_timeouts"] = [float(x) for x in
                                   a.baseline_timeouts.split(",") if x]
    plugins = [("ours", os.path.join(harness.BUILD, ".libs",
                                     "telemetrydeck.so"))]
    if a.baseline_so:
        plugins.append(("before", a.baseline_so))
    res = bench_stop(plugins, S)
    print("| measure | ours | curl_json | baseline | ratio | goal | verdict |")
    print("|---|---|---|---|---|---|---|")
    for row in rows_stop(S, res):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
