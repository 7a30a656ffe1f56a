#!/usr/bin/env python3
"""Holds collectd-telemetrydeck(5) to the code, both ways, and prints TAP.

Options: every option of the options table in src/td_settings.c is
documented under CONFIGURATION/Options (with a type word of its kind,
its default and, for numbers, the range's upper end), and every option
documented there exists in the table; conf/telemetrydeck.conf, which
says it lists every option of the plugin, names each one.

Messages: every format string of an ERROR/WARNING/INFO/NOTICE call in
src/telemetrydeck.c, every td_text_format message of src/td_words.c and
every transfer error text of src/td_http.c and src/td_answer.c and the
proxy description of src/td_url.c appears in DIAGNOSTICS; every
entry of DIAGNOSTICS is a message the code can produce, and a log line's
entry names the level the code logs it at.

How messages are compared: C string literals are joined as the compiler
joins them; printf conversions (%s, %g, %.1f, %zu, ...) become a wildcard;
in the page, words set in italics (\\fIACCOUNT\\fP) are placeholders and
stand for that wildcard. A DIAGNOSTICS entry is the .B line after a .TP.
A code message matches an entry when the message, its wildcards free to
take any text, is found in the entry (or in the section's prose, for a
fragment such as "is empty"); an entry is the code's when some message
matches it whole. Lines the code builds in two steps (the relays
'account "%s": %s.' and '%s' around a td_words fragment) are composed
before the comparison.

Usage: tests/recipes/man_reference.py      (no build needed)
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tools"))
from tap import Tap  # noqa: E402
MAN5 = os.path.join(TOP, "man", "collectd-telemetrydeck.5")
PLUGIN = os.path.join(TOP, "src", "telemetrydeck.c")
WORDS = os.path.join(TOP, "src", "td_words.c")
HTTP = os.path.join(TOP, "src", "td_http.c")
URL = os.path.join(TOP, "src", "td_url.c")
SETTINGS = os.path.join(TOP, "src", "td_settings.c")
ANSWER = os.path.join(TOP, "src", "td_answer.c")
DEFAULTS = os.path.join(TOP, "src", "td_defaults.h")

HOLE = "\x01"          # a placeholder of the page, after reading
WILD = "[^\n]*"        # what a printf conversion may produce
CONVERSION = re.compile(
    r"%[-+ #0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|z|j|t|L)?"
    r"[diouxXeEfgGcsp]")
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
LEVELS = ("ERROR", "WARNING", "INFO", "NOTICE")

tap = Tap()


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- C side ----

def strip_comments(src):
    """C source without comments, string literals kept intact."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            out.append(" ")
            i = n if j < 0 else j + 2
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_args(src, open_paren):
    """The arguments of the call whose '(' is at open_paren, as raw text,
    split at top-level commas."""
    args, depth, start, i = [], 0, open_paren + 1, open_paren + 1
    while i < len(src):
        c = src[i]
        if c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(src[start:i])
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append(src[start:i])
            start = i + 1
        i += 1
    raise ValueError("unterminated call at %d" % open_paren)


def unescape(s):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def joined_literals(arg):
    """The string an argument's adjacent literals make, or None when the
    argument is not made of literals (macros such as LOG_PREFIX aside)."""
    rest = LITERAL.sub("", arg.replace("LOG_PREFIX", ""))
    parts = LITERAL.findall(arg)
    if not parts or rest.strip():
        return None
    return "".join(unescape(p) for p in parts)


def calls(src, name):
    """(position, args) of every call of name in src."""
    for m in re.finditer(r"\b%s\s*\(" % name, src):
        yield m.start(), call_args(src, m.end() - 1)


def function_body(src, name):
    m = re.search(r"\b%s\([^;{]*\)\s*\{" % name, src)
    if not m:
        raise ValueError("no function %s" % name)
    depth, i = 1, m.end()
    while depth:
        if src[i] == "{":
            depth += 1
        elif src[i] == "}":
            depth -= 1
        i += 1
    return src[m.end():i - 1]


def pattern(fmt):
    """A code message as a regex: its conversions free, the rest literal."""
    fmt = fmt.replace("%%", "\x02")
    parts = CONVERSION.split(fmt)
    return WILD.join(re.escape(p).replace("\x02", "%") for p in parts)


def literal_text(fmt):
    return CONVERSION.sub("", fmt.replace("%%", "%"))


