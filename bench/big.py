"""Issue 20's section "big" of bench/run: 10,000 accounts on one collectd.

Each row: one collectd with N accounts (Interval 60 or 10, Timeout 10 or
the interval when shorter), all at one Debian nginx on 127.0.0.1 over
HTTP/1.1 (each account its own kept connection) or HTTP/2 (the accounts
share connections), the system's own CA file out of the way (CACert: the
bench CA). nginx runs two workers, so the server is not the bottleneck;
its CPU is reported beside ours. Values are dropped by a filter chain, as
in the CPU rows, so that no write plugin's cost counts.

Measured from nginx's access log (the time each answer went out and the
account's bearer token, which names the account):
- the first round: from the first request to the last account's first;
- on time: from the end of the first round, `big_rounds` intervals and
  half a one; an account is on time in a round when it was answered in
  it, counted up to `big_rounds` per account;
- collectd's CPU (all threads) and nginx's (master and workers) over the
  same window, as a share of one core;
- collectd's resident memory at the end minus that of a collectd with one
  account at the same server (the libraries, the trust store, the daemon
  itself), per further account, and its peak; its CPU minus that one's;
- the log lines that say a poll failed or ran late.

Loopback only; every process started here is stopped by its pid.
"""

import os
import time

import nginx  # the tests' nginx runner (bench.py sets the path)
from harness import Stack, free_port, proc_cpu, status_kib

B = None  # bench.py, the running driver: set by it before any call

BIG_FULL = dict(big_n=10000, big_rounds=3, big_split=2000,
                big_split_iv=60.0,
                big_cases=[("HTTP/1.1", 60.0), ("HTTP/2", 60.0),
                           ("HTTP/1.1", 10.0), ("HTTP/2", 10.0)])
BIG_QUICK = dict(big_n=300, big_rounds=2, big_split=100,
                 big_split_iv=4.0,
                 big_cases=[("HTTP/1.1", 4.0), ("HTTP/2", 4.0)])

# The access log's line: when the answer went out, the account's token,
# the connection, the protocol, the status.
LOG_FORMAT = "$msec $http_authorization $connection $server_protocol $status"
BAD_LINES = ("unreachable", "timeout after", "still running", "no answer",
             "open-file limit")


def tree_cpu(pid):
    """CPU seconds of pid and its children (nginx's workers)."""
    total = proc_cpu(pid)
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                total += proc_cpu(int(p))
        except (OSError, ValueError):
            pass
    return total


class Log:
    """nginx's access log read as it grows: (time, token, connection,
    protocol, status) per answer."""

    def __init__(self, path):
        self.path, self.at, self.rows = path, 0, []

    def read(self):
        try:
            with open(self.path) as f:
                f.seek(self.at)
                chunk = f.read()
        except FileNotFoundError:
            return self.rows
        end = chunk.rfind("\n") + 1
        self.at += len(chunk[:end].encode())
        for line in chunk[:end].splitlines():
            p = line.split()
            if len(p) == 6 and p[1] == "Bearer":
                self.rows.append((float(p[0]), p[2], p[3], p[4], p[5]))
        return self.rows


