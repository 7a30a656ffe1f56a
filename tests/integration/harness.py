"""Runs the real collectd daemon with our plugin against our fake API.

Each test gets a temporary directory holding certificates, the fake API's
state, collectd's configuration, its log and its csv output. Everything the
run produced stays in that directory so a test can grep it for the token.
"""

import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(TOP, "_build"))
COLLECTD = os.environ.get("COLLECTD", "/usr/sbin/collectd")
DEBIAN_PLUGINS = "/usr/lib/collectd"
FAKE = os.path.join(TOP, "tests", "fake_api", "fake_api.py")
PROXY = os.path.join(TOP, "tests", "fake_api", "fake_proxy.py")
MAKE_CERTS = os.path.join(TOP, "tests", "certs", "make-certs.sh")

NOTE_RE = re.compile(
    r"Notification: severity = (?P<severity>\w+), host = [^,]*, "
    r"plugin = telemetrydeck, plugin_instance = (?P<instance>[^,]*), "
    r"type = (?P<type>[^,]*), type_instance = (?P<type_instance>[^,]*), "
    r"message = (?P<message>.*)$")

_cert_cache = None
_cert_lock = threading.Lock()


def certs():
    """Makes the test CA and certificates once per test process (tests run
    in threads: the first one makes them, the others wait)."""
    global _cert_cache
    with _cert_lock:
        if _cert_cache is None:
            d = tempfile.mkdtemp(prefix="td-certs-")
            subprocess.run(["bash", MAKE_CERTS, d], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _cert_cache = d
    return _cert_cache


def inputs(workdir):
    """The folder for what a test writes itself (config, token files): the
    only place where the test token may stand."""
    d = os.path.join(workdir, "input")
    os.makedirs(d, exist_ok=True)
    return d


def wait_for(pred, timeout, step=0.05):
    """Polls pred until it returns something true or timeout seconds pass."""
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > end:
            return got
        time.sleep(step)


def stop_process(proc, grace=5):
    """Ends a helper process of a test: SIGTERM, then SIGKILL after grace
    seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Stack(contextlib.ExitStack):
    """What a test starts, stopped when its with block ends, however it
    ends (an assertion failing, a start failing halfway), the last started
    first:

        with Stack() as s:
            fake = s.start(FakeAPI(d, tokens))
            cd = s.start(Collectd(d, block))
            ...assertions...
        check_clean(d, cd)  # reads what collectd left once it stopped

    start(thing) returns thing and stops it with thing.stop() at the end;
    callback(fn, *args) (contextlib.ExitStack's) runs anything else there.
    The stop methods of the harness may be called twice (a test may stop
    something itself first): the second call changes nothing."""

    def start(self, thing):
        self.callback(thing.stop)
        return thing


def status_kib(pid, field="VmRSS"):
    """A size from /proc/PID/status, in KiB (VmRSS: resident now; VmHWM:
    its peak); 0 when the field is missing."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu(pid):
    """CPU seconds of pid, user and system (utime + stime of
    /proc/PID/stat, in clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    """A port on 127.0.0.1 that nothing listens on (for "connection
    refused"); free when asked, though not reserved."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _read_port(path, proc, timeout=10):
    def ready():
        if proc.poll() is not None:
            raise RuntimeError("process exited early")
        try:
            with open(path) as f:
                text = f.read().strip()
            return int(text) if text else None
        except FileNotFoundError:
            return None
    port = wait_for(ready, timeout)
    if not port:
        raise RuntimeError("no port written to %s" % path)
    return port


class FakeAPI:
    """Our fake TelemetryDeck API on 127.0.0.1 (host: 127.0.0.2 or ::1),
    TLS unless cert is None."""

    def __init__(self, workdir, tokens, cert="server", delay=None, name="fake",
                 port=0, tls_max=None, host=None, cert_dir=None, quiet=False,
                 idle_timeout=None):
        """cert names a certificate of cert_dir (None: the tests' own,
        certs()); quiet: no line per request in its log; idle_timeout:
        seconds after which it closes an idle connection."""
        self.dir = workdir
        cfg = os.path.join(inputs(workdir), name + "-tokens.json")
        with open(cfg, "w") as f:
            json.dump(tokens, f)
        port_file = os.path.join(workdir, name + ".port")
        ctl_file = os.path.join(workdir, name + ".ctl")
        # A fake started again in the same directory must not be found at
        # its predecessor's ports.
        for stale in (port_file, ctl_file):
            if os.path.exists(stale):
                os.remove(stale)
        cmd = ["python3", FAKE, "--port", str(port), "--port-file", port_file,
               "--control-port", "0", "--control-port-file", ctl_file,
               "--config", cfg]
        if cert:
            d = cert_dir or certs()
            cmd += ["--cert", os.path.join(d, cert + ".pem"),
                    "--key", os.path.join(d, cert + ".key")]
        if delay:
            cmd += ["--delay", str(delay)]
        if tls_max:
            cmd += ["--tls-max", tls_max]
        if host:
            cmd += ["--host", host]
        if quiet:
            cmd.append("--quiet")
        if idle_timeout:
            cmd += ["--idle-timeout", str(idle_timeout)]
        self.control_timeout = 10
        self.logfile = os.path.join(workdir, name + ".log")
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        with Stack() as s:
            s.start(self)
            self.port = _read_port(port_file, self.proc)
            self.control = _read_port(ctl_file, self.proc)
            s.pop_all()
        self.scheme = "https" if cert else "http"

    def url(self, host="127.0.0.1", path="/api/v3/users/info"):
        return "%s://%s:%d%s" % (self.scheme, host, self.port, path)

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.control, path), data=data,
            method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.control_timeout) as r:
            text = r.read()
        return json.loads(text) if text else None

    def peers(self, label):
        """The client addresses of label's requests, from the fake's log."""
        with open(self.logfile, errors="replace") as f:
            return re.findall(r" peer=(\S+) label=%s " % re.escape(label),
                              f.read())

    def mode(self, label, mode, **extra):
        self._call("POST", "/mode", dict(label=label, mode=mode, **extra))

    def certificate(self, cert):
        """Renews the fake's certificate: from now on its handshakes show
        cert (a name of harness.certs()), while the connections already
        open keep the certificate they were set up with."""
        d = certs()
        self._call("POST", "/certificate",
                   {"cert": os.path.join(d, cert + ".pem"),
                    "key": os.path.join(d, cert + ".key")})

    def stats(self):
        return self._call("GET", "/stats")

    def label(self, label):
        return self.stats().get("labels", {}).get(label, {})

    def stop(self):
        stop_process(self.proc)
        self.log.close()


class Hang:
    """Listeners on 127.0.0.1 that accept TCP connections and never say a
    word (a server that hangs before TLS). At most keep connections are
    held open at once; older ones are closed."""

    def __init__(self, count=1, backlog=1024, keep=4000):
        self.sel = selectors.DefaultSelector()
        self.ports = []
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(backlog)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.ports.append(s.getsockname()[1])
        self.keep = keep
        self.held = []
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            for key, _ in self.sel.select(0.1):
                try:
                    c, _ = key.fileobj.accept()
                except OSError:
                    continue
                self.accepted += 1
                self.held.append(c)
                if len(self.held) > self.keep:
                    self.held.pop(0).close()

    def url(self, i=0):
        return "https://127.0.0.1:%d/api/v3/users/info" % self.ports[
            i % len(self.ports)]

    def stop(self):
        if not self.running:
            return
        self.running = False
        self.thread.join(5)
        for c in self.held:
            c.close()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


class FakeProxy:
    """tests/fake_api/fake_proxy.py on 127.0.0.1: forwards plain HTTP,
    tunnels CONNECT, and logs every request line and header it receives."""

    def __init__(self, workdir, name="proxy"):
        port_file = os.path.join(workdir, name + ".port")
        self.logfile = os.path.join(workdir, name + ".requests")
        open(self.logfile, "w").close()
        self.out = open(os.path.join(workdir, name + ".out"), "w")
        self.proc = subprocess.Popen(
            ["python3", PROXY, "--port-file", port_file, "--log", self.logfile],
            stdout=self.out, stderr=subprocess.STDOUT)
        with Stack() as s:
            s.start(self)
            self.port = _read_port(port_file, self.proc)
            s.pop_all()

    def url(self, userinfo=""):
        return "http://%s127.0.0.1:%d" % (userinfo + "@" if userinfo else "",
                                          self.port)

    def lines(self):
        with open(self.logfile, errors="replace") as f:
            return f.read().splitlines()

    def requests(self):
        """The request lines it received ("GET http://...", "CONNECT ...")."""
        return [l.split(" ", 2)[2] for l in self.lines()
                if l.startswith("REQUEST ")]

    def headers(self, name):
        """Values of every header called name (any case) it received."""
        out = []
        for l in self.lines():
            if l.startswith("HEADER "):
                hname, _, value = l.split(" ", 2)[2].partition(": ")
                if hname.lower() == name.lower():
                    out.append(value)
        return out

    def stop(self):
        stop_process(self.proc)
        self.out.close()


class Collectd:
    """The real collectd daemon, in the foreground, with our plugin."""

    def __init__(self, workdir, plugin_block, interval=0.5, extra="",
                 wrapper=None, hostname="testhost", debian=(), env=None,
                 plugins_extra=()):
        """plugin_block None runs collectd without our plugin; debian (or
        plugins_extra) names more of Debian's plugins to copy (threshold,
        network, exec, ...); env is collectd's whole environment (None:
        this process's)."""
        self.dir = workdir
        plugins = os.path.join(workdir, "plugins")
        os.makedirs(plugins, exist_ok=True)
        # collectd refuses symbolic links: copy real files into one PluginDir.
        if plugin_block is not None:
            shutil.copy(os.path.join(BUILD, ".libs", "telemetrydeck.so"), plugins)
            plugin_block = OUR_PLUGIN % plugin_block
        for p in ("logfile", "csv") + tuple(debian) + tuple(plugins_extra):
            shutil.copy(os.path.join(DEBIAN_PLUGINS, p + ".so"), plugins)
        self.logfile = os.path.join(workdir, "collectd.log")
        self.csv = os.path.join(workdir, "csv")
        self.conf = os.path.join(inputs(workdir), "collectd.conf")
        with open(self.conf, "w") as f:
            f.write(CONF_TEMPLATE % dict(
                dir=workdir, plugins=plugins, log=self.logfile, csv=self.csv,
                interval=interval, extra=extra, block=plugin_block or "",
                hostname=hostname))
        self.stdout = open(os.path.join(workdir, "collectd.out"), "w")
        cmd = (wrapper or []) + [COLLECTD, "-f", "-C", self.conf]
        # env: collectd's whole environment (None: this process's), for
        # tests of what the environment changes (proxy variables).
        self.proc = subprocess.Popen(cmd, stdout=self.stdout,
                                     stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern):
        rx = re.compile(pattern)
        return [l for l in self.log().splitlines() if rx.search(l)]

    def account_lines(self, name):
        """The plugin's own log lines about account name (not
        notifications), without the start and first-poll lines every
        account logs."""
        return [l for l in self.log_lines(r'telemetrydeck plugin: account '
                                          r'"%s": ' % re.escape(name))
                if not LIFE_LINES.search(l)]

    def notes(self, instance=None, type_instance=None):
        out = []
        for line in self.log().splitlines():
            m = NOTE_RE.search(line)
            if not m:
                continue
            n = m.groupdict()
            if instance is not None and n["instance"] != instance:
                continue
            if type_instance is not None and n["type_instance"] != type_instance:
                continue
            out.append(n)
        return out

    def values(self, instance, ident):
        """Rows (time, value) of csv file telemetrydeck-INSTANCE/IDENT-*."""
        rows = []
        for host in os.listdir(self.csv) if os.path.isdir(self.csv) else []:
            d = os.path.join(self.csv, host, "telemetrydeck-" + instance)
            if not os.path.isdir(d):
                continue
            for fn in sorted(os.listdir(d)):
                if re.fullmatch(re.escape(ident) + r"-\d{4}-\d\d-\d\d", fn):
                    with open(os.path.join(d, fn)) as f:
                        for line in f.read().splitlines()[1:]:
                            t, v = line.split(",")
                            rows.append((float(t), float(v)))
        return rows

    def last(self, instance, ident):
        rows = self.values(instance, ident)
        return rows[-1][1] if rows else None

    def stop(self, timeout=15):
        """Stops the daemon; remembers in was_alive whether it still ran,
        in killed whether SIGTERM was not enough within timeout seconds
        (SIGKILL followed) and in stop_seconds how long it took. Called
        again, it changes nothing and returns what the first call did."""
        if hasattr(self, "was_alive"):
            return self.was_alive
        running = self.alive()
        self.was_alive = running
        self.killed = False
        self.stop_seconds = 0.0
        if running:
            start = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait()
            self.stop_seconds = time.monotonic() - start
        self.stdout.close()
        return running


# The lines every account logs at start and at its first good poll.
LIFE_LINES = re.compile(r': (polls \S+ every .* s \(Timeout .* s\), the token '
                        r'from |the first poll succeeds \(HTTP )')

CONF_TEMPLATE = """\
Hostname "%(hostname)s"
FQDNLookup false
Interval %(interval)s
BaseDir "%(dir)s"
PIDFile "%(dir)s/collectd.pid"
PluginDir "%(plugins)s"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "%(log)s"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "%(csv)s"
  StoreRates false
</Plugin>
%(extra)s
%(block)s"""

OUR_PLUGIN = """\
LoadPlugin telemetrydeck
<Plugin telemetrydeck>
%s
</Plugin>
"""


class ConfigCheck:
    """collectd -T on a configuration: it reads the configuration, runs
    init and one read of every plugin, and exits. Debian 12's collectd 5.12
    exits 0 from -t without reading the configuration at all (collectd
    issue 3216, fixed after 5.12), so -T is the check that reads it; a
    configuration callback that fails makes it print "Error: Parsing the
    config file failed!" and exit 1, as the daemon itself does at start.
    It runs in a network namespace of its own, with nothing but a loopback
    interface that is down: whatever the configuration names, no packet
    leaves the machine. text is collectd.conf lines after the harness's
    own (Hostname, PluginDir, logfile with PrintSeverity, ...)."""

    def __init__(self, workdir, text, interval=0.5, debian=(), timeout=60):
        plugins = os.path.join(workdir, "plugins")
        os.makedirs(plugins, exist_ok=True)
        shutil.copy(os.path.join(BUILD, ".libs", "telemetrydeck.so"), plugins)
        for p in ("logfile", "csv") + tuple(debian):
            shutil.copy(os.path.join(DEBIAN_PLUGINS, p + ".so"), plugins)
        self.logfile = os.path.join(workdir, "collectd.log")
        self.conf = os.path.join(inputs(workdir), "collectd.conf")
        with open(self.conf, "w") as f:
            f.write(CONF_TEMPLATE % dict(
                dir=workdir, plugins=plugins, log=self.logfile,
                csv=os.path.join(workdir, "csv"), interval=interval,
                extra="<Plugin logfile>\n  PrintSeverity true\n</Plugin>",
                block=text, hostname="testhost"))
        r = subprocess.run(["unshare", "--net", "--", COLLECTD, "-T", "-C",
                            self.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        self.rc = r.returncode
        self.out = r.stdout.decode(errors="replace")
        # Accepted: collectd read the configuration and ran the plugin.
        # -T's exit status then also says whether every account's first
        # poll worked, which in this namespace it cannot.
        self.accepted = ("Error: Parsing the config file failed!" not in
                         self.out and self.rc in (0, 1) and
                         "Exiting normally." in self.out + self.log_text())
        self.log = self.log_text()

    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def lines(self, level):
        """The plugin's log lines of one level, without the prefixes."""
        tag = "[%s] telemetrydeck plugin: " % level
        return [l.split(tag, 1)[1] for l in self.log.splitlines() if tag in l]

    def __repr__(self):
        return "rc=%d output=%r log=%r" % (self.rc, self.out[-1500:],
                                            self.log[-3000:])


def refused(workdir, block, *needles):
    """Runs ConfigCheck on <Plugin telemetrydeck> holding block; asserts
    that collectd refused the configuration (exit 1 and collectd's own
    line) with exactly one ERROR of the plugin, holding every needle.
    Returns that line."""
    sub = tempfile.mkdtemp(prefix="refused-", dir=workdir)
    c = ConfigCheck(sub, OUR_PLUGIN % block)
    errs = c.lines("error")
    assert c.rc != 0 and "Error: Parsing the config file failed!" in c.out, c
    assert len(errs) == 1 and all(n in errs[0] for n in needles), (needles, c)
    return errs[0]


# A second logfile block: collectd merges it into the first one, and the
# log then says which lines are errors and which are warnings.
SEVERITY = "<Plugin logfile>\n  PrintSeverity true\n</Plugin>"


# Every environment variable libcurl takes a proxy from.
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY")
# ... and those that name exceptions.
NO_PROXY_VARS = ("no_proxy", "NO_PROXY")


# The code points that must never reach a log line, a
# notification or the check's output, as UTF-8 bytes: C1 controls
# (U+0080..U+009F), U+2028/U+2029, bidirectional embeddings and overrides
# (U+202A..U+202E) and isolates (U+2066..U+2069).
UNICODE_CONTROLS = re.compile(
    rb"\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
NASTY = "\u0085\u009b\u2028\u2029\u202a\u202e\u2066\u2067\u2068\u2069"


def clean_env(**more):
    """This process's environment without any proxy variable, plus more."""
    env = {k: v for k, v in os.environ.items()
           if k not in PROXY_VARS + NO_PROXY_VARS}
    env.update(more)
    return env


def level_lines(cd, level, name):
    """The plugin's lines of one level ("error", "warning", "info") about
    account name; the log must be made with SEVERITY."""
    return [l.split("] telemetrydeck plugin: ", 1)[1] for l in cd.log_lines(
        r'\[%s\] telemetrydeck plugin: account "%s"' % (level, re.escape(name)))]


def assert_refused(d, block, name, *needles):
    """collectd refuses a configuration holding block, with one ERROR about
    account name holding every needle."""
    refused(d, block, 'account "%s": ' % name, *needles)


def special_files(workdir):
    """Files no option may read, in inputs(workdir): a FIFO, a directory
    and a PEM file of more than 2 MiB (the test CA over and over), as
    (fifo, directory, big)."""
    fifo = os.path.join(inputs(workdir), "ca.fifo")
    os.mkfifo(fifo)
    directory = os.path.join(inputs(workdir), "adir")
    os.makedirs(directory)
    big = os.path.join(inputs(workdir), "big.pem")
    with open(os.path.join(certs(), "ca.pem"), "rb") as c:
        pem = c.read()
    with open(big, "wb") as f:
        f.write(pem * (2 * 1024 * 1024 // len(pem) + 1))
    return fifo, directory, big


def org(oid, name, usage, restricted):
    """One organization as the API lists it."""
    return {"id": oid, "name": name, "usagePercentage": usage,
            "isInRestrictedMode": restricted, "resolvedMaxSignals": 100000}


def account(name, url, token=None, token_file=None, **opts):
    """One <Account> block; opts are collectd options, True/False as bools."""
    lines = ['  <Account "%s">' % name]
    if token is not None:
        lines.append('    Token "%s"' % token)
    if token_file is not None:
        lines.append('    TokenFile "%s"' % token_file)
    if url is not None:
        lines.append('    URL "%s"' % url)
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, str):
            v = '"%s"' % v
        lines.append("    %s %s" % (k, v))
    lines.append("  </Account>")
    return "\n".join(lines)


def files_containing(root, needles):
    """Paths under root, outside input/ folders (inputs(): what a test wrote
    itself, also in the directory of a daemon of its own), whose bytes
    contain any of needles."""
    hits = []
    for d, dirs, files in os.walk(root):
        if "input" in dirs:
            dirs.remove("input")
        for fn in files:
            p = os.path.join(d, fn)
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if any(n.encode() in data for n in needles):
                hits.append(p)
    return hits
