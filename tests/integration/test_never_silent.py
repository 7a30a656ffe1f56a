"""The monitor is never the silent failure: an account that cannot be
polled says so, and a healthy start says what it polls.

The real collectd with a TokenFile account beside a healthy one on the
same fake API: the file is deleted, emptied, replaced by a FIFO, and
put back; each time the account cannot be polled gives one FAILURE that
names the file, and the first poll after it one OKAY; the healthy account
beside it never hears of it."""

import os
import re
import resource

from harness import Collectd, FakeAPI, Hang, Stack, account, inputs, wait_for
from test_core import ca, check_clean

FILED = "tdpat_SILENTfile0123456789abcdef"
OTHER = "tdpat_SILENTgood0123456789abcdef"


def readable(cd):
    return [v for _, v in cd.values("filed", "bool-token_readable")]


def token_notes(cd):
    return [(n["severity"], n["message"])
            for n in cd.notes(instance="filed", type_instance="token_readable")]


def write_token(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (FILED + "\n").encode())
    os.close(fd)


def filed_beside_other(s, d, interval, **filed):
    """The fake, the token file of "filed" and collectd polling "filed"
    (with the options filed) and "other" at interval, started on the
    Stack s. Returns the fake, the file's path and collectd."""
    fake = s.start(FakeAPI(d, {FILED: {"label": "filed", "mode": "ok"},
                               OTHER: {"label": "other", "mode": "ok"}}))
    path = os.path.join(inputs(d), "filed.token")
    write_token(path)
    blocks = [account("filed", fake.url(), token_file=path, CACert=ca(),
                      Interval=interval, **filed),
              account("other", fake.url(), OTHER, CACert=ca(),
                      Interval=interval)]
    cd = s.start(Collectd(d, "\n".join(blocks), interval=interval))
    return fake, path, cd


def test_unusable_token_file_is_a_failure_once_per_change_and_okay_after(d):
    with Stack() as s:
        fake, path, cd = filed_beside_other(s, d, 0.3)
        breakages = (
            ("deleted", lambda: os.unlink(path), "No such file or directory"),
            ("emptied", lambda: open(path, "w").close(), "is empty"),
            # In one step (rename), so that no poll sees the file missing.
            ("a FIFO", lambda: (os.mkfifo(path + ".fifo"),
                                os.rename(path + ".fifo", path)),
             "is not a regular file"),
        )
        assert wait_for(lambda: readable(cd)[-1:] == [1.0], 10), cd.log()[-2000:]
        for i, (what, breaking, words) in enumerate(breakages):
            breaking()
            assert wait_for(lambda: len(token_notes(cd)) == 2 * i + 1, 10), (
                what, cd.log()[-3000:])
            sev, msg = token_notes(cd)[-1]
            assert sev == "FAILURE", (what, msg)
            assert re.fullmatch(
                r'Account "filed": the token cannot be read \(.*TokenFile '
                r'"%s".*\); the account is not polled until it can\.'
                % re.escape(path), msg), (what, msg)
            assert words in msg, (what, msg)
            assert wait_for(lambda: readable(cd)[-2:] == [0.0, 0.0], 10), what
            # One FAILURE per change, not one per poll.
            assert len(token_notes(cd)) == 2 * i + 1, token_notes(cd)
            write_token(path + ".new")
            os.rename(path + ".new", path)
            assert wait_for(lambda: len(token_notes(cd)) == 2 * i + 2, 10), what
            assert token_notes(cd)[-1] == (
                "OKAY", 'Account "filed": the token can be read again; '
                        'polling goes on.'), token_notes(cd)
            assert wait_for(lambda: readable(cd)[-1:] == [1.0], 10), what
        # The account beside it: every poll answered, not a word about it.
        assert set(v for _, v in cd.values("other", "bool-api_reachable")) == {1.0}
        assert not cd.notes(instance="other")
        assert len(cd.values("other", "bool-api_reachable")) >= 8
    check_clean(d, cd, FILED, OTHER)


