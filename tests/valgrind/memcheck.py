"""One scenario of the real collectd under valgrind memcheck, loading our
plugin from $BUILD_DIR (tools/valgrind-check runs it and says what is
checked). Usage: memcheck.py WORKDIR. Prints TAP; exits 1 when a check
failed."""
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools"))
from tap import Tap, comment as diag  # noqa: E402
from harness import Collectd, FakeAPI, account, certs, files_containing, wait_for  # noqa: E402

work = sys.argv[1]
TOKEN = "tdpat_VALGRINDSECRET0123456789"
TOKEN_H = "tdpat_VALGRINDHOSTILE9876543210"
SECRET_PART = "VALGRIND"
WAIT = 60  # generous: everything is 20-50 times slower under valgrind

# Hostile answers for the second account, each held for at least one poll.
HOSTILE = [
    {"mode": "malformed"}, {"mode": "truncated"}, {"mode": "empty200"},
    {"mode": "html200"}, {"mode": "wrong_types"}, {"mode": "nul_byte"},
    {"mode": "invalid_utf8"}, {"mode": "duplicate_keys"},
    {"mode": "deep_nesting"}, {"mode": "huge_string"},
    {"mode": "stream_1gib"}, {"mode": "short_body"},
    {"mode": "reset_mid_body"}, {"mode": "redirect"},
    {"mode": "ratelimit_seconds", "retry_after": 1},
    {"mode": "server_error_valid_body"}, {"mode": "detail401"},
    {"mode": "html401"}, {"mode": "503_html"},
    {"mode": "custom", "status": 200,
     "body": '{"id":"x","reason":"' + "\\u0007" * 300 + '"}'},
    {"mode": "ok"},
]

tap = Tap()


ca = os.path.join(certs(), "ca.pem")
main = FakeAPI(work, {TOKEN: {"label": "main", "mode": "ok"}}, name="fake_main")
main_port = main.port
hostile = FakeAPI(work, {TOKEN_H: {"label": "hostile", "mode": "ok"}},
                  name="fake_hostile")
block = "\n".join([
    account("main", main.url(), TOKEN, CACert=ca, Timeout=1,
            UnreachableAfter=2),
    account("hostile", hostile.url(), TOKEN_H, CACert=ca, Timeout=1),
])
valgrind = [
    "valgrind", "--tool=memcheck", "--leak-check=full",
    "--show-leak-kinds=definite,possible", "--errors-for-leak-kinds=definite",
    "--error-exitcode=99", "--num-callers=40", "--keep-debuginfo=yes",
    "--child-silent-after-fork=yes",
    "--log-file=" + os.path.join(work, "valgrind.%p.log"),
    "--xml=yes", "--xml-file=" + os.path.join(work, "valgrind.%p.xml"),
]
cd = Collectd(work, block, interval=1, wrapper=valgrind)
fakes = [main, hostile]
steps = []
hostile_done = []
stop_hostile = threading.Event()


def requests(fake, label):
    return fake.label(label).get("requests", 0)


def cycle_hostile():
    """Each hostile answer for at least one poll, then ok."""
    for entry in HOSTILE:
        if stop_hostile.is_set():
            return
        before = requests(hostile, "hostile")
        hostile.mode("hostile", entry["mode"],
                     **{k: v for k, v in entry.items() if k != "mode"})
        if wait_for(lambda: requests(hostile, "hostile") >= before + 2
                    or stop_hostile.is_set(), WAIT, 0.2):
            hostile_done.append(entry["mode"])


def step(name, pred):
    ok = bool(wait_for(pred, WAIT, 0.2))
    steps.append((name, ok))
    if not ok:
        diag("step %r did not happen; collectd log:\n%s" % (
            name, cd.log()[-3000:]))
    return ok


def notes(type_instance):
    return [x["severity"] for x in cd.notes("main", type_instance)]


runner = threading.Thread(target=cycle_hostile)
alive_at_end = False
try:
    step("main: first valid poll",
         lambda: cd.last("main", "bool-token_valid") == 1)
    runner.start()
    step("main: three healthy polls",
         lambda: len(cd.values("main", "bool-token_valid")) >= 3)
    main.mode("main", "revoked")
    step("main: revoked -> FAILURE", lambda: notes("token_valid") == ["FAILURE"])
    base = requests(main, "main")
    step("main: revoked for three polls",
         lambda: requests(main, "main") >= base + 3)
    main.mode("main", "ok")
    step("main: valid again -> OKAY",
         lambda: notes("token_valid") == ["FAILURE", "OKAY"])
    main.stop()
    step("main: API down -> WARNING",
         lambda: notes("api_reachable") == ["WARNING"])
    main = FakeAPI(work, {TOKEN: {"label": "main", "mode": "ok"}},
                   name="fake_main2", port=main_port)
    fakes.append(main)
    step("main: API back -> OKAY",
         lambda: notes("api_reachable") == ["WARNING", "OKAY"])
    base = requests(main, "main")
    step("main: three more valid polls",
         lambda: requests(main, "main") >= base + 3
         and cd.last("main", "bool-token_valid") == 1)
    runner.join(WAIT * 2)
