#!/usr/bin/env python3
"""Stop under load: start the real collectd with many
accounts, let transfers run and notifications flow through the exec plugin,
send SIGTERM at a random moment, and count how each stop went.

Each run: HANG accounts whose API holds the request forever (every poll is
a transfer in flight until its Timeout, then a WARNING notification) and
HEALTHY accounts on a second fake whose answer flips between valid and
revoked every FLIP seconds (a FAILURE or OKAY notification per account at
every flip). collectd's exec plugin hands every notification to a small
shell script run as the unprivileged user "nobody" (the exec plugin refuses
root); the script reads it and sleeps a little, so notification threads are
alive when SIGTERM comes. SIGTERM arrives at a random moment between
--min-delay and --max-delay seconds after the start.

Counted for every stop: the exit status (0 is a clean stop, -11 or 139 a
SIGSEGV), whether SIGTERM alone stopped collectd within --stop-timeout
seconds, AddressSanitizer / UBSan reports (with --wrapper asan) and
valgrind errors (with --wrapper valgrind), and where a crash happened.

What it found: the rare SIGSEGV at shutdown is collectd 5.12's
exec plugin, not ours. exec_notification() starts one detached thread per
notification (exec_notification_one), which reads the program entry `pl`
(pl->user in getpwnam_r, pl->group, pl->exec, pl->argv) in fork_child().
exec_shutdown() frees every `pl` without waiting for those threads, and
collectd then leaves main() and exit()s while they run. A thread still
before its fork reads freed memory (the crash: getpwnam_r on a freed
pl->user, main thread already in exit()); one that forks after the free
execs a freed path, fails, and its child hangs in exit() on a lock the
exiting parent held. The more notifications shortly before SIGTERM, the
likelier: with 200 accounts about one stop in eight crashes. Without the
exec plugin no stop crashed; with exec.c rebuilt from collectd 5.12's
source, it crashed as Debian's does, and with that source patched so that
exec_shutdown() waits for its notification threads (--plugin-dir), none
crashed and no child was left behind.

Output: TAP lines and "# " comments with the figures, for tools/check.
Usage: stress.py [--stops N] [--hang N] [--healthy N] [--wrapper
                 none|asan|valgrind] [--no-exec] [--seed N] [--keep] ...
The build comes from BUILD_DIR (default _build; _build/asan for asan).
"""

import argparse
import collections
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))
from tap import Tap, comment  # noqa: E402
import harness  # noqa: E402
from harness import Collectd, FakeAPI, account, certs, files_containing  # noqa: E402

SECRET = "Zs5Kt7Wq3"
NOTIFY_SCRIPT = """#!/bin/sh
# Reads one notification from the exec plugin, notes its severity, and
# takes a little while, as a mailer would.
sev=
while IFS= read -r line; do
  case $line in Severity:*) sev=${line#Severity: } ;; esac
done
echo "$sev" >>"%(notes)s"
sleep %(sleep)s
"""


def tok(kind, i):
    return "tdpat_%s_%s%03d" % (SECRET, kind, i)


tap = Tap()


def asan_wrapper(work):
    """A command that starts collectd with the sanitizer runtimes preloaded.
    Freed memory is filled (max_free_fill_size), so that code without
    instrumentation (collectd, its other plugins) that reads freed memory
    gets garbage and crashes where it would otherwise read stale data and
    go on; the crash is then reported with its stack by ASan's handler."""
    # symbolize=0: a report is written at once, with module+offset frames
    # (collectd's threads go on exiting meanwhile and may cut a slow one).
    libs = [subprocess.run(["gcc", "-print-file-name=" + l],
                           capture_output=True, text=True).stdout.strip()
            for l in ("libasan.so", "libubsan.so")]
    path = os.path.join(work, "collectd-asan")
    with open(path, "w") as f:
        f.write("""#!/bin/sh
conf=
prev=
for a in "$@"; do
  [ "$prev" = "-C" ] && conf=$a
  prev=$a
done
dir=$(dirname "$(dirname "$conf")")
export LD_PRELOAD="%s"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:\
print_stacktrace=1:malloc_context_size=16:max_free_fill_size=4096:\
handle_segv=1:symbolize=0:log_path=$dir/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$dir/ubsan"
exec /usr/sbin/collectd "$@"
""" % " ".join(libs))
    os.chmod(path, 0o755)
    return [path]


