"""Broken accounts delay no one: accounts whose server accepts
TCP and never speaks TLS, next to healthy ones on the same daemon."""

from harness import Collectd, FakeAPI, Hang, Stack, account, wait_for
from test_core import ca, check_clean

HEALTHY = ["tdpat_HEALTHY%02dabcdef0123456789" % i for i in range(10)]
HANGING = ["tdpat_HANGING%03dabcdef012345678" % i for i in range(100)]


def polls(cd, name):
    return cd.values(name, "bool-api_reachable")


def run_isolation(d, listeners):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {t: {"label": "g%d" % i, "mode": "ok"}
                                   for i, t in enumerate(HEALTHY)}))
        hang = s.start(Hang(listeners))
        # The hanging accounts use the system trust store (no CACert): the
        # costly setup. The healthy ones trust the test CA.
        blocks = [account("h%d" % i, hang.url(i), t, Interval=1)
                  for i, t in enumerate(HANGING)]
        blocks += [account("g%d" % i, fake.url(), t, CACert=ca(), Interval=1)
                   for i, t in enumerate(HEALTHY)]
        cd = s.start(Collectd(d, "\n".join(blocks), interval=1))
        assert wait_for(lambda: all(len(polls(cd, "g%d" % i)) >= 12
                                    for i in range(len(HEALTHY))), 40), cd.log()[-3000:]
        stats = fake.stats()["labels"]
        for i in range(len(HEALTHY)):
            rows = polls(cd, "g%d" % i)
            # Every poll of a healthy account got its answer...
            assert [v for _, v in rows] == [1.0] * len(rows), (i, rows)
            # ...and none was skipped: one row per interval.
            gaps = [b[0] - a[0] for a, b in zip(rows, rows[1:])]
            assert max(gaps) < 1.6, (i, gaps)
            assert stats["g%d" % i]["requests"] >= len(rows), stats["g%d" % i]
        # Each hanging account warned once, at its third failed poll.
        assert wait_for(lambda: len(cd.notes(type_instance="api_reachable")) >= len(HANGING), 10)
        notes = cd.notes(type_instance="api_reachable")
        assert sorted(n["instance"] for n in notes) == sorted("h%d" % i for i in range(len(HANGING))), notes
        assert all("after 3 failed polls" in n["message"] for n in notes), notes[:3]
        for i in (0, 57, 99):
            vals = [v for _, v in polls(cd, "h%d" % i)]
            # api_reachable 0 every interval, attempted or paced.
            assert len(vals) >= 10 and set(vals) == {0.0}, (i, vals)
        assert not cd.log_lines("took .* seconds, which is above"), cd.log_lines("took")
        assert not cd.log_lines('"g[0-9]": the previous poll is still running')
    check_clean(d, cd, *(HEALTHY + HANGING))
    return hang.accepted


def test_hundred_accounts_hanging_before_tls_delay_no_healthy_one(d):
    accepted = run_isolation(d, 1)
    # One host: one connection attempt at a time for all hundred.
    assert accepted < 40, accepted