def is_relay(fmt):
    """A frame around another message: 'account "%s": %s.', '%s'."""
    return re.fullmatch(r'(account "%s": )?%s\.?', fmt) is not None


def plugin_messages(src):
    """[(level, format)] of the plugin's log calls; raises on a call whose
    format is not a literal (it could not be checked)."""
    out = []
    for level in LEVELS:
        for pos, args in calls(src, level):
            fmt = joined_literals(args[0])
            if fmt is None:
                raise ValueError("%s call at offset %d: format is not a literal: %s"
                                 % (level, pos, args[0].strip()))
            out.append((level, fmt))
    return out


def plugin_fragments(src):
    """Literal texts the plugin frames with a relay (token_problem)."""
    out = []
    for _, args in calls(src, "token_problem"):
        text = joined_literals(args[1]) if len(args) > 1 else None
        if text is not None:
            out.append(text)
    return out


def words_messages(src):
    out = []
    for pos, args in calls(src, "td_text_format"):
        fmt = joined_literals(args[2]) if len(args) > 2 else None
        if fmt is None:
            raise ValueError("td_text_format at offset %d: format is not a "
                             "literal" % pos)
        out.append(fmt)
    return out


def words_json(src):
    return [unescape(s) for s in
            LITERAL.findall(function_body(src, "td_words_json"))
            if s != "no error"]


def xfer_texts(words_src):
    """The transfer error texts of td_words.c: td_words_xfer's and
    tls_reason's texts and formats."""
    out = []
    for fn in ("td_words_xfer", "tls_reason"):
        body = function_body(words_src, fn)
        for s in LITERAL.findall(body):
            s = unescape(s)
            if s not in ("%s", "connect error %d") and s.strip():
                out.append(s)
    return out


def url_texts(src):
    """The proxy description of td_url.c (its refusals are worded in
    td_words.c)."""
    body = function_body(src, "td_url_proxy_describe")
    return [unescape(s) for s in LITERAL.findall(body) if "(from" in s]


def answer_texts(src):
    """The error td_answer gives a failed transfer that brought no text."""
    body = function_body(src, "td_answer_finish")
    return [unescape(s) for s in LITERAL.findall(body) if s != "%s"]


def options_table(src):
    """[(name, kind, name, min, max, default)] of td_settings.c's options
    table (the name stands for the field)."""
    m = re.search(r"\boptions\[TD_OPTS\]\s*=\s*\{(.*?)\n\};", src, re.S)
    rows = re.findall(r'\{TD_OPT_\w+,\s*"(\w+)",\s*(?:NULL|"[^"]*"),\s*'
                      r'TD_KIND_(\w+),\s*([^,]+),\s*([^,]+),\s*([^,]+),'
                      r'\s*([^}]+?)\s*\}', m.group(1))
    return [(n, k, n, lo.strip(), hi.strip(), d.strip())
            for n, k, _, lo, hi, d in rows]


def c_number(expr, macros):
    """Evaluates a constant of the table or of td_defaults.h."""
    expr = expr.strip()
    for name in sorted(macros, key=len, reverse=True):
        expr = re.sub(r"\b%s\b" % name, "(%s)" % macros[name], expr)
    if not re.fullmatch(r"[-+*/() .0-9e<]+", expr):
        raise ValueError("cannot evaluate %r" % expr)
    return eval(expr.replace("<<", "<<"), {"__builtins__": {}})


def defaults_macros():
    macros = {}
    for name, value in re.findall(r"^#define (TD_\w+) ([^/\n]+)", read(DEFAULTS), re.M):
        value = value.strip()
        if not value.startswith('"'):
            macros[name] = value
    return macros


def code_defaults(table, macros):
    """name -> default, from the options table."""
    out = {}
    for n, k, _, _, _, d in table:
        if k == "BOOL":
            out[n] = "true" if c_number(d, macros) else "false"
        elif k == "NUMBER":
            out[n] = c_number(d, macros)
    return out


# ---- page side ----

def roff_text(s):
    """A line of the page as the reader sees it; placeholders become HOLE."""
    s = re.sub(r"\\fI(.*?)\\f[PR]", lambda m: HOLE if m.group(1) else "", s)
    s = re.sub(r"\\f[BIRP]", "", s)
    for a, b in (("\\(dq", '"'), ("\\(aq", "'"), ("\\(em", "-"), ("\\-", "-"),
                 ("\\&", ""), ("\\e", "\\"), ("\\(+-", "+-"), ("\\%", "")):
        s = s.replace(a, b)
    return s


