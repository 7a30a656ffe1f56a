#!/usr/bin/env python3
"""Holds docs/HACKING.md's layout of src/ and its list of unit tests to the
tree, and prints TAP.

The module table ("| layer | module | owns | includes |"): each row names a
module, `td_NAME` (src/td_NAME.c and src/td_NAME.h, whichever exist) or one
file (`td_poll.h`, `telemetrydeck.c`). Its "includes" column names, in
backticks, the modules of src/ that the module's files #include, and by
plain word the libraries beyond libc: yajl, libcurl, collectd ("libc" or
"nothing" when there are none; "nothing" also means no #include at all).
A module's own header and the generated td_config.h do not count.

Checked: every module of src/ has a row and every row a file; each row's
includes are exactly the module's; the include graph of src/ has no cycle
(no include runs back up); every unit test tests/unit/test_*.c is named in
HACKING.md, and HACKING.md names no unit test that does not exist.

Usage: tests/recipes/hacking_reference.py      (no build needed)
"""

import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tools"))
from tap import Tap  # noqa: E402

HACKING = os.path.join(TOP, "docs", "HACKING.md")
SRC = os.path.join(TOP, "src")
GENERATED = {"td_config.h"}
LIBRARIES = {"yajl", "libcurl", "collectd"}
WORDS = LIBRARIES | {"libc", "nothing"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
# collectd's headers, as src/telemetrydeck.c includes them.
COLLECTD = re.compile(r"^(collectd\.h|plugin\.h|utils/|daemon/)")

tap = Tap()


def module_table(text):
    """{module: (row number, includes cell)} of the layout table."""
    rows = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\|\s*layer\s*\|\s*module\s*\|\s*owns\s*\|\s*includes\s*\|",
                    line):
            break
    else:
        return rows
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4:
            continue
        name = re.fullmatch(r"`([^`]+)`", cells[1])
        if name:
            rows[name.group(1)] = (len(rows) + 1, cells[3])
    return rows


def files_of(module):
    """The files of src/ that a row's module name stands for."""
    if "." in module:
        names = [module]
    else:
        names = [module + ".c", module + ".h"]
    return [n for n in names if os.path.isfile(os.path.join(SRC, n))]


def key(name):
    """A file's module: td_text.c and td_text.h -> td_text; a file with no
    partner (td_poll.h, telemetrydeck.c) is named as itself."""
    base, _ = os.path.splitext(name)
    pair = all(os.path.isfile(os.path.join(SRC, base + e)) for e in (".c", ".h"))
    return base if pair else name


def modules_of_src():
    """Every module of src/, named as the table names it."""
    return {key(os.path.basename(p)) for p in
            glob.glob(os.path.join(SRC, "*.[ch]"))
            if os.path.basename(p) not in GENERATED}


def includes_in_code(module):
    """(our modules, libraries beyond libc, whether anything is included)."""
    ours, libs, anything = set(), set(), False
    for f in files_of(module):
        with open(os.path.join(SRC, f), encoding="utf-8") as fh:
            for kind, path in INCLUDE.findall(fh.read()):
                anything = True
                if kind == '"' and COLLECTD.match(path):
                    libs.add("collectd")
                elif kind == '"':
                    if path in GENERATED:
                        continue
                    k = key(path)
                    if k != module:
                        ours.add(k)
                elif path.startswith("yajl/"):
                    libs.add("yajl")
                elif path.startswith("curl/"):
                    libs.add("libcurl")
    return ours, libs, anything


def includes_in_table(cell):
    """(our modules, library words, unknown words) of an includes cell."""
    ours = {key(n) for n in re.findall(r"`([^`]+)`", cell)}
    words = set(re.findall(r"[a-z]+", re.sub(r"`[^`]*`", " ", cell)))
    return ours, words & WORDS


def cycle(graph):
    """One include cycle of graph {module: set of modules}, or None."""
    state = {}

    def visit(m, path):
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path + [m, n]
            if n not in state:
                found = visit(n, path + [m])
                if found:
                    return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [])
            if found:
                return found
    return None


def main():
    with open(HACKING, encoding="utf-8") as fh:
        text = fh.read()
    table = module_table(text)
    code = modules_of_src()
    tap(len(table) >= 10, "docs/HACKING.md has its module table (%d rows)"
        % len(table))
    missing = sorted(code - set(table))
    tap(not missing, "every module of src/ has a row in HACKING.md's table",
        diag="no row: " + ", ".join(missing))
    ghosts = sorted(m for m in table if not files_of(m))
    tap(not ghosts, "every row of the table is a module of src/",
        diag="no such file in src/: " + ", ".join(ghosts))

    wrong = []
    graph = {}
    for module in sorted(table):
        if not files_of(module):
            continue
        ours, libs, anything = includes_in_code(module)
        graph[module] = ours
        t_ours, t_words = includes_in_table(table[module][1])
        t_libs = t_words & LIBRARIES
        if ours != t_ours:
            wrong.append("%s: the code includes %s; the table says %s" % (
                module, ", ".join(sorted(ours)) or "none of ours",
                ", ".join(sorted(t_ours)) or "none of ours"))
        if libs != t_libs:
            wrong.append("%s: the code uses %s; the table says %s" % (
                module, ", ".join(sorted(libs)) or "libc only",
                ", ".join(sorted(t_libs)) or "libc only"))
        if "nothing" in t_words and anything:
            wrong.append("%s: the table says nothing; the code includes "
                         "headers" % module)
    tap(not wrong, "each row's includes are the ones its files #include",
        diag="\n".join(wrong))

    loop = cycle(graph)
    tap(loop is None, "no include of src/ runs back up (no cycle)",
        diag="cycle: " + " -> ".join(loop or []))

    units = sorted(os.path.basename(p)[:-2] for p in
                   glob.glob(os.path.join(TOP, "tests", "unit", "test_*.c")))
    named = set(re.findall(r"\btest_[a-z0-9_]+\b", text))
    unnamed = [u for u in units if u not in named]
    tap(units and not unnamed,
        "HACKING.md names every unit test (%d)" % len(units),
        diag="not named: " + ", ".join(unnamed))
    # test_* words in the text that are unit tests by their context: in
    # the unit tests' rows (a path under tests/unit/ or a "unit:" suite).
    claimed = set()
    for line in text.splitlines():
        if "tests/unit" in line or line.startswith("| unit"):
            claimed |= set(re.findall(r"\btest_[a-z0-9_]+\b", line))
    ghosts = sorted(claimed - set(units))
    tap(not ghosts, "HACKING.md names no unit test that does not exist",
        diag="no tests/unit/NAME.c: " + ", ".join(ghosts))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