def core_wrapper(work):
    """collectd allowed to dump core (into its BaseDir, the run's directory,
    when the kernel's core_pattern is the plain default "core"), for gdb."""
    return ["sh", "-c", 'ulimit -c unlimited && exec "$@"', "collectd"]


def valgrind_wrapper(work):
    return ["valgrind", "--tool=memcheck", "--leak-check=no",
            "--num-callers=30", "--error-exitcode=99",
            "--child-silent-after-fork=yes", "--trace-children=no",
            "--log-file=%s/valgrind-%%p.log" % work]


class Flipper(threading.Thread):
    """Flips the healthy accounts' answer between valid and revoked."""

    def __init__(self, fake, every):
        super().__init__(daemon=True)
        self.fake, self.every = fake, every
        self.stop = threading.Event()

    def run(self):
        mode = "ok"
        while not self.stop.wait(self.every):
            mode = "revoked" if mode == "ok" else "ok"
            try:
                self.fake.mode("h", mode)
            except OSError:
                pass


def leftovers(conf):
    """Processes still running a copy of this run's collectd: children the
    exec plugin forked that never reached exec (see the note in main)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if conf.encode() in args:
            pids.append(int(pid))
    return pids


def classify(rc):
    if rc == 0:
        return "exit 0"
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "exit %d" % rc


def crash_site(text):
    """The first frames of the first report in text, shortened."""
    start = text.find("ERROR: AddressSanitizer")
    if start >= 0:
        text = text[start:].split("\n\n")[0]
    frames = re.findall(r"#\d+ 0x[0-9a-f]+ +(?:in (\S+) )?\(?([^)\s]+)",
                        text)
    return "; ".join("%s (%s)" % (fn or "?", os.path.basename(where))
                     for fn, where in frames[:6])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stops", type=int, default=100)
    ap.add_argument("--hang", type=int, default=100)
    ap.add_argument("--healthy", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--flip", type=float, default=0.7)
    ap.add_argument("--min-delay", type=float, default=0.3)
    ap.add_argument("--max-delay", type=float, default=3.0)
    ap.add_argument("--stop-timeout", type=float, default=20.0)
    ap.add_argument("--script-sleep", type=float, default=0.3)
    ap.add_argument("--wrapper", choices=("none", "core", "asan", "valgrind"),
                    default="none")
    ap.add_argument("--no-exec", action="store_true",
                    help="notifications to the log only (no exec plugin)")
    ap.add_argument("--no-notifications", action="store_true",
                    help="Notifications false in every account")
    ap.add_argument("--plugin-dir", default=None,
                    help="take collectd's plugins (logfile, csv, exec) from "
                         "here instead of /usr/lib/collectd, to try a "
                         "patched exec plugin")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.wrapper == "valgrind":
        args.stop_timeout = max(args.stop_timeout, 180)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    harness.BUILD = os.environ.get("BUILD_DIR", harness.BUILD)
    if args.plugin_dir:
        harness.DEBIAN_PLUGINS = args.plugin_dir

    # The exec plugin runs the script as nobody: its directory, the script
    # and the notes file must be reachable for that user.
    work = tempfile.mkdtemp(prefix="td-stress-")
    os.chmod(work, 0o755)
    notes = os.path.join(work, "notes.log")
    open(notes, "w").close()
    os.chmod(notes, 0o666)
    script = os.path.join(work, "notify.sh")
    with open(script, "w") as f:
        f.write(NOTIFY_SCRIPT % dict(notes=notes, sleep=args.script_sleep))
    os.chmod(script, 0o755)
    wrapper = None
    if args.wrapper == "asan":
        # A stand-in for the collectd binary, as tools/sanitize does it.
        harness.COLLECTD = asan_wrapper(work)[0]
    elif args.wrapper == "core":
        wrapper = core_wrapper(work)
    elif args.wrapper == "valgrind":
        wrapper = valgrind_wrapper(work)

    ca = os.path.join(certs(), "ca.pem")
    hang_fake = FakeAPI(work, {tok("hang", i): {"label": "hang", "mode": "hang"}
                               for i in range(args.hang)}, name="fake_hang")
    ok_fake = FakeAPI(work, {tok("h", i): {"label": "h", "mode": "ok"}
                             for i in range(args.healthy)}, name="fake_ok")
    opts = dict(CACert=ca, Interval=args.interval, Timeout=args.timeout,
                UnreachableAfter=1)
    if args.no_notifications:
        opts["Notifications"] = False
    blocks = [account("hang%03d" % i, hang_fake.url(), tok("hang", i), **opts)
              for i in range(args.hang)]
    blocks += [account("h%03d" % i, ok_fake.url(), tok("h", i), **opts)
               for i in range(args.healthy)]
    extra = ""
    plugins = ()
    if not args.no_exec:
        extra = ('LoadPlugin exec\n<Plugin exec>\n  NotificationExec "nobody" '
                 '"%s"\n</Plugin>' % script)
        plugins = ("exec",)
    flipper = Flipper(ok_fake, args.flip)
    flipper.start()

    comment("stress: seed %d, %d stops, %d hanging + %d healthy accounts, "
            "exec plugin %s, wrapper %s, SIGTERM %.1f-%.1f s after start"
            % (seed, args.stops, args.hang, args.healthy,
               "off" if args.no_exec else "on (%s)" % os.path.join(
                   harness.DEBIAN_PLUGINS, "exec.so"), args.wrapper,
               args.min_delay, args.max_delay))
    outcomes = collections.Counter()
    killed = 0
    slowest = 0.0
    reports = []      # (run, kind, first frames)
    kept = []
    polled_runs = 0
    leaks = []
    stuck_children = 0
    runs_with_stuck = 0
    started = time.monotonic()
    try:
        for run in range(args.stops):
            d = os.path.join(work, "run%03d" % run)
            os.makedirs(d)
            cd = Collectd(d, "\n".join(blocks), interval=args.interval,
                          extra=extra, wrapper=wrapper, plugins_extra=plugins)
            time.sleep(rng.uniform(args.min_delay, args.max_delay))
            alive = cd.alive()
            cd.stop(args.stop_timeout)
            rc = cd.proc.returncode
            # collectd's exec plugin may fork after its shutdown freed what
            # the child needs (the same fault as the SIGSEGV): such a child
            # fails to exec and then hangs for ever in exit(), on a lock
            # the exiting parent held when it forked. Count and end them.
            stuck = leftovers(cd.conf)
            if stuck:
                time.sleep(0.5)
                stuck = leftovers(cd.conf)
            stuck_children += len(stuck)
            runs_with_stuck += bool(stuck)
            for pid in stuck:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            outcomes["died before SIGTERM" if not alive else classify(rc)] += 1
            killed += cd.killed
            slowest = max(slowest, cd.stop_seconds)
            if cd.values("h000", "bool-api_reachable"):
                polled_runs += 1
            bad = not alive or rc != 0 or cd.killed
            texts = []
            for p in sorted(glob.glob(os.path.join(d, "asan.*"))
                            + glob.glob(os.path.join(d, "ubsan.*"))
                            + [os.path.join(d, "collectd.out")]):
                with open(p, errors="replace") as f:
                    t = f.read()
                m = re.search(r"ERROR: AddressSanitizer: (\S+( on unknown "
                              r"address)?)|runtime error: .*", t)
                if m:
                    texts.append(t)
                    reports.append((run, m.group(0), crash_site(t)))
                    bad = True
            leaks += files_containing(d, [SECRET])
            if bad and len(kept) < 10:
                kept.append(d)
                comment("run %d: %s after %.1f s%s; kept %s" % (
                    run, classify(rc) if alive else "died early",
                    cd.stop_seconds, ", SIGKILL needed" if cd.killed else "",
                    d))
                tail = [l for l in cd.log().splitlines()[-4:]]
                comment("  log ends: " + " | ".join(tail))
            elif not args.keep:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        flipper.stop.set()
        hang_fake.stop()
        ok_fake.stop()
    with open(notes) as f:
        delivered = collections.Counter(l.strip() for l in f)
    secs = time.monotonic() - started

    comment("figures: %d stops in %.0f s: %s; SIGKILL needed %d; slowest "
            "stop %.1f s; %d runs polled before SIGTERM; notifications "
            "delivered to the exec script: %s"
            % (args.stops, secs, ", ".join("%s x%d" % kv for kv in
                                          sorted(outcomes.items())),
               killed, slowest, polled_runs,
               ", ".join("%s %d" % kv for kv in sorted(delivered.items()))
               or "none"))
    comment("children of the exec plugin left hanging after the stop: %d "
            "(in %d runs)" % (stuck_children, runs_with_stuck))
    kinds = collections.Counter(k for _, k, _ in reports)
    comment("sanitizer reports: %d (%s)" % (len(reports), ", ".join(
        "%s x%d" % kv for kv in kinds.items()) or "none"))
    for run, kind, where in reports[:10]:
        comment("  run %d: %s at %s" % (run, kind, where))
    vg = []
    vg_logs = glob.glob(os.path.join(work, "valgrind-*.log"))
    if args.wrapper == "valgrind":
        for p in vg_logs:
            with open(p, errors="replace") as f:
                t = f.read()
            m = re.search(r"ERROR SUMMARY: (\d+) errors", t)
            n = int(m.group(1)) if m else -1
            if n != 0:
                vg.append((p, n, t))
        comment("valgrind: %d logs read, %d with errors" % (len(vg_logs),
                                                           len(vg)))
        for p, n, t in vg[:3]:
            comment("  %s: %d errors; the first:" % (p, n))
            lines = t.splitlines()
            first = [i for i, l in enumerate(lines)
                     if re.search(r"==\d+== (Invalid|Conditional|Use of|"
                                  r"Syscall param|Process terminating)", l)]
            for l in lines[first[0]:first[0] + 30] if first else []:
                comment("    " + l)

    clean = outcomes.get("exit 0", 0)
    tap(clean == args.stops and killed == 0,
        "%d of %d SIGTERM stops under load exited 0 without SIGKILL (%s)"
        % (clean, args.stops, ", ".join("%s x%d" % kv
                                         for kv in sorted(outcomes.items()))))
    tap(not reports, "no AddressSanitizer or UBSan report (%d)" % len(reports))
    tap(stuck_children == 0, "no process of collectd left behind after a "
        "stop (%d in %d runs)" % (stuck_children, runs_with_stuck))
    if args.wrapper == "valgrind":
        tap(vg_logs and not vg, "valgrind: no memcheck error (%d logs, %d "
            "with errors)" % (len(vg_logs), len(vg)))
    if not args.no_exec and not args.no_notifications:
        tap(sum(delivered.values()) > 0,
            "notifications reached the exec plugin's script as nobody (%d)"
            % sum(delivered.values()))
    leaks += [p for p in files_containing(work, [SECRET])
              if not re.search(r"/run\d+/input/", p)]
    tap(not leaks, "no token in anything the runs wrote", *leaks[:5])
    if tap.failed or args.keep:
        comment("the runs' files are in %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
