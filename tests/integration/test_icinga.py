"""telemetrydeck-check under Debian's icinga2: the CheckCommand, host and
service of telemetrydeck-check(1) run by a real Icinga 2 daemon with a
configuration directory of its own, on loopback, against the fake API;
the states and performance data are those Icinga's PerfdataWriter
recorded."""

import glob
import os
import re
import shutil
import signal
import subprocess

from harness import TOP, FakeAPI, files_containing, inputs, wait_for
from test_check import CHECK, ca, days_from_now

MAN1 = os.path.join(TOP, "man", "telemetrydeck-check.1")
ICINGA2 = shutil.which("icinga2") or "/usr/sbin/icinga2"
MAN_PATH = "/usr/bin/telemetrydeck-check"

# One token per case; the fake API answers each with its mode.
CASES = {
    "ok": ("tdpat_ICINGAOK0123456789abcdef", "ok"),
    "revoked": ("tdpat_ICINGAREVOKED0123456789ab", "revoked"),
    "ratelimit": ("tdpat_ICINGA4290123456789abcdef", "ratelimit_seconds"),
    "unavailable": ("tdpat_ICINGA5030123456789abcdef", "503_html"),
    "unavailable-critical": ("tdpat_ICINGA503C123456789abcde", "503_html"),
    "html": ("tdpat_ICINGAHTML0123456789abcd", "html200"),
    "hang": ("tdpat_ICINGAHANG0123456789abcd", "hang"),
}


def man_icinga_config():
    """The man page's Icinga 2 example (CheckCommand, Host and Service),
    as plain text: the .nf block that holds the CheckCommand."""
    text = open(MAN1, encoding="utf-8").read()
    blocks = re.findall(r"^\.nf\n\.ft CR\n(.*?)^\.ft\n\.fi$", text, re.S | re.M)
    found = [b for b in blocks if 'object CheckCommand "telemetrydeck"' in b]
    assert len(found) == 1, "one Icinga 2 example in the man page"
    conf = found[0].replace("\\-", "-").replace("\\(dq", '"')
    assert "\\" not in conf, conf
    return conf


def check_command_flags(conf):
    return set(re.findall(r'^\s+"(--[a-z-]+)" =', conf, re.M))


def test_icinga_checkcommand_covers_every_flag(d):
    """Every flag of --help that takes part in a check is in the
    CheckCommand (not --help, --version, --shape, --organizations, which
    print more than a check, nor --config, the pre-flight of a whole
    collectd configuration, which takes no account flag beside it)."""
    flags = set(re.findall(r"--[a-z][a-z-]+", subprocess.run(
        [CHECK, "--help"], capture_output=True, text=True).stdout))
    flags -= {"--help", "--version", "--shape", "--organizations", "--token",
              "--token-file=FILE", "--config"}
    flags = {f for f in flags if not f.endswith("-")}
    have = check_command_flags(man_icinga_config())
    missing = sorted(flags - have)
    assert not missing, "not in the man page's CheckCommand: %s" % missing


def icinga_files(d):
    """Icinga's own directories under d, and the -D constants that point
    it there (nothing under /etc/icinga2 or /var)."""
    root = os.path.join(d, "icinga2")
    paths = {n: os.path.join(root, n) for n in
             ("etc", "lib", "log", "cache", "spool", "run")}
    for p in paths.values():
        os.makedirs(p, exist_ok=True)
    consts = {
        "ConfigDir": paths["etc"], "DataDir": paths["lib"],
        "LogDir": paths["log"], "CacheDir": paths["cache"],
        "SpoolDir": paths["spool"], "InitRunDir": paths["run"],
        "StatePath": os.path.join(paths["lib"], "icinga2.state"),
        "ModAttrPath": os.path.join(paths["lib"], "modified-attributes.conf"),
        "ObjectsPath": os.path.join(paths["cache"], "icinga2.debug"),
        "VarsPath": os.path.join(paths["cache"], "icinga2.vars"),
        "PidPath": os.path.join(paths["run"], "icinga2.pid"),
        "RunAsUser": "root" if os.geteuid() == 0 else os.environ.get("USER", ""),
        "RunAsGroup": "root" if os.geteuid() == 0 else "",
    }
    return paths, ["-D%s=%s" % (k, v) for k, v in consts.items() if v]


