"""conf/telemetrydeck-mail, run by collectd 5.12's exec plugin as nobody,
mailing to a real SMTP server on 127.0.0.1 (Debian's python3-aiosmtpd,
writing a Maildir). The fake API tells: an expiry 20 days ahead, a
revocation, the token valid again, an outage (HTTP 503), the API back.
Each notification is one mail whose subject says what happened.

collectd stops only once the last mail is in: collectd 5.12's exec plugin
can crash when it stops during a burst of notifications (the man page's
ROUTING NOTIFICATIONS tells).
"""

import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import (TOP, Collectd, FakeAPI, account, certs, files_containing,
                     free_port, inputs, stop_process, wait_for)

TOKEN = "tdpat_MAILSECRET0123456789abcdefgh"
SCRIPT = os.path.join(TOP, "conf", "telemetrydeck-mail")
# Debian's python3 has python3-aiosmtpd; PATH may name another python3.
DEBIAN_PYTHON = "/usr/bin/python3"
INTERVAL = 1


class SMTPServer:
    """python3 -m aiosmtpd on 127.0.0.1, storing each mail in a Maildir."""

    def __init__(self, workdir):
        self.port = free_port()
        self.maildir = os.path.join(workdir, "maildir")
        self.logf = open(os.path.join(workdir, "aiosmtpd.log"), "w")
        self.proc = subprocess.Popen(
            [DEBIAN_PYTHON, "-m", "aiosmtpd", "-n",
             "-l", "127.0.0.1:%d" % self.port,
             "-c", "aiosmtpd.handlers.Mailbox", self.maildir],
            stdout=self.logf, stderr=subprocess.STDOUT)

    def ready(self):
        assert self.proc.poll() is None, "aiosmtpd exited: " + open(
            self.logf.name).read()
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def mails(self):
        """The mails in the order they were stored."""
        new = os.path.join(self.maildir, "new")
        paths = [os.path.join(new, n) for n in os.listdir(new)] \
            if os.path.isdir(new) else []
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(email.message_from_binary_file(
                    f, policy=email.policy.default))
        return out

    def subjects(self):
        return [m["Subject"] for m in self.mails()]

    def stop(self):
        stop_process(self.proc)
        self.logf.close()


def test_exec_script_mails_what_happened_in_the_subject(d):
    assert os.access(DEBIAN_PYTHON, os.X_OK)
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import aiosmtpd"],
                           capture_output=True)
    assert probe.returncode == 0, \
        "python3-aiosmtpd missing: tools/deps installs it"
    # The exec plugin runs the script as nobody: it reads the shipped file,
    # from a folder nobody can reach (neither a checkout under /root nor a
    # TMPDIR inside a folder of mode 0700, as tools/sanitize sets, is).
    assert os.stat(SCRIPT).st_mode & 0o005 == 0o005, "%s not r-x for all" % SCRIPT
    reachable = tempfile.mkdtemp(prefix="td-mail-", dir="/tmp")
    os.chmod(reachable, 0o755)
    script = os.path.join(reachable, "telemetrydeck-mail")
    shutil.copy(SCRIPT, script)
    os.chmod(script, 0o755)
    smtp = SMTPServer(d)
    fake = FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}})
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                            time.gmtime(time.time() + 20 * 86400))
    extra = ('LoadPlugin exec\n<Plugin exec>\n'
             '  NotificationExec "nobody" "%s" "--to" "ops@example.org" '
             '"--from" "collectd@testhost.example" "--smtp" "127.0.0.1:%d"\n'
             '</Plugin>\n' % (script, smtp.port))
    cd = None
    head = "[%s] testhost telemetrydeck/main %s: %s"

    def wait_mail(n):
        assert wait_for(lambda: len(smtp.mails()) >= n, 30), \
            "%d mails, not %d: %s\n%s" % (len(smtp.mails()), n,
                                          smtp.subjects(), cd.log()[-3000:])
        time.sleep(0.5)  # nothing more comes
        return smtp.mails()

    try:
        assert wait_for(smtp.ready, 20)
        cd = Collectd(d, account("main", fake.url(), TOKEN,
                                 CACert=os.path.join(certs(), "ca.pem"),
                                 TokenExpires=expires, Interval=INTERVAL),
                      interval=INTERVAL, extra=extra, debian=("exec",))
        mails = wait_mail(1)
        assert len(mails) == 1, smtp.subjects()
        assert re.fullmatch(re.escape(head % ("WARNING", "timeleft-token",
                                              "expires in ")) +
                            r"(19\.9|20\.0) days", mails[0]["Subject"]), \
            mails[0]["Subject"]
        body = mails[0].get_content()
        assert body.startswith('Account "main": the token expires in '), body
        assert "PluginInstance: main" in body and "man 5 collectd-telemetrydeck" \
            in body, body
        assert mails[0]["To"] == "ops@example.org", mails[0]["To"]
        assert mails[0]["From"] == "collectd@testhost.example"

        fake.mode("main", "revoked")
        wait_mail(2)
        fake.mode("main", "ok")
        wait_mail(3)
        fake.mode("main", "503_html")
        wait_mail(4)
        fake.mode("main", "ok")
        mails = wait_mail(5)
        assert smtp.subjects()[1:] == [
            head % ("FAILURE", "token_valid", "rejected (HTTP 401)"),
            head % ("OKAY", "token_valid", "accepted again"),
            head % ("WARNING", "api_reachable", "unreachable (HTTP 503)"),
            head % ("OKAY", "api_reachable", "answers again (HTTP 200)"),
        ], smtp.subjects()
        body = mails[1].get_content()
        assert body.startswith('Account "main": TelemetryDeck rejected the '
                               'token with HTTP 401'), body
        # One mail per notification, none lost and none doubled.
        notes = cd.notes("main")
        assert len(notes) == 5, notes
    finally:
        if cd is not None:
            cd.stop()
        fake.stop()
        smtp.stop()
        shutil.rmtree(reachable, ignore_errors=True)
    assert cd.was_alive, "collectd died:\n" + cd.log()[-2000:]
    assert not cd.log_lines(r"telemetrydeck-mail: "), cd.log()
    leaks = files_containing(d, (TOKEN,))
    assert not leaks, "token found in %s" % leaks
