"""The fleet layout of docs/fleet.md, on loopback.

Two pollers run our plugin and send, encrypted, with collectd's network
plugin (conf/network-poller.conf) to a central collectd without our plugin
(conf/network-central.conf). Only poller-a sends notifications. The central
server must write both pollers' values, page the revocation once, and say
so when poller-a falls silent.
"""

import os
import re
import socket
import time

from harness import (TOP, Collectd, FakeAPI, Stack, account, certs,
                     files_containing, inputs, wait_for)

TOKEN = "tdpat_NETWORKSECRET0123456789abcd"
PASSWORDS = {"poller-a": "pw-a-Ohb3eiXa", "poller-b": "pw-b-Ieng4qua"}
INTERVAL = 2     # the accounts' poll interval, seconds
CONF = os.path.join(TOP, "conf")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def shipped(name, replace):
    """A conf/ snippet as shipped, with its placeholders replaced; every
    placeholder must be there, so the test follows the file."""
    with open(os.path.join(CONF, name)) as f:
        text = f.read()
    for old, new in replace:
        assert old in text, "%s no longer holds %r" % (name, old)
        text = text.replace(old, new)
    return text


def central_rows(central, host, ident):
    """(time, value) rows the central csv holds for host/telemetrydeck-main."""
    d = os.path.join(central.csv, host, "telemetrydeck-main")
    rows = []
    for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if re.fullmatch(re.escape(ident) + r"-\d{4}-\d\d-\d\d", fn):
            with open(os.path.join(d, fn)) as f:
                rows += [tuple(map(float, line.split(",")))
                         for line in f.read().splitlines()[1:]]
    return rows


def central_dir(d, passwords):
    """The central server's directory and its AuthFile, with a line for
    each poller of passwords."""
    sub = os.path.join(d, "central")
    os.makedirs(sub)
    authfile = os.path.join(inputs(sub), "network-passwd")
    with open(authfile, "w") as f:
        f.write("".join("%s: %s\n" % kv for kv in passwords.items()))
    os.chmod(authfile, 0o600)
    return sub, authfile


def poller(d, name, port, fake, **opts):
    sub = os.path.join(d, name)
    os.makedirs(sub)
    net = shipped("network-poller.conf", [
        ('"central.example.net" "25826"', '"127.0.0.1" "%d"' % port),
        ('Username "poller-a"', 'Username "%s"' % name),
        ('Password "change-me"', 'Password "%s"' % PASSWORDS[name]),
        # The test polls every 2 s: flush faster than that, as the file
        # asks (below the plugin's Interval).
        ("FlushInterval 10", "FlushInterval 0.5"),
    ])
    block = account("main", fake.url(), TOKEN, CACert=os.path.join(certs(), "ca.pem"),
                    Interval=INTERVAL, **opts)
    return Collectd(sub, block, extra=net, hostname=name, debian=("network",))


def test_pollers_send_values_and_one_page_to_the_central_server(d):
    port = free_udp_port()
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}}))
        sub, authfile = central_dir(d, PASSWORDS)
        central = s.start(Collectd(
            sub, None, hostname="central", debian=("network", "threshold"),
            extra=shipped("network-central.conf", [
                ('"0.0.0.0" "25826"', '"127.0.0.1" "%d"' % port),
                ('"/etc/collectd/network-passwd"', '"%s"' % authfile)])))
        daemons = [central]
        a = s.start(poller(d, "poller-a", port, fake))
        daemons.append(a)
        b = s.start(poller(d, "poller-b", port, fake, Notifications=False))
        daemons.append(b)

        # Values of both pollers arrive, decrypted, under their host names.
        for host in ("poller-a", "poller-b"):
            assert wait_for(lambda: [r for r in central_rows(central, host, "bool-token_valid")
                                     if r[1] == 1], 20), central.log()
        # The values of one poll may come in more than one packet: wait for
        # each, rather than take the first one's arrival for all.
        for ident in ("bool-api_reachable", "response_code", "response_time"):
            assert wait_for(lambda: central_rows(central, "poller-a", ident),
                            10), ident
        assert not os.path.exists(os.path.join(central.csv, "central",
                                               "telemetrydeck-main"))

        # Revocation: poller-a's FAILURE arrives as it was sent; poller-b
        # says nothing, so the central server pages once.
        fake.mode("main", "revoked")
        failure = (r"Notification: severity = FAILURE, host = (?P<host>[^,]+), "
                   r"plugin = telemetrydeck, plugin_instance = main, "
                   r"type = bool, type_instance = token_valid, "
                   r'message = Account "main": TelemetryDeck rejected the token '
                   r"with HTTP 401 \(User not authenticated\.\): it was revoked "
                   r"or has expired\.$")
        assert wait_for(lambda: central.log_lines(failure), 20), central.log()
        revoked = time.time()
        assert wait_for(lambda: [r for r in central_rows(central, "poller-b", "bool-token_valid")
                                 if r[0] >= revoked and r[1] == 0], 20)
        time.sleep(INTERVAL)
        hosts = [re.search(failure, l).group("host") for l in central.log_lines(failure)]
        assert hosts == ["poller-a"], central.log()
        assert b.log_lines(r"Notification: .*token_valid") == []

        # poller-a falls silent: the central threshold says so, for
        # poller-a only.
        a.stop()
        silent = (r"Notification: severity = FAILURE, host = poller-a, "
                  r"plugin = telemetrydeck, plugin_instance = main, type = bool, "
                  r"type_instance = api_reachable, message = poller-a/"
                  r"telemetrydeck-main/bool-api_reachable has not been updated "
                  r"for (\d+\.\d{3}) seconds\.$")
        assert wait_for(lambda: central.log_lines(silent), 4 * INTERVAL + 10), central.log()
        secs = float(re.search(silent, central.log_lines(silent)[0]).group(1))
        assert 2 * INTERVAL <= secs < 4 * INTERVAL, secs
        time.sleep(INTERVAL)
        assert len(central.log_lines(r"has not been updated")) == 1, central.log()
        assert central.log_lines(
            r"severity = OKAY, host = poller-a, .*type_instance = api_reachable, "
            r"message = Host poller-a, plugin telemetrydeck \(instance main\) "
            r"type bool \(instance api_reachable\): All data sources are within "
            r"range again\.")
        assert not central.log_lines(r"Notification: severity = \w+, host = poller-b,")
    for c in daemons:
        assert c.was_alive, "collectd died:\n" + c.log()[-2000:]
    # The token and the passwords stand only in what the test wrote.
    leaks = [p for p in files_containing(d, (TOKEN,) + tuple(PASSWORDS.values()))
             if os.sep + "input" + os.sep not in p]
    assert not leaks, leaks