finally:
    stop_hostile.set()
    if runner.is_alive():
        runner.join(WAIT)
    alive_at_end = cd.alive()
    polls = len(cd.values("main", "bool-api_reachable"))
    hostile_polls = len(cd.values("hostile", "bool-api_reachable"))
    if alive_at_end:
        cd.proc.send_signal(signal.SIGTERM)
    try:
        rc = cd.proc.wait(180)  # valgrind's leak check runs at exit
    except subprocess.TimeoutExpired:
        cd.proc.kill()
        rc = cd.proc.wait()
        diag("collectd under valgrind did not exit within 180 s of SIGTERM")
    cd.stdout.close()
    for f in fakes:
        f.stop()

missing = [e["mode"] for e in HOSTILE if e["mode"] not in hostile_done]
tap(all(ok for _, ok in steps) and not missing,
    "collectd under valgrind: main healthy -> revoked -> valid -> down -> "
    "back (%d polls), hostile account through %d answers (%d polls)"
    % (polls, len(hostile_done), hostile_polls))
for name, ok in steps:
    if not ok:
        diag("missed: " + name)
if missing:
    diag("hostile answers never polled: " + ", ".join(missing))
tap(alive_at_end and rc in (0, 99),
    "collectd stayed up and exited on SIGTERM (valgrind exit status %s)" % rc)

# ---- what memcheck found.
OURS = ("telemetrydeck.so",)


def frames(err):
    out = []
    stack = err.find("stack")
    if stack is None:
        return out
    for fr in stack.findall("frame"):
        out.append({k: (fr.findtext(k) or "") for k in
                    ("obj", "fn", "dir", "file", "line")})
    return out


def is_ours(fr):
    return (fr["obj"].endswith(OURS) or fr["fn"].startswith(("td_", "tdc_"))
            or "/src/td" in fr["dir"] + "/" + fr["file"]
            or fr["file"].startswith("td_") or fr["file"] == "telemetrydeck.c")


def show(err):
    what = err.findtext("what") or (err.find("xwhat") is not None and
                                    err.find("xwhat").findtext("text")) or ""
    diag("%s: %s" % (err.findtext("kind"), what))
    for fr in frames(err)[:14]:
        diag("    %s %s:%s (%s)" % (fr["fn"] or "???", fr["file"],
                                     fr["line"], os.path.basename(fr["obj"])))


xmls = sorted(f for f in os.listdir(work) if f.startswith("valgrind.")
              and f.endswith(".xml"))
invalid_anywhere, errors_ours, leaks_ours = [], [], []
counts = {}
parsed = 0
for name in xmls:
    try:
        root = ET.parse(os.path.join(work, name)).getroot()
    except ET.ParseError as e:
        diag("cannot read %s: %s" % (name, e))
        continue
    parsed += 1
    for err in root.findall("error"):
        kind = err.findtext("kind") or "?"
        counts[kind] = counts.get(kind, 0) + 1
        ours = any(is_ours(fr) for fr in frames(err))
        if kind.startswith("Leak_"):
            if kind == "Leak_DefinitelyLost" and ours:
                leaks_ours.append(err)
            continue
        if kind in ("InvalidRead", "InvalidWrite", "InvalidFree",
                    "MismatchedFree", "InvalidJump", "InvalidMemPool"):
            invalid_anywhere.append(err)
        if ours:
            errors_ours.append(err)

tap(parsed > 0, "valgrind wrote its report (%d file%s read)"
    % (parsed, "" if parsed == 1 else "s"))
tap(not invalid_anywhere and not errors_ours,
    "no invalid access or free anywhere, no memcheck error in the plugin "
    "(%d invalid, %d in the plugin)" % (len(invalid_anywhere),
                                        len(errors_ours)))
shown = []
for err in invalid_anywhere + errors_ours:
    if all(err is not e for e in shown) and len(shown) < 10:
        shown.append(err)
        show(err)
others = ", ".join("%s %d" % kv for kv in sorted(counts.items())) or "none"
tap(not leaks_ours,
    "no definitely lost block allocated through the plugin (%d); all "
    "records: %s" % (len(leaks_ours), others))
for err in leaks_ours[:10]:
    show(err)

leaks = files_containing(work, (SECRET_PART, TOKEN, TOKEN_H))
leaks = [p for p in leaks if not p.startswith(os.path.join(work, "input"))]
tap(not leaks, "no token in anything the run wrote (valgrind reports, logs, csv)")
for p in leaks:
    diag("token found in " + p)

sys.exit(tap.done())
