"""Organizations whose names clean up to the same identifier each get an
identifier of their own, the same at every poll and after a restart; more
organizations than the cap warn once."""

import os
import re
import time

from harness import Collectd, FakeAPI, Stack, account, org, wait_for
from test_core import ca, check_clean

SECRET = "Jq4Vm8Xe5"  # part of every test token, so a leak of any is found
INTERVAL = 0.5
TIMEOUT = 0.4


def tok(label):
    return "tdpat_%s_%s" % (SECRET, label)


def idents(cd, name, prefix):
    """The csv identifiers (type-type_instance) of account name that start
    with prefix."""
    d = os.path.join(cd.csv, "testhost", "telemetrydeck-" + name)
    out = set()
    for fn in os.listdir(d) if os.path.isdir(d) else []:
        m = re.fullmatch(r"(.*)-\d{4}-\d\d-\d\d", fn)
        if m and m.group(1).startswith(prefix):
            out.add(m.group(1))
    return out


COLLIDING = [
    # (account, organizations, identifier prefix)
    ("acme", [org("A-1", "Acme Inc", 10, False),
              org("B-2", "Acme-Inc", 99.5, True)], "Acme_Inc"),
    # Cyrillic: every byte becomes '_', five letters each.
    ("cyr", [org("C-1", "Альфа", 20, False),
             org("C-2", "Омега", 30, True)], ""),
    # Alike in the first 63 bytes.
    ("long", [org("L-1", "X" * 63 + "one", 40, False),
              org("L-2", "X" * 63 + "two", 50, True)], "X" * 40),
]


def _org_scene(s, d, wrapper=None):
    """The fake and collectd of COLLIDING, started on the Stack s."""
    fake = s.start(FakeAPI(d, {tok(n): {"label": n, "mode": "ok", "orgs": orgs}
                               for n, orgs, _ in COLLIDING}))
    block = "\n".join(account(n, fake.url(), tok(n), CACert=ca(),
                              Interval=INTERVAL, Timeout=TIMEOUT,
                              CollectOrganizations=True,
                              OrganizationsInterval=1)
                      for n, _, _ in COLLIDING)
    return fake, s.start(Collectd(d, block, interval=INTERVAL))


def test_colliding_organization_names_each_get_their_own_stable_identifier(d):
    seen = {}
    with Stack() as s:
        fake, cd = _org_scene(s, d)
        def orgs_polls(n):
            return fake.label(n)["paths"].get("/api/v3/organizations", 0)
        assert wait_for(lambda: all(orgs_polls(n) >= 3 for n, _, _ in COLLIDING),
                        15, 0.2), fake.stats()
        time.sleep(0.5)
        for name, orgs, prefix in COLLIDING:
            usage = idents(cd, name, "gauge-usage_percent-" + prefix)
            restricted = idents(cd, name, "bool-restricted_mode-" + prefix)
            assert len(usage) == 2 and len(restricted) == 2, (
                name, usage, restricted, cd.log()[-2000:])
            values = sorted(cd.last(name, i) for i in usage)
            assert values == sorted(o["usagePercentage"] for o in orgs), (
                name, values)
            flags = {i: cd.last(name, i) for i in restricted}
            assert sorted(flags.values()) == [0, 1], (name, flags)
            # The restricted one's FAILURE names its own identifier.
            bad = [i for i, v in flags.items() if v == 1][0]
            notes = [n for n in cd.notes(name) if n["severity"] == "FAILURE"]
            assert [n["type_instance"] for n in notes] == [
                bad[len("bool-"):]], (name, notes, flags)
            assert notes[0]["type"] == "bool"
            seen[name] = usage | restricted
        # Each organizations poll wrote the same identifiers.
        polls = {n: orgs_polls(n) for n, _, _ in COLLIDING}
        assert wait_for(lambda: all(orgs_polls(n) >= polls[n] + 2
                                    for n, _, _ in COLLIDING), 10, 0.2)
        for name, _, _ in COLLIDING:
            now = idents(cd, name, "gauge-usage_percent-") | idents(
                cd, name, "bool-restricted_mode-")
            assert now == seen[name], (name, now, seen[name])
            for i in seen[name]:
                assert len(cd.values(name, i)) >= 4, (name, i)
    check_clean(d, cd, SECRET)
    # A restart finds the same identifiers (same csv directory).
    first = cd
    with Stack() as s:
        fake, cd = _org_scene(s, d)
        assert wait_for(lambda: all(
            fake.label(n)["paths"].get("/api/v3/organizations", 0) >= 2
            for n, _, _ in COLLIDING), 15, 0.2)
        time.sleep(0.5)
        for name, _, _ in COLLIDING:
            now = idents(cd, name, "gauge-usage_percent-") | idents(
                cd, name, "bool-restricted_mode-")
            assert now == seen[name], (name, now, seen[name])
    check_clean(d, cd, SECRET)
    assert first is not cd


def test_more_organizations_than_the_cap_warn_once_not_at_every_poll(d):
    orgs = [org("id-%02d" % i, "Org %02d" % i, i, False) for i in range(40)]
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("many"): {"label": "many", "mode": "ok",
                                                 "orgs": orgs}}))
        cd = s.start(Collectd(d, account("many", fake.url(), tok("many"), CACert=ca(),
                                         Interval=INTERVAL, Timeout=TIMEOUT,
                                         CollectOrganizations=True,
                                         OrganizationsInterval=INTERVAL),
                              interval=INTERVAL))
        assert wait_for(lambda: fake.label("many")["paths"].get(
            "/api/v3/organizations", 0) >= 5, 15, 0.2), fake.stats()
        time.sleep(0.3)
        lines = cd.log_lines("organizations are reported")
        assert len(lines) == 1, lines
        assert 'account "many"' in lines[0], lines
        assert len(idents(cd, "many", "gauge-usage_percent-")) == 32
    check_clean(d, cd, SECRET)