def big_run(env, S, proto, iv):
    n, rounds = S["big_n"], S["big_rounds"]
    d_dir = os.path.join(env.ws, "big-%s-%g-%d" % (proto[-1], iv, env.seq()))
    os.makedirs(d_dir)
    with Stack() as s:
        port = free_port()
        tls = nginx.keep(100000) if proto == "HTTP/2" else nginx.KEEP
        ng = s.start(nginx.Nginx(
            d_dir, servers=[nginx.server(port, tls, http2=proto == "HTTP/2")],
            ports=[port], log_format=LOG_FORMAT, workers=2,
            connections=n + 1024, cert_dir=os.path.dirname(env.ca)))
        # The reference: one account at the same server, whose memory
        # (the libraries, the trust store, the daemon) every run has.
        ref = s.start(B.Daemon(env.ws, "big-ref-%d" % env.seq(), "ours",
                               [B.account("ref", ng.url(), env.ca, iv,
                                          min(iv, 10.0))], 1.0))
        labels = ["b%05d" % i for i in range(n)]
        accs = [B.account(l, ng.url(), env.ca, iv, min(iv, 10.0))
                for l in labels]
        d = s.start(B.Daemon(env.ws, "big-ours-%d" % env.seq(), "ours", accs,
                             1.0))
        log = Log(ng.access_log)
        tokens = {B.token_of(l) for l in labels}
        # The first round: until every account was answered once.
        seen = set()

        def first_round_done():
            seen.update(r[1] for r in log.read())
            return tokens <= seen
        if not B.wait_for(first_round_done, iv * 3 + 120, 0.5):
            B.check_alive(d, "big")
            raise RuntimeError("big %s %g: the first round did not end (%d of "
                               "%d answered)" % (proto, iv, len(seen), n))
        rows = [r for r in log.read() if r[1] in tokens]
        first_wall = max(r[0] for r in rows) - min(r[0] for r in rows)
        t1 = time.time()
        c0, g0, i0 = d.cpu(), tree_cpu(ng.proc.pid), ref.cpu()
        end = t1 + (rounds + 0.5) * iv
        while time.time() < end:
            time.sleep(0.5)
            B.check_alive(d, "big")
        c1, g1, i1 = d.cpu(), tree_cpu(ng.proc.pid), ref.cpu()
        t2 = time.time()
        rss, rss_ref = status_kib(d.pid), status_kib(ref.pid)
        hwm = d.vmhwm_kib()
        rows = log.read()
        text = d.log()
    per = {}
    for t, tok, _, _, status in rows:
        if tok not in tokens:
            continue  # the reference's
        if t1 <= t < t1 + (rounds + 0.5) * iv and status == "200":
            per[tok] = per.get(tok, 0) + 1
    on_time = sum(min(rounds, per.get(t, 0)) for t in tokens)
    conns = {r[2] for r in rows if r[1] in tokens}
    bad = sum(1 for line in text.splitlines()
              if any(b in line for b in BAD_LINES))
    return dict(n=n, proto=proto, iv=iv, first=first_wall,
                on_time=on_time / (rounds * n), late=rounds * n - on_time,
                core=((c1 - c0) - (i1 - i0)) / (t2 - t1),
                nginx_core=(g1 - g0) / (t2 - t1),
                kib_per_account=(rss - rss_ref) / (n - 1),
                rss_mib=rss / 1024.0, ref_mib=rss_ref / 1024.0,
                hwm_mib=hwm / 1024.0, connections=len(conns), bad_lines=bad,
                protos=sorted({r[3] for r in rows}))


# What a further HTTP/2 account's memory is made of: the same accounts
# with values dropped after collectd's value cache (as above), before it,
# and with CollectTimings false (6 values per poll, not 11).
SPLIT = (("as above", "PostCacheChain", []),
         ("no collectd value cache", "PreCacheChain", []),
         ("CollectTimings false", "PostCacheChain", ["CollectTimings false"]))


def split_run(env, S, chain, extra):
    n, iv = S["big_split"], S["big_split_iv"]
    d_dir = os.path.join(env.ws, "split-%d" % env.seq())
    os.makedirs(d_dir)
    drop = B.DROP_CHAIN
    B.DROP_CHAIN = drop.replace("PostCacheChain", chain)
    try:
        with Stack() as s:
            port = free_port()
            ng = s.start(nginx.Nginx(
                d_dir, servers=[nginx.server(port, nginx.keep(100000),
                                             http2=True)],
                ports=[port], workers=2, connections=n + 1024,
                cert_dir=os.path.dirname(env.ca)))
            def accs(k, pre):
                return [dict(B.account("%s%05d" % (pre, i), ng.url(), env.ca,
                                       iv, min(iv, 10.0)), extra=extra)
                        for i in range(k)]
            ref = s.start(B.Daemon(env.ws, "split-ref-%d" % env.seq(), "ours",
                                   accs(1, "r"), 1.0))
            d = s.start(B.Daemon(env.ws, "split-%d" % env.seq(), "ours",
                                 accs(n, "s"), 1.0))
            # Two polls each (the first round and one more), then settled.
            B.wait_for(lambda: len(ng.requests()) >= 2 * n + 2, 3 * iv, 0.5)
            time.sleep(2)
            B.check_alive(d, "split")
            return (status_kib(d.pid) - status_kib(ref.pid)) / (n - 1)
    finally:
        B.DROP_CHAIN = drop


