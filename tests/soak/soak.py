#!/usr/bin/env python3
"""Soak: thousands of polls of the real collectd against a fake API that
injects faults in a scripted random order.

The script is a seeded random sequence of phases, each a fault mode held
for enough polls to settle its state, so the notifications it must cause
follow from the phase order alone. The run asserts, printing TAP:
  - the notifications sent equal the state changes the script implies,
    kind by kind and in order;
  - no poll was missed: one api_reachable value per interval, within a few;
  - collectd's resident memory after warm-up stays flat;
  - the test token appears in no file the run produced.
Usage: soak.py [--polls N] [--interval S] [--seed N] [--keep]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))
from tap import Tap  # noqa: E402
from harness import (Collectd, FakeAPI, account, certs,  # noqa: E402
                     files_containing, status_kib)

TOKEN = "tdpat_SOAKSECRET_0123456789abcdef"
UNREACHABLE_AFTER = 3

# mode -> (token verdict: 1, 0 or None, the poll fails: bool)
FAULTS = {
    "ok": (1, False),
    "revoked": (0, False),
    "forbidden": (0, False),
    "malformed": (None, False),
    "html200": (None, False),
    "503_html": (None, True),
    "server_error_valid_body": (None, True),
    "hang": (None, True),
    "reset_mid_body": (None, True),
    "short_body": (None, True),
}


tap = Tap()


def make_script(rng, polls):
    """Phases (mode, polls). Each lasts long enough that its state settles
    even when the switch lands between two polls."""
    script, total, last = [], 0, None
    while total < polls:
        mode = rng.choice([m for m in FAULTS if m != last])
        n = rng.randint(UNREACHABLE_AFTER + 3, UNREACHABLE_AFTER + 12)
        script.append((mode, n))
        total += n
        last = mode
    return script


def expected_notes(script):
    """The notifications the phase order implies, as (type_instance,
    severity), by the plugin's documented rules."""
    notes, token, reach = [], None, "ok"
    for mode, _ in script:
        verdict, fails = FAULTS[mode]
        if verdict == 0 and token != "failure":
            notes.append(("token_valid", "FAILURE"))
            token = "failure"
        elif verdict == 1:
            if token == "failure":
                notes.append(("token_valid", "OKAY"))
            token = "ok"
        if fails and reach != "warning":
            notes.append(("api_reachable", "WARNING"))
            reach = "warning"
        elif not fails and reach == "warning":
            notes.append(("api_reachable", "OKAY"))
            reach = "ok"
    return notes


def collectd_pid(cd):
    return cd.proc.pid  # collectd -f runs as the process we started


def run(args, d):
    rng = random.Random(args.seed)
    script = make_script(rng, args.polls)
    fake = FakeAPI(d, {TOKEN: {"label": "soak", "mode": script[0][0]}})
    cd = Collectd(d, account("soak", fake.url(), TOKEN,
                             CACert=os.path.join(certs(), "ca.pem"),
                             UnreachableAfter=UNREACHABLE_AFTER),
                  interval=args.interval)
    rss, started = [], time.monotonic()
    try:
        polls_seen = 0
        for i, (mode, n) in enumerate(script):
            fake.mode("soak", mode)
            target = polls_seen + n
            deadline = time.monotonic() + n * args.interval * 4 + 5
            while polls_seen < target and time.monotonic() < deadline:
                time.sleep(args.interval / 2)
                polls_seen = len(cd.values("soak", "bool-api_reachable"))
            if i % 5 == 0 and cd.alive():
                rss.append(status_kib(collectd_pid(cd)))
        time.sleep(args.interval * 3)
        rss.append(status_kib(collectd_pid(cd)) if cd.alive() else 0)
        elapsed = time.monotonic() - started
    finally:
        cd.stop()
        fake.stop()
    tap(cd.was_alive, "collectd ran through %d phases of faults" % len(script))

    got = [(n["type_instance"], n["severity"]) for n in cd.notes("soak")]
    want = expected_notes(script)
    # Each kind in its order. Across kinds the order may differ from the
    # script's: after an outage, pacing may leave a short answering phase
    # untried, and the next phase's first attempt then brings the OKAY of
    # api_reachable and a token FAILURE in one poll, token first.
    def kinds(notes):
        return {k: [sev for t, sev in notes if t == k]
                for k in ("api_reachable", "token_valid")}
    tap(len(got) == len(want) and kinds(got) == kinds(want),
        "%d notifications, one per state change the script implies" % len(want),
        "script: %s" % " ".join("%s*%d" % p for p in script),
        "want: %s" % want, "got:  %s" % got)

    rows = cd.values("soak", "bool-api_reachable")
    times = [t for t, _ in rows]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Values are stamped when a poll ends, and a poll may take up to 0.9 of
    # an interval (a hang cut by Timeout): gaps up to 1.9 intervals are
    # normal. A missed poll shows as fewer polls than intervals and as a
    # gap beyond that.
    late = [g for g in gaps if g > args.interval * 2.5]
    expect = elapsed / args.interval
    tap(len(rows) >= expect * 0.95 and not late,
        "no poll missed: %d polls in %.1f s at %.2f s (%.0f expected), "
        "%d gaps over 2.5 intervals" % (len(rows), elapsed, args.interval,
                                        expect, len(late)),
        "longest gaps: %s" % sorted(gaps)[-5:])

    warm = rss[len(rss) // 4:] if len(rss) >= 4 else rss
    growth = (max(warm) - min(warm)) if warm else 0
    tap(bool(warm) and growth <= 1024,
        "resident memory flat after warm-up: %s KiB, growth %d KiB "
        "(bound 1024)" % (warm, growth))

    leaks = files_containing(d, [TOKEN])
    tap(not leaks, "the token is in no file the run produced", leaks)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--polls", type=int, default=3000)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="td-soak-")
    try:
        run(args, d)
    finally:
        if args.keep or tap.failed:
            print("# kept: %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
