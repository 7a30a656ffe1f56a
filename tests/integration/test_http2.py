"""Accounts on one host share HTTP/2 connections, against
Debian's nginx with TLS and http2 on 127.0.0.1."""

import os
import shutil
import ssl
import time

from harness import Collectd, Stack, account, certs, free_port, inputs, wait_for
from nginx import Nginx
from test_core import ca, check_clean

TOKENS = ["tdpat_HTTPTWO%03dabcdef0123456789" % i for i in range(100)]


def valid_polls(cd, name):
    return [v for _, v in cd.values(name, "bool-token_valid") if v == 1]


def all_polled(cd, names, count):
    return all(len(valid_polls(cd, n)) >= count for n in names)


def test_hundred_accounts_share_one_http2_connection(d):
    with Stack() as s:
        ng = s.start(Nginx(d, free_port()))
        names = ["a%d" % i for i in range(len(TOKENS))]
        cd = s.start(Collectd(d, "\n".join(account(n, ng.url(), t, CACert=ca(), Interval=1)
                                           for n, t in zip(names, TOKENS)), interval=1))
        assert wait_for(lambda: all_polled(cd, names, 4), 40), cd.log()[-3000:]
        reqs = ng.requests()
        assert len(reqs) >= 400, len(reqs)
        assert {r[2] for r in reqs} == {"HTTP/2.0"}, {r[2] for r in reqs}
        assert {r[3] for r in reqs} == {"200"}, {r[3] for r in reqs}
        # One connection, hence one TLS handshake, for all hundred.
        assert len(ng.connections()) == 1, ng.connections()
        # Only the handshake shows the certificate, yet every account on
        # the shared connection reports how long it has left.
        missing = [n for n in names
                   if not cd.values(n, "timeleft-tls_certificate")]
        assert not missing, missing
    check_clean(d, cd, *TOKENS)


def test_six_hundred_accounts_need_no_second_connection(d):
    # nginx takes 128 streams on a connection; 600 accounts due at once
    # run at most 99 at a time, so libcurl never needs a second connection.
    # nginx's own limit of requests per connection is raised here: at it,
    # nginx refuses the streams in flight with a GOAWAY, and libcurl 7.88
    # sends each refused stream again on a fresh connection of its own.
    tokens = ["tdpat_MANYSTREAMS%03dabcdef0123456" % i for i in range(600)]
    names = ["m%d" % i for i in range(len(tokens))]
    with Stack() as s:
        ng = s.start(Nginx(d, free_port(), max_requests=100000))
        cd = s.start(Collectd(d, "\n".join(
            account(n, ng.url(), t, CACert=ca(), Interval=5)
            for n, t in zip(names, tokens)), interval=5))
        assert wait_for(lambda: all_polled(cd, names, 2), 60), cd.log()[-3000:]
        reqs = ng.requests()
        assert {r[2] for r in reqs} == {"HTTP/2.0"}, {r[2] for r in reqs}
        assert len(ng.connections()) == 1, (len(reqs), ng.connections())
        assert not cd.notes(type_instance="api_reachable"), cd.notes()[:3]
    check_clean(d, cd, *tokens)


def test_accounts_with_other_tls_settings_never_share(d):
    with Stack() as s:
        ng = s.start(Nginx(d, free_port()))
        other_ca = os.path.join(inputs(d), "same-ca-other-file.pem")
        shutil.copy(ca(), other_ca)
        groups = {"ca": dict(CACert=ca()),
                  "file": dict(CACert=other_ca),
                  "noverify": dict(CACert=ca(), VerifyPeer=False, VerifyHost=False)}
        blocks, names = [], []
        for g, opts in groups.items():
            for i in range(5):
                n = "%s%d" % (g, i)
                names.append(n)
                blocks.append(account(n, ng.url(), TOKENS[len(names)], Interval=1, **opts))
        cd = s.start(Collectd(d, "\n".join(blocks), interval=1))
        assert wait_for(lambda: all_polled(cd, names, 3), 30), cd.log()[-3000:]
        # One connection per set of TLS settings, never one shared by two.
        assert len(ng.connections()) == len(groups), ng.requests()
    check_clean(d, cd, *TOKENS)