def bench_big(env, S):
    B.say("12. %d accounts on one collectd against nginx: %s" % (
        S["big_n"], ", ".join("%s at Interval %g" % c for c in S["big_cases"])))
    res = {}
    for proto, iv in S["big_cases"]:
        r = big_run(env, S, proto, iv)
        res[(proto, iv)] = r
        B.say("   %s Interval %g: first round %.1f s, on time %.3f%% (%d "
              "late), %.3f core (nginx %.3f), %.1f KiB per account, RSS "
              "%.0f MiB (peak %.0f), %d connections, %d log lines of "
              "failure" % (proto, iv, r["first"], 100 * r["on_time"],
                           r["late"], r["core"], r["nginx_core"],
                           r["kib_per_account"], r["rss_mib"], r["hwm_mib"],
                           r["connections"], r["bad_lines"]))
    split = {}
    for name, chain, extra in SPLIT:
        split[name] = split_run(env, S, chain, extra)
        B.say("   %d HTTP/2 accounts, %s: %.1f KiB per account" % (
            S["big_split"], name, split[name]))
    res["split"] = split
    return res


def rows_big(S, res):
    for proto, iv in S["big_cases"]:
        r = res[(proto, iv)]
        goals = ["on time >= 99.9%", "first round <= Interval"]
        oks = [r["on_time"] >= 0.999, r["first"] <= iv]
        per_goal = 12 if proto == "HTTP/2" else 40
        goals.append("<= %d KiB per account" % per_goal)
        oks.append(r["kib_per_account"] <= per_goal)
        if proto == "HTTP/2" and iv == 60:
            goals.append("<= 0.05 core")
            oks.append(r["core"] <= 0.05)
        yield ("12 %d accounts, %s to nginx (2 workers), Interval %g, "
               "Timeout %g; %d rounds after the first" % (
                   r["n"], proto, iv, min(iv, 10.0), S["big_rounds"]),
               "on time %.3f%% (%d late); first round %.1f s; %.4f of a core "
               "(nginx %.4f); %.1f KiB per account (RSS %.0f MiB, peak "
               "%.0f; one account %.1f MiB); %d connections; %d log lines "
               "of failure" % (
                   100 * r["on_time"], r["late"], r["first"], r["core"],
                   r["nginx_core"], r["kib_per_account"], r["rss_mib"],
                   r["hwm_mib"], r["ref_mib"], r["connections"],
                   r["bad_lines"]),
               "", "", "", "; ".join(goals),
               "; ".join(B.verdict(ok) for ok in oks))
    sp = res.get("split")
    if sp:
        base = sp["as above"]
        yield ("12 what a further account's memory is made of: %d HTTP/2 "
               "accounts, Interval %g, two polls each, minus a one-account "
               "collectd" % (S["big_split"], S["big_split_iv"]),
               "; ".join("%s %.1f KiB" % (k, v) for k, v in sp.items()),
               "", "", "collectd's value cache %.1f KiB; the 5 timing "
               "values %.1f KiB; the rest %.1f KiB" % (
                   base - sp["no collectd value cache"],
                   base - sp["CollectTimings false"],
                   sp["no collectd value cache"]), "", "")