def write_config(d, paths, fake, token_files):
    conf = man_icinga_config()
    assert MAN_PATH in conf
    # The one change: the check is this build's, not the installed one.
    conf = conf.replace(MAN_PATH, CHECK)
    # The example's service becomes the template of the cases.
    conf = conf.replace('object Service "telemetrydeck-main"',
                        'template Service "telemetrydeck-main"')
    services = []
    for name, path in token_files.items():
        extra = ""
        if name == "ok":
            extra = "  vars.td_verbose = true\n"
        if name == "unavailable-critical":
            extra = '  vars.td_outage_state = "critical"\n'
        services.append(
            'object Service "%s" {\n'
            '  import "telemetrydeck-main"\n'
            '  host_name = "telemetrydeck-api"\n'
            '  check_interval = 2s\n'
            '  retry_interval = 2s\n'
            '  vars.td_token_file = "%s"\n'
            '  vars.td_url = "%s"\n'
            '  vars.td_ca_cert = "%s"\n'
            '  vars.td_timeout = 2\n'
            '  vars.td_expires = "%s"\n'
            '%s}\n' % (name, path, fake.url(), ca(), days_from_now(100), extra))
    spool = paths["spool"]
    main = os.path.join(paths["etc"], "icinga2.conf")
    with open(main, "w") as f:
        f.write("include <itl>\n"
                'object CheckerComponent "checker" { }\n'
                'object PerfdataWriter "perfdata" {\n'
                '  service_perfdata_path = "%s/service-perfdata"\n'
                '  service_temp_path = "%s/service-perfdata.tmp"\n'
                '  host_perfdata_path = "%s/host-perfdata"\n'
                '  host_temp_path = "%s/host-perfdata.tmp"\n'
                '  service_format_template = "SERVICE::$service.name$\\t'
                'STATE::$service.state$\\tPERF::$service.perfdata$\\t'
                'OUTPUT::$service.output$"\n'
                "  rotation_interval = 1s\n"
                "}\n" % (spool, spool, spool, spool))
        f.write(conf)
        f.write("\n".join(services))
    return main


def recorded(spool):
    """SERVICE name -> (state, perfdata, output) of the last result the
    PerfdataWriter rotated out."""
    out = {}
    for p in sorted(glob.glob(os.path.join(spool, "service-perfdata.*"))):
        if p.endswith(".tmp"):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = dict(x.split("::", 1) for x in line.rstrip("\n").split("\t")
                              if "::" in x)
                if "SERVICE" in fields:
                    out[fields["SERVICE"]] = (fields.get("STATE"), fields.get("PERF", ""),
                                              fields.get("OUTPUT", ""))
    return out


def perf_of(perfdata):
    return {m[0]: m[1] for m in re.findall(r"(\w+)=(\S+)", perfdata)}


def test_icinga_records_the_states_and_perfdata_of_each_case(d):
    assert os.path.exists(ICINGA2), "Debian's icinga2 is not installed (tools/deps)"
    entries = {tok: {"label": name, "mode": mode, "email": "ops@example.org"}
               for name, (tok, mode) in CASES.items()}
    fake = FakeAPI(d, entries)
    proc = None
    try:
        token_files = {}
        for name, (tok, _) in CASES.items():
            path = os.path.join(inputs(d), "%s.token" % name)
            with open(path, "w") as f:
                f.write(tok + "\n")
            os.chmod(path, 0o600)
            token_files[name] = path
        paths, consts = icinga_files(d)
        main = write_config(d, paths, fake, token_files)
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower() and k != "TELEMETRYDECK_TOKEN"}
        v = subprocess.run([ICINGA2, "daemon", "-C", "-c", main] + consts,
                           capture_output=True, text=True, env=env, timeout=60)
        assert v.returncode == 0, v.stdout[-3000:] + v.stderr[-2000:]
        log = open(os.path.join(d, "icinga2.out"), "w")
        proc = subprocess.Popen([ICINGA2, "daemon", "-c", main] + consts,
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        ok = wait_for(lambda: set(CASES) <= set(recorded(paths["spool"])) or
                      proc.poll() is not None, 90, step=0.5)
        got = recorded(paths["spool"])
        assert ok and proc.poll() is None, (got, open(log.name).read()[-3000:])
        want = {"ok": "OK", "revoked": "CRITICAL", "ratelimit": "WARNING",
                "unavailable": "WARNING", "unavailable-critical": "CRITICAL",
                "html": "UNKNOWN", "hang": "WARNING"}
        states = {n: got[n][0] for n in CASES}
        assert states == want, got
        ok_perf = perf_of(got["ok"][1])
        assert re.fullmatch(r"[0-9.]+s;5;10;0", ok_perf["response_time"]), got["ok"]
        assert ok_perf["api_reachable"].startswith("1;"), got["ok"]
        assert ok_perf["token_valid"].startswith("1;"), got["ok"]
        assert re.fullmatch(r"(99\.9\d*|100(\.0+)?);30:;7:;0", ok_perf["days_left"]), got["ok"]
        assert re.fullmatch(r"82[45](\.\d+)?;14:;3:;0", ok_perf["tls_days_left"]), got["ok"]
        assert 'token valid for "ops@example.org"' in got["ok"][2], got["ok"]
        rev = perf_of(got["revoked"][1])
        assert rev["token_valid"].startswith("0;") and rev["api_reachable"].startswith("1;"), got
        assert "revoked before its expiry date" in got["revoked"][2], got["revoked"]
        assert "Retry-After" in got["ratelimit"][2], got["ratelimit"]
        for name in ("unavailable", "unavailable-critical"):
            assert "HTTP 503" in got[name][2], got[name]
            assert perf_of(got[name][1])["api_reachable"].startswith("0;"), got[name]
        assert "token_valid" not in perf_of(got["html"][1]), got["html"]
        hang = perf_of(got["hang"][1])
        assert hang["api_reachable"].startswith("0;") and "token_valid" not in hang, got["hang"]
        assert "timeout" in got["hang"][2], got["hang"]
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        fake.stop()
    # Icinga's state, logs and perfdata never hold a token.
    tokens = [tok for tok, _ in CASES.values()] + [tok[6:] for tok, _ in CASES.values()]
    hits = files_containing(d, tokens)
    assert not hits, "a token in %s" % hits
