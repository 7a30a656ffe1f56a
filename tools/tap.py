"""TAP for the Python test scripts, as tools/check counts it: one line
"ok N - NAME" or "not ok N - NAME" per check, diagnostics as "# " lines,
the plan "1..N" last.

    sys.path.insert(0, os.path.join(TOP, "tools"))
    from tap import Tap, comment
    tap = Tap()
    tap(ok, "what was checked", "a note, printed always",
        diag="printed only when the check failed")
    tap(True, "needs promtool", skip="promtool is not installed")
    return tap.done()           # prints the plan; 0 when all passed, else 1
"""

def comment(text):
    """Each line of text as a TAP comment."""
    for line in str(text).rstrip("\n").splitlines():
        print("# " + line, flush=True)


class Tap:
    """Numbers the checks and keeps their results (a skip counts as passed)."""

    def __init__(self):
        self.results = []

    def __call__(self, ok, name, *notes, skip=None, diag=""):
        n = len(self.results) + 1
        if skip:
            line = "ok %d - %s # skip %s" % (n, name, skip)
        else:
            line = "%s %d - %s" % ("ok" if ok else "not ok", n, name)
        print(line, flush=True)
        for note in notes:
            comment(note)
        if diag and not ok and not skip:
            comment(diag)
        self.results.append(bool(ok) or bool(skip))
        return bool(ok)

    @property
    def n(self):
        return len(self.results)

    @property
    def failed(self):
        return self.results.count(False)

    def done(self):
        """Prints the plan; returns the exit status (1 when a check failed)."""
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0