def macro_args(line):
    """The arguments of a roff macro line, quotes handled."""
    rest = line.split(None, 1)[1] if " " in line else ""
    return [a[1:-1] if a.startswith('"') else a
            for a in re.findall(r'"(?:[^"]|"")*"|\S+', rest)]


def section(lines, head, level=".SH"):
    """Lines of the section whose heading is head, up to the next one of
    the same or a higher level."""
    stops = (".SH",) if level == ".SH" else (".SH", ".SS")
    out, inside = [], False
    for line in lines:
        if line.startswith(level + " "):
            inside = " ".join(macro_args(line)) == head
            continue
        if inside and line.split(" ")[0] in stops:
            break
        if inside:
            out.append(line)
    return out


def tagged(lines):
    """[(tag line, body lines)] of the .TP entries."""
    out, i = [], 0
    while i < len(lines):
        if lines[i] == ".TP" and i + 1 < len(lines):
            body, j = [], i + 2
            while j < len(lines) and lines[j] not in (".TP",) and \
                    not lines[j].startswith((".SS", ".SH", ".PP")):
                body.append(lines[j])
                j += 1
            out.append((lines[i + 1], body))
            i = j
        else:
            i += 1
    return out


def prose(lines):
    """The running text of some lines, as one line."""
    words = []
    for line in lines:
        if line.startswith(".\\\""):
            continue
        if line.startswith("."):
            args = macro_args(line)
            if line.split(" ")[0] in (".B", ".I", ".BR", ".IR", ".RB", ".RI",
                                      ".BI", ".IB"):
                words.append("".join(args))
            continue
        words.append(line)
    return roff_text(" ".join(words))


