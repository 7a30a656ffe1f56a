#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/answer/.

Each seed is one input of fuzz_answer (tests/fuzz/fuzz_answer.c): an
account's policy, a start time and a few polls, encoded in the layout the
target reads front to back (all integers big-endian, a "text" is one
length byte then that many bytes):

  policy   u8 flags      1 has expiry, 2 ExpectUser set, 4 thresholds are
                         raw doubles, 8 expiry from the TokenExpires text
           u8 unreach    UnreachableAfter = unreach % 7 (6: UINT_MAX)
           thresholds    flags & 4: four 8-byte doubles, else four u8
                         (% 61): ExpiryWarningDays, ExpiryFailureDays,
                         TLSExpiryWarningDays, TLSExpiryFailureDays
           text account, text expect_user
           u32 now, u8 now_fraction (1/256 s)
           u32 expires_offset (int32: expiry = now + offset)
           text tokenexpires (given to td_time_parse_utc)
           u8 polls - 1 (% 12)
  per poll u8 op         bits 0-1: 0/1 as the plugin decides (tick while a
                         Retry-After runs), 2 always step, 3 always tick;
                         4 Retry-After text, 8 raw Retry-After double,
                         16 transport error text, 32 "" error, 64 raw
                         response time double (else u16 milliseconds)
           u8 kind       bits 0-1: clock step unit 1 s/1 min/1 h/1 day;
                         4 pad the body past the size bound, 8 body
                         announced too large, 16 no extracted info (NULL)
           u16 step      int16 clock step in units, before the poll
           status        u8 index into the target's table, or 0xF0 + u32
           [retry text | 8-byte double], [error text], response time
           u8 cert       bits 0-1: 0 keep the last certificate expiry,
                         1 now + i32 seconds, 2 text for td_time_parse_utc,
                         3 8-byte double; then that field
           u8 marks      bit 0: six 8-byte doubles, else six u16 ms steps
                         (bit 1: a reused connection, no connect/TLS mark)
           u16 body length, u16 chunk seed, body bytes

Run from anywhere; it rewrites the seeds it owns and leaves other files
(fuzzer-found inputs added by hand) alone:
  python3 tests/fuzz/make_answer_seeds.py
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "answer")

# Must match statuses[] in fuzz_answer.c.
STATUSES = [200, 200, 200, 200, 401, 403, 429, 429, 500, 502, 503, 504, 0,
            301, 302, 404, 400, 418, 100, 204, 599, 999, -1]

OP_STEP, OP_TICK = 2, 3
OP_RETRY_TEXT, OP_RETRY_RAW, OP_ERROR, OP_EMPTY_ERROR, OP_RAW_TIME = \
    4, 8, 16, 32, 64
UNIT = {"s": 0, "min": 1, "h": 2, "day": 3}
K_PAD, K_TOO_LARGE, K_NO_INFO = 4, 8, 16

NOW = 1767225600  # 2026-01-01T00:00:00Z