def test_outage_of_a_shared_connection_notifies_each_account_once(d):
    port = free_port()
    with Stack() as s:
        ng = s.start(Nginx(d, port))
        names = ["o%d" % i for i in range(20)]
        cd = s.start(Collectd(d, "\n".join(account(n, ng.url(), t, CACert=ca(), Interval=1,
                                                   UnreachableAfter=2)
                                           for n, t in zip(names, TOKENS)), interval=1))
        assert wait_for(lambda: all_polled(cd, names, 2), 30), cd.log()[-3000:]
        # A slow machine (an ASan build on a loaded one) may have seen a
        # timeout or two before the outage: judge what came after it.
        before = len(cd.notes(type_instance="api_reachable"))
        if before:
            time.sleep(3)  # let an OKAY for such a blip come first
            before = len(cd.notes(type_instance="api_reachable"))
        ng.stop()
        assert wait_for(lambda: len(cd.notes(type_instance="api_reachable")) >=
                        before + len(names), 15)
        time.sleep(1.5)
        warn = cd.notes(type_instance="api_reachable")[before:]
        assert sorted(n["instance"] for n in warn) == sorted(names), warn
        assert {n["severity"] for n in warn} == {"WARNING"}, warn
        assert all("connection refused" in n["message"] for n in warn), warn[:2]
        # Values carry the time they were dispatched, and the csv plugin
        # writes them a little later (below: waited for).
        restarted = time.time()
        ng = s.start(Nginx(d, port, log="nginx-access-2.log"))
        assert wait_for(lambda: len(cd.notes(type_instance="api_reachable")) >=
                        before + 2 * len(names), 15)
        okay = [n for n in cd.notes(type_instance="api_reachable")[before:]
                if n["severity"] == "OKAY"]
        assert sorted(n["instance"] for n in okay) == sorted(names), okay
        for n in names:
            # Seen at the first poll after the restart: at most one more
            # failed poll (one that started before nginx listened).
            def after():
                return [v for t, v in cd.values(n, "bool-api_reachable")
                        if t > restarted]
            assert wait_for(lambda: len(after()) >= 2 or 1.0 in after(), 5), \
                (n, after())
            assert after()[:2].count(1.0) >= 1, (n, after())
        assert wait_for(lambda: all_polled(cd, names, 4), 15)
        assert len(ng.connections()) == 1, ng.requests()
    check_clean(d, cd, *TOKENS)


def test_new_connection_every_poll_shows_the_chain_and_resumes_no_session(d):
    # Behind a load balancer that closes idle connections, every poll opens
    # a new connection. The server offers session resumption (a session
    # cache, TLS 1.2 only so that GnuTLS builds could resume too); the
    # plugin resumes none, since a resumed handshake shows the chain of the
    # session's first and would hide a renewed certificate. The days left
    # come at every poll, and are the certificate's.
    with Stack() as s:
        ng = s.start(Nginx(d, free_port(), closing=True))
        names = ["r%d" % i for i in range(3)]
        cd = s.start(Collectd(d, "\n".join(account(n, ng.url(), t, CACert=ca(), Interval=1)
                                           for n, t in zip(names, TOKENS)), interval=1))
        pem = os.path.join(certs(), "server.pem")
        not_after = ssl.cert_time_to_seconds(
            ssl._ssl._test_decode_cert(pem)["notAfter"])
        assert wait_for(lambda: all_polled(cd, names, 5), 30), cd.log()[-3000:]
        reqs = ng.requests()
        # A connection per request, and no session resumed.
        assert len(ng.connections()) == len(reqs), reqs
        assert {r[2] for r in reqs} == {"HTTP/1.1"}, reqs
        assert [r for r in reqs if r[4] == "r"] == [], reqs
        for n in names:
            left = cd.values(n, "timeleft-tls_certificate")
            assert len(left) >= len(valid_polls(cd, n)) - 1, (n, left)
            assert all(abs(t + v - not_after) < 5 for t, v in left), (n, left)
    check_clean(d, cd, *TOKENS)