def main():
    page = read(MAN5).splitlines()
    src = strip_comments(read(PLUGIN))
    words_src = strip_comments(read(WORDS))
    http_src = strip_comments(read(HTTP))

    # ---- (a) options, both ways ----
    table = options_table(strip_comments(read(SETTINGS)))
    macros = defaults_macros()
    defaults = code_defaults(table, macros)
    opts_section = section(page, "Options", ".SS")
    documented = {}
    for tag, body in tagged(opts_section):
        if tag.startswith(".BI "):
            args = macro_args(tag)
            documented[args[0]] = (args[1].strip() if len(args) > 1 else "",
                                   prose(body))
    names = [t[0] for t in table]
    tap(len(table) >= 20 and len(set(names)) == len(names),
        "the options table of td_settings.c reads as %d options"
        % len(table), diag=names)
    missing = [n for n in names if n not in documented]
    tap(not missing, "collectd-telemetrydeck.5 documents every option of the "
        "code (%d)" % len(names), diag="not in Options: %s" % missing)
    # conf/telemetrydeck.conf says it lists every option with its default.
    conf = read(os.path.join(TOP, "conf", "telemetrydeck.conf"))
    plugin_names = [n for n in names if n]
    unlisted = [n for n in plugin_names
                if not re.search(r"^\s*#?%s\b" % re.escape(n), conf, re.M)]
    tap(not unlisted, "conf/telemetrydeck.conf lists every option of the "
        "plugin (%d)" % len(plugin_names), diag="not listed: %s" % unlisted)
    extra = [n for n in documented if n not in names]
    tap(documented and not extra, "every option in the page's Options exists in "
        "the code (%d)" % len(documented), diag="not in td_settings.c: %s" % extra)

    kinds = {"STRING": ("string", "path", "date"), "BOOL": ("boolean",),
             "NUMBER": ("seconds", "days", "integer", "number", "percent")}
    wrong = ["%s: OPT_%s documented as %r" % (n, k, documented[n][0])
             for n, k, _, _, _, _ in table
             if n in documented and documented[n][0] not in kinds[k]]
    tap(not wrong, "each option's documented type fits its kind in the code",
        diag="\n".join(wrong))

    bad = []
    for n, k, field, lo, hi, _ in table:
        if n not in documented or field not in defaults:
            continue
        text = documented[n][1]
        want = defaults[field]
        if k == "NUMBER" and want == 0:
            continue  # 0 stands for a default derived at start-up
        shown = want if k == "BOOL" else "%g" % want
        if not re.search(r"Default: %s\b" % re.escape(shown), text):
            bad.append("%s: code default %s, page: %s" % (
                n, shown, re.findall(r"Default: [^.]*", text)))
    tap(not bad, "each documented default is the code's (td_settings.c, "
        "td_defaults.h)", diag="\n".join(bad))

    bad = []
    for n, k, field, lo, hi, _ in table:
        if k != "NUMBER" or n not in documented:
            continue
        top = "%d" % c_number(hi, macros)
        text = documented[n][1]
        if "Range:" not in text or top not in text.split("Range:", 1)[1]:
            bad.append("%s: range up to %s not documented" % (n, top))
    tap(not bad, "each number option's documented range ends where the code's "
        "does", diag="\n".join(bad))

    # ---- (b) messages, both ways ----
    diag_lines = section(page, "DIAGNOSTICS")
    entries = []  # (text with HOLEs, first word of the explanation)
    for tag, body in tagged(diag_lines):
        if tag.startswith(".B "):
            args = macro_args(tag)
            first = prose(body).strip().split(" ")[0].rstrip(".,;:")
            entries.append((roff_text(" ".join(args)), first))
    texts = [e for e, _ in entries]
    flat = "\n".join(texts) + "\n" + prose(diag_lines)

    try:
        logged = plugin_messages(src)
        worded = words_messages(words_src)
        json_words = words_json(words_src)
        transfer = xfer_texts(words_src) + answer_texts(
            strip_comments(read(ANSWER))) + url_texts(
            strip_comments(read(URL)))
    except ValueError as e:
        tap(False, "the code's messages can be read", diag=str(e))
        return 1
    fragments = plugin_fragments(src)
    tap(len(logged) >= 25 and len(worded) >= 60 and len(transfer) >= 15,
        "the code holds %d log calls, %d td_words messages and %d transfer "
        "texts" % (len(logged), len(worded), len(transfer)))

    def found(fmt):
        return re.search(pattern(fmt), flat) is not None

    for what, fmts in (
            ("ERROR/WARNING/INFO/NOTICE message of telemetrydeck.c",
             sorted({f for _, f in logged if not is_relay(f)})),
            ("td_text_format message of td_words.c",
             sorted(set(worded) | set(fragments))),
            ("transfer error text of td_http.c and body problem of td_words_json",
             sorted(set(transfer) | set(json_words)))):
        missing = [f for f in fmts if not found(f)]
        tap(fmts and not missing,
            "DIAGNOSTICS has every %s (%d)" % (what, len(fmts)),
            diag="missing:\n" + "\n".join(repr(f) for f in missing))

    # The messages an entry may be: direct ones, and relays around every
    # fragment the code puts into them.
    relays = sorted({f for _, f in logged if is_relay(f)} |
                    {f for f in worded if is_relay(f)})
    inner = set(worded) | set(fragments) | set(transfer) | set(json_words)
    direct = ({f for _, f in logged} | set(worded) | set(transfer) |
              set(json_words) | set(fragments)) - set(relays)
    composed = set()
    for r in relays:
        at = r.rfind("%s")
        for f in inner:
            if not is_relay(f):
                composed.add(r[:at] + f + r[at + 2:])
    candidates = [(f, re.compile(pattern(f))) for f in sorted(direct | composed)]
    orphans = [t for t in texts
               if not any(rx.fullmatch(t) for _, rx in candidates)]
    tap(len(texts) >= 80 and not orphans,
        "every DIAGNOSTICS entry is a message the code produces (%d entries)"
        % len(texts),
        diag="no code message for:\n" + "\n".join(
            t.replace(HOLE, "<>") for t in orphans))

    # A log line's entry says the level the plugin logs it at.
    levels = {}
    for level, f in logged:
        if not is_relay(f):
            levels.setdefault(f, set()).add(level)
    wrong = []
    for f, want in sorted(levels.items()):
        rx = re.compile(pattern(f))
        said = {first for t, first in entries if rx.fullmatch(t)}
        if said and not said & want:
            wrong.append("%r: code %s, page %s" % (f, sorted(want), sorted(said)))
    tap(not wrong, "each log line's entry names the level the code logs it at",
        diag="\n".join(wrong))

    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