def test_start_and_first_good_poll_are_logged_without_the_token(d):
    with Stack() as s:
        fake, path, cd = filed_beside_other(s, d, 0.5, Timeout=0.4)
        assert wait_for(lambda: len(cd.values("other", "bool-token_valid")) >= 3,
                        10), cd.log()[-2000:]
        starts = cd.log_lines(r"telemetrydeck plugin: account \"\w+\": polls ")
        assert len(starts) == 2, starts
        assert starts[0].endswith(
            'account "filed": polls %s every 0.5 s (Timeout 0.4 s), the token '
            'from TokenFile "%s".' % (fake.url(), path)), starts
        assert starts[1].endswith(
            'account "other": polls %s every 0.5 s (Timeout 0.5 s), the token '
            'from the Token option.' % fake.url()), starts
        firsts = cd.log_lines(r"the first poll succeeds")
        assert sorted(l.split("plugin: ", 1)[1] for l in firsts) == [
            'account "filed": the first poll succeeds (HTTP 200); the token '
            'belongs to "id-filed"',
            'account "other": the first poll succeeds (HTTP 200); the token '
            'belongs to "id-other"'], firsts
    check_clean(d, cd, FILED, OTHER)


def io_thread_alive(pid):
    """Whether collectd's thread of the plugin (named by
    plugin_thread_create) still runs."""
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, task)) as f:
                if f.read().strip() == "telemetrydeck":
                    return True
        except OSError:
            continue
    return False


def test_failed_multi_handle_tells_every_account_that_polling_stopped(d):
    # A real failure of libcurl's multi handle: poll(2) refuses more
    # descriptors than RLIMIT_NOFILE allows (EINVAL), and libcurl's
    # curl_multi_poll answers "Unrecoverable error in select/poll". Sixteen
    # accounts hang in their TLS setup, each at a port of its own (so each
    # holds a socket in the poll set); then the open-file limit of the
    # running collectd is lowered under that count, as prlimit(1) would.
    # The limit is put back once the plugin's thread ended: the log line
    # and the notifications come from the read callback, later.
    n = 16
    hang = Hang(count=n)
    names = ["m%02d" % i for i in range(n)]
    cd = Collectd(d, "\n".join(account(m, hang.url(i), FILED, CACert=ca(),
                                       Interval=10)
                               for i, m in enumerate(names)), interval=10)
    nofile = resource.RLIMIT_NOFILE
    try:
        assert wait_for(lambda: hang.accepted >= n, 30), (hang.accepted,
                                                          cd.log()[-2000:])
        assert io_thread_alive(cd.proc.pid)
        soft, hard = resource.prlimit(cd.proc.pid, nofile)
        resource.prlimit(cd.proc.pid, nofile, (8, hard))
        try:
            stopped = wait_for(lambda: not io_thread_alive(cd.proc.pid), 15)
        finally:
            resource.prlimit(cd.proc.pid, nofile, (soft, hard))
        assert stopped, "the plugin's thread still runs"
        assert wait_for(lambda: len(cd.notes(type_instance="polling")) >= n,
                        40), cd.log()[-3000:]
        notes = cd.notes(type_instance="polling")
        assert sorted(x["instance"] for x in notes) == names, notes
        assert {x["severity"] for x in notes} == {"FAILURE"}, notes
        for x in notes:
            assert x["message"] == (
                'Account "%s": the plugin stopped polling it: libcurl\'s '
                'multi handle failed (Unrecoverable error in select/poll); '
                'restart collectd to poll it again.' % x["instance"]), x
        lines = cd.log_lines(r"plugin: libcurl's multi handle failed \(")
        assert len(lines) == 1 and lines[0].endswith(
            "telemetrydeck plugin: libcurl's multi handle failed "
            "(Unrecoverable error in select/poll); no account is polled any "
            "more."), lines
        assert cd.alive()
    finally:
        cd.stop()
        hang.stop()
    check_clean(d, cd, FILED)
