"""Our plugin, linked to libcurl's OpenSSL flavour (libcurl.so.4), in one
collectd beside Debian's curl_json and write_http, which are linked to the
GnuTLS flavour (libcurl-gnutls.so.4): each binds to its own libcurl by the
symbols' versions, all three talk TLS to Debian's nginx on 127.0.0.1, and
collectd stops cleanly when SIGTERM comes at a random moment. Under
tools/sanitize the same runs carry ASan and UBSan, and their reports fail
the run."""

import os
import random
import subprocess
import time

from harness import BUILD, Collectd, Stack, account, certs, free_port, wait_for
import nginx
from test_core import ca, check_clean

TOKENS = ["tdpat_COEXIST%dabcdef0123456789" % i for i in range(2)]

# One port closes each connection after its answer, so both TLS stacks
# handshake at every poll; the other keeps its connections and takes
# write_http's posts.
COLLECT = "    client_body_buffer_size 1m;\n    location = /collect { return 204; }\n"
LOG_FORMAT = "$server_port $request_method $uri $status $http_user_agent"

NEIGHBOURS = """\
LoadPlugin curl_json
<Plugin curl_json>
  <URL "https://127.0.0.1:%(close)d/api/v3/users/info">
    Instance "neighbour"
    Header "Authorization: Bearer tdpat_neighbour"
    CACert "%(ca)s"
    VerifyPeer true
    VerifyHost true
    Timeout 2000
    <Key "emailIsVerified">
      Type "gauge"
    </Key>
  </URL>
</Plugin>
LoadPlugin write_http
<Plugin write_http>
  <Node "nginx">
    URL "https://127.0.0.1:%(keep)d/collect"
    CACert "%(ca)s"
    VerifyPeer true
    VerifyHost true
    Format "JSON"
  </Node>
</Plugin>
"""


def libcurls_linked(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return {n for n in ("libcurl.so.4", "libcurl-gnutls.so.4") if n + " " in out}


def clients(ng, since):
    """Requests answered 2xx per client since line `since`, and the count
    of lines."""
    with open(ng.access_log) as f:
        lines = f.read().splitlines()
    got = {"ours": 0, "curl_json": 0, "write_http": 0, "not 2xx": 0}
    for line in lines[since:]:
        port, method, _, status, agent = (line.split(" ", 4) + [""])[:5]
        if not status.startswith("2"):
            got["not 2xx"] += 1
        elif method == "POST":
            got["write_http"] += 1
        elif agent.startswith("collectd-telemetrydeck"):
            got["ours"] += 1
        else:
            got["curl_json"] += 1
    return got, len(lines)


def test_openssl_linked_plugin_beside_gnutls_curl_plugins_polls_and_stops_cleanly(d):
    ours_so = os.path.join(BUILD, ".libs", "telemetrydeck.so")
    assert libcurls_linked(ours_so) == {"libcurl.so.4"}, libcurls_linked(ours_so)
    assert libcurls_linked("/usr/lib/collectd/curl_json.so") == {"libcurl-gnutls.so.4"}
    seed = int(time.time())
    rnd = random.Random(seed)
    close, keep = free_port(), free_port()
    with Stack() as s:
        ng = s.start(nginx.Nginx(d, servers=[
            nginx.server(close, nginx.CLOSING),
            nginx.server(keep, nginx.KEEP, more=COLLECT)],
            ports=[close, keep], log_format=LOG_FORMAT))
        seen = 0
        for run in range(3):
            rd = os.path.join(d, "run%d" % run)
            os.makedirs(rd)
            cd = s.start(Collectd(rd, "\n".join([
                account("closing", "https://127.0.0.1:%d/api/v3/users/info" % close,
                        TOKENS[0], CACert=ca()),
                account("kept", "https://127.0.0.1:%d/api/v3/users/info" % keep,
                        TOKENS[1], CACert=ca())]),
                extra=NEIGHBOURS % dict(close=close, keep=keep, ca=ca()),
                plugins_extra=("curl_json", "write_http")))
            # Every client answered before the stop, then SIGTERM at a
            # random moment of the polling.
            assert wait_for(lambda: all(clients(ng, seen)[0][k] > 0 for k in
                                        ("ours", "curl_json", "write_http")),
                            20), (seed, run, clients(ng, seen), cd.log()[-2000:])
            with open("/proc/%d/maps" % cd.proc.pid) as f:
                maps = f.read()
            assert "/libcurl.so.4" in maps and "/libcurl-gnutls.so.4" in maps, seed
            time.sleep(rnd.uniform(0.0, 2.0))
            cd.stop()
            assert cd.proc.returncode == 0 and not cd.killed, (seed, run, cd.log()[-2000:])
            assert cd.stop_seconds < 3, (seed, run, cd.stop_seconds)
            got, seen = clients(ng, seen)
            assert got["not 2xx"] == 0, (seed, run, got)
            for name in ("closing", "kept"):
                left = cd.values(name, "timeleft-tls_certificate")
                assert left and all(v > 86400 for _, v in left), (seed, name, left)
            bad = cd.log_lines(r"(curl_json|write_http) plugin: .*(fail|error)|"
                               r"unreachable|TLS")
            assert not bad, (seed, run, bad)
            check_clean(rd, cd, *TOKENS)