def text(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    assert len(b) < 256
    return bytes([len(b)]) + b


def policy(expiry=False, expect=None, unreach=3, warn=30, fail=7,
           tls_warn=14, tls_fail=3, raw_thresholds=None, account="main", now=NOW, expires_offset=0,
           expires_text=b"", expiry_from_text=False, polls=1):
    flags = (1 if expiry else 0) | (2 if expect is not None else 0) | \
        (4 if raw_thresholds else 0) | (8 if expiry_from_text else 0)
    out = bytes([flags, unreach])
    if raw_thresholds:
        out += struct.pack(">dddd", *raw_thresholds)
    else:
        out += bytes([warn, fail, tls_warn, tls_fail])
    out += text(account) + text(expect or b"")
    out += struct.pack(">IB", now, 0)
    out += struct.pack(">i", expires_offset)
    out += text(expires_text)
    out += bytes([polls - 1])
    return out


def poll(status=200, body=b"", step=60, unit="s", op=OP_STEP, retry=None,
         retry_raw=None, error=None, empty_error=False, time_ms=120,
         time_raw=None, pad=False, too_large=False, no_info=False,
         seed=0x1234, cert=None, cert_text=None, cert_raw=None, marks=None,
         reused=False, raw_marks=None):
    if retry is not None:
        op |= OP_RETRY_TEXT
    elif retry_raw is not None:
        op |= OP_RETRY_RAW
    if error is not None:
        op |= OP_ERROR
    elif empty_error:
        op |= OP_EMPTY_ERROR
    if time_raw is not None:
        op |= OP_RAW_TIME
    kind = UNIT[unit] | (K_PAD if pad else 0) | \
        (K_TOO_LARGE if too_large else 0) | (K_NO_INFO if no_info else 0)
    out = bytes([op, kind]) + struct.pack(">h", step)
    if status in STATUSES:
        out += bytes([STATUSES.index(status)])
    else:
        out += bytes([0xF0]) + struct.pack(">i", status)
    if retry is not None:
        out += text(retry)
    elif retry_raw is not None:
        out += struct.pack(">d", retry_raw)
    if error is not None:
        out += text(error)
    out += struct.pack(">d", time_raw) if time_raw is not None else \
        struct.pack(">H", time_ms)
    if cert is not None:            # seconds from now
        out += bytes([1]) + struct.pack(">i", cert)
    elif cert_text is not None:
        out += bytes([2]) + text(cert_text)
    elif cert_raw is not None:
        out += bytes([3]) + struct.pack(">d", cert_raw)
    else:
        out += bytes([0])
    if raw_marks is not None:
        out += bytes([1]) + struct.pack(">dddddd", *raw_marks)
    else:
        steps = marks or (2, 3, 20, 1, 80, 14)  # ms between marks
        out += bytes([2 if reused else 0]) + struct.pack(">HHHHHH", *steps)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return out + struct.pack(">HH", len(body), seed) + body


def account_body(label="main", verified=True, ident=None):
    return json.dumps({
        "email": "%s@example.com" % label, "emailIsVerified": verified,
        "firstName": "Fake", "id": ident or "id-%s" % label,
        "organization": {"name": "Org %s" % label},
        "receiveReports": "weekly"}, separators=(",", ":"))


VAPOR_401 = '{"error":true,"reason":"User not authenticated."}'
HTML_503 = ("<!DOCTYPE html>\n<html><head><title>503 Service Unavailable"
            "</title></head><body><h1>503</h1></body></html>\n")


def seeds():
    s = {}
    s["healthy_revoked_valid"] = policy(polls=6) + b"".join([
        poll(200, account_body()), poll(200, account_body()),
        poll(401, VAPOR_401), poll(401, VAPOR_401),
        poll(200, account_body()), poll(200, account_body(verified=False))])
    s["forbidden_detail_html_empty"] = policy(polls=4) + b"".join([
        poll(403, '{"detail":"Token revoked\\u0007\\n"}'),
        poll(401, "<html><body>Please log in.</body></html>"),
        poll(401, b""), poll(200, account_body())])
    s["unreachable_then_back"] = policy(unreach=2, polls=6) + b"".join([
        poll(200, account_body()),
        poll(0, error="connection refused"),
        poll(0, error="timeout after 10 s"),
        poll(503, HTML_503), poll(502, HTML_503),
        poll(200, account_body())])
    s["broken_answers"] = policy(unreach=1, polls=5) + b"".join([
        poll(200, account_body()[:40], error="connection broken (reset)"),
        poll(200, account_body()[:40], error="the answer was shorter than "
             "announced"),
        poll(500, account_body()),
        poll(200, b'{"id":"x"}', too_large=True),
        poll(200, account_body(), pad=True)])
    s["ratelimit_seconds"] = policy(polls=5) + b"".join([
        poll(200, account_body()),
        poll(429, VAPOR_401, retry=" 120\r\n"),
        poll(200, account_body(), step=60, op=0),
        poll(200, account_body(), step=61, op=0),
        poll(200, account_body(), step=60, op=0)])
    s["ratelimit_date"] = policy(polls=4) + b"".join([
        poll(429, b"", retry="Thu, 01 Jan 2026 00:10:00 GMT"),
        poll(429, b"", retry="Sun, 06 Nov 1994 08:49:37 GMT", step=10,
             unit="min", op=0),
        poll(429, b"", retry="99999999999999999999", op=0),
        poll(429, b"", retry_raw=float("nan"), step=2, unit="day")])
    s["expiry_near_clock"] = policy(expiry=True, expires_offset=8 * 86400,
                                    polls=5) + b"".join([
        poll(200, account_body(), step=0),
        poll(200, account_body(), step=1, unit="day"),
        poll(200, account_body(), step=1, unit="day", op=OP_TICK),
        poll(200, account_body(), step=9, unit="day"),
        poll(200, account_body(), step=-30, unit="day")])
    s["tls_certificate_expiry"] = policy(polls=5) + b"".join([
        poll(200, account_body(), cert=20 * 86400),
        poll(200, account_body(), step=7, unit="day", reused=True),
        poll(200, account_body(), step=0, cert_text="2026-01-09 00:00:00 GMT"),
        poll(200, account_body(), step=1, unit="day", cert=400 * 86400),
        poll(0, error="TLS verification failed: the certificate has expired",
             cert_raw=float("-inf"),
             raw_marks=(float("nan"), 1.0, float("inf"), -1.0, 0.0, 2.0))])
    # Every kind of note in one step: token OKAY, another user, API back,
    # token and TLS certificate expiry: five notes (regression for
    # TD_STATE_MAX_NOTES 4 dropping the fifth while its level still moves).
    s["regress_five_notes_in_one_step"] = policy(
        expiry=True, expires_offset=40 * 86400, unreach=1, polls=4) + \
        b"".join([
            poll(200, account_body("a"), cert=30 * 86400),
            poll(401, VAPOR_401),
            poll(0, error="connection refused"),
            poll(200, account_body("b"), step=20, unit="day")])
    # A certificate expiry no certificate has (td_poll_t takes any double):
    # regression for the cast of an out-of-range double to time_t when the
    # date is written into the message (undefined behaviour).
    s["regress_cert_expiry_out_of_range"] = policy(polls=1) + \
        poll(200, account_body(), cert_raw=1e300)
    s["expiry_from_text"] = policy(
        expiry=True, expiry_from_text=True,
        expires_text="2026-01-20T12:00:00+02:00", polls=3) + b"".join([
        poll(200, account_body()),
        poll(200, account_body(), step=12, unit="day"),
        poll(200, account_body(), step=20, unit="day")])
    s["odd_thresholds"] = policy(
        expiry=True,
        raw_thresholds=(float("nan"), float("inf"), -1e308, float("nan")),
        unreach=0, expires_offset=-5, polls=3) + b"".join([
        poll(0, error="x"), poll(200, account_body(), time_raw=float("nan")),
        poll(-2147483648, b"", time_raw=-1.0)])
    s["expect_user"] = policy(expect="main@EXAMPLE.com", polls=4) + \
        b"".join([
            poll(200, account_body()),
            poll(200, account_body("other")),
            poll(200, account_body("other")),
            poll(200, account_body())])
    s["user_changes"] = policy(polls=3) + b"".join([
        poll(200, account_body("a")), poll(200, account_body("b")),
        poll(200, account_body("b"))])
    s["odd_statuses_and_text"] = policy(
        account="caf\u00e9 \u2603", polls=5) + b"".join([
            poll(302, b""), poll(999, b'{"reason":"' + b"\xc3\xa9" * 120 +
                                 b'"}'),
            poll(100, b"", error=b"\x1b[31mred\x7f\xff\xfe" + b"\xe2\x98" * 3),
            poll(204, b"", empty_error=True, no_info=True),
            poll(418, VAPOR_401)])
    # The clock goes back an hour right after a Retry-After of one day: the
    # account must still be pollable a day from the new now (regression for
    # td_state_may_poll trusting a not_before set by a clock now in the
    # future).
    s["regress_clock_back_after_429"] = policy(polls=2) + b"".join([
        poll(429, VAPOR_401, retry="86400"),
        poll(200, account_body(), step=-1, unit="h", op=OP_TICK)])
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), OUT))


if __name__ == "__main__":
    main()
