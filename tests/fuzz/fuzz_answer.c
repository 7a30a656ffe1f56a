/* fuzz_answer: libFuzzer target for the whole answer handling, without a
 * network: the very code td_http hands a transfer to (td_answer: header
 * lines, body chunks, the end of the transfer -> td_poll_t) and what the
 * plugin does with a finished poll (the Retry-After hold, td_state_step or
 * td_state_tick, then td_words_step), over a sequence of polls of one
 * account.
 *
 * The input is read front to back by a byte reader (bytes past the end read
 * as 0): first the account's policy, then a start time, then up to 12
 * polls. tests/fuzz/make_answer_seeds.py writes seeds in this layout and
 * documents it field by field.
 *
 * Policy: expiry on or off (TokenExpires parsed by td_time_parse_utc, or a
 * time near the clock), token and TLS thresholds sane, in the wrong order,
 * negative, huge, NaN or infinite, UnreachableAfter 0..5 or UINT_MAX,
 * ExpectUser set or not. Each poll also carries the server certificate's
 * expiry (kept from the last handshake, near the clock, parsed from an
 * "Expire Date:" text, or any double) and libcurl's timing marks for
 * td_answer_phases. Config strings (account name, ExpectUser) are stripped
 * of control bytes as collectd's config would have them; everything that
 * comes from the network (status, Retry-After, body, transport error text,
 * response time, certificate expiry, timing marks) is taken as it comes,
 * odd values included. The clock moves by a signed step each poll, so it
 * also jumps backwards (never before 1970: cdtime is unsigned).
 *
 * Checked after every step or tick (abort() on a breach):
 *  - td_state.h bounds: n_notes <= TD_STATE_MAX_NOTES; every message and
 *    the log line NUL-terminated within their arrays, free of control
 *    bytes, and whole UTF-8 characters when every text that went in was;
 *    token_valid and email_verified in {-1,0,1}, api_reachable in {0,1},
 *    kinds and severities known, state strings NUL-terminated;
 *  - one notification per state change and none without one (the soak
 *    test's count, here per step): token FAILURE/OKAY, the user-change
 *    WARNING, reachability WARNING/OKAY, rate limit WARNING/OKAY, token
 *    and TLS certificate expiry level changes; nothing dropped for want of
 *    room; a log line exactly when the problem changed; a tick touches the
 *    token expiry only;
 *  - td_answer_phases never gives a negative or NaN phase, nor one longer
 *    than the total when the marks grow as libcurl's do;
 *  - a wait is bounded: a 429 with a Retry-After asks for a hold of that
 *    wait, and any hold is at most TD_STATE_MAX_WAIT (td_sched keeps it,
 *    on its monotonic clock);
 *  - td_time_parse_retry_after and td_time_parse_utc return 0 or -1 and,
 *    on 0, a finite value (a wait >= 0);
 *  - td_text_clean keeps its bounds for any size and max, and leaves no
 *    control character (C0, DEL, C1, U+2028/9, bidi controls).
 *
 * FUZZ_TRACE=1 in the environment prints every step (for reading a seed).
 *
 * Build: tools/fuzz build (clang -fsanitize=fuzzer,address,undefined). */
#include "td_answer.h"
#include "td_state.h"
#include "td_text.h"
#include "td_time.h"
#include "td_words.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_answer"
#include "fuzz_common.h"

#define MAX_POLLS 12

/* ---- reading the input ---- */

typedef struct {
  const uint8_t *p;
  size_t n;
} reader_t;

static uint8_t u8(reader_t *r) {
  if (r->n == 0)
    return 0;
  r->n--;
  return *r->p++;
}

static uint16_t u16(reader_t *r) {
  uint16_t hi = u8(r);
  return (uint16_t)(hi << 8 | u8(r));
}

static uint32_t u32(reader_t *r) {
  uint32_t hi = u16(r);
  return hi << 16 | u16(r);
}

/* Any double, NaN and infinities included, from 8 raw bytes. */
static double raw_double(reader_t *r) {
  uint64_t bits = (uint64_t)u32(r) << 32;
  bits |= u32(r);
  double d;
  memcpy(&d, &bits, sizeof(d));
  return d;
}

/* A string: one length byte (cut to max), then that many bytes, into dst
 * (max + 1 bytes) with a NUL after them. Embedded NULs stay: C code sees
 * the text up to the first, as it would. Returns the length read. */
static size_t text(reader_t *r, char *dst, size_t max) {
  size_t len = u8(r);
  if (len > max)
    len = max;
  if (len > r->n)
    len = r->n;
  memcpy(dst, r->p, len);
  dst[len] = '\0';
  r->p += len;
  r->n -= len;
  return len;
}

/* A config string: what collectd's parser could hand over, no control
 * bytes (the plugin refuses them in account names; ExpectUser alike). */
static void config_text(reader_t *r, char *dst, size_t max) {
  text(r, dst, max);
  for (char *c = dst; *c != '\0'; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
      *c = '_';
}

/* ---- text properties ---- */

static int has_nul_within(const char *s, size_t size) {
  return memchr(s, '\0', size) != NULL;
}

static int no_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

/* No C1 control, line or paragraph separator, or bidi control either. */
static int no_unicode_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
      return 0;
    if (p[0] == 0xE2 && p[1] == 0x80 && p[2] >= 0xA8 && p[2] <= 0xAE)
      return 0;
    if (p[0] == 0xE2 && p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9)
      return 0;
  }
  return 1;
}

/* ---- the pieces of one answer ---- */

static const int statuses[] = {200, 200, 200, 200, 401, 403, 429, 429,
                               500, 502, 503, 504, 0,   301, 302, 404,
                               400, 418, 100, 204, 599, 999, -1};
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]))

static int read_status(reader_t *r) {
  uint8_t sel = u8(r);
  if (sel < N_STATUSES)
    return statuses[sel];
  if (sel < 0xF0)
    return statuses[sel % N_STATUSES];
  return (int)u32(r); /* anything, INT_MIN included */
}

static size_t chunk_size(uint32_t *s) {
  uint32_t r = next_rand(s);
  switch (r & 3) {
  case 0:
    return (r >> 8) % 3; /* 0, 1 or 2 */
  case 1:
    return 1 + (r >> 8) % 32;
  case 2:
    return 1 + (r >> 8) % 1024;
  default:
    return 1 + (r >> 8) % 65536;
  }
}

/* Feeds a buffer as td_http's write callback does: chunk by chunk to
 * td_answer_body, the transfer stopped when the answer refuses more.
 * Returns 1 when it stopped. */
static int feed_body(td_answer_t *a, const uint8_t *buf, size_t len,
                     uint32_t *seed) {
  size_t off = 0;
  while (off < len) {
    size_t n = chunk_size(seed);
    if (n > len - off)
      n = len - off;
    if (td_answer_body(a, buf + off, n) != 0)
      return 1;
    off += n;
  }
  return 0;
}

/* The earliest certificate expiry td_http passes on: unchanged (a reused
 * connection shows no chain), near the clock, read from a certificate's
 * "Expire Date:" text by td_time_parse_utc as td_http reads it, or any
 * double (the contract says <= 0 is unknown). */
static void read_cert(reader_t *r, double now, double *cert_expires) {
  char date[64];
  double when;
  switch (u8(r) & 3) {
  case 0:
    break;
  case 1:
    *cert_expires = now + (int32_t)u32(r);
    break;
  case 2:
    text(r, date, sizeof(date) - 1);
    if (td_time_parse_utc(date, &when) == 0) {
      CHECK(isfinite(when));
      *cert_expires = when;
    }
    break;
  default:
    *cert_expires = raw_double(r);
  }
}

/* libcurl's marks, either growing from u16 milliseconds (a fresh or a
 * reused connection) or any doubles; split by td_phases_split, whose
 * phases must never be negative or NaN, and within the total when the
 * marks make sense. */
static void read_marks(reader_t *r, double marks[TD_MARKS]) {
  uint8_t how = u8(r);
  int sane = !(how & 1);
  if (sane) {
    double t = 0;
    for (int i = 0; i < TD_MARKS; i++) {
      t += u16(r) / 1000.0;
      marks[i] = t;
    }
    if (how & 2) /* reused: libcurl reports no connect and no TLS */
      marks[TD_MARK_CONNECT] = marks[TD_MARK_APPCONNECT] = 0;
  } else {
    for (int i = 0; i < TD_MARKS; i++)
      marks[i] = raw_double(r);
  }
}

/* td_answer_phases' promise: never negative or NaN, and within the total
 * when the marks grow as libcurl's do. */
static void check_phases(const double marks[TD_MARKS],
                         const double phases[TD_PHASES]) {
  /* Sane: finite, not negative, none past the total, and growing but for
   * the connect and TLS marks a reused connection leaves at 0. */
  int sane = 1;
  double last = 0;
  for (int i = 0; i < TD_MARKS; i++) {
    sane &= isfinite(marks[i]) && marks[i] >= 0 &&
            marks[i] <= marks[TD_MARK_TOTAL];
    if (marks[i] > 0) {
      sane &= marks[i] >= last;
      last = marks[i];
    }
  }
  for (int i = 0; i < TD_PHASES; i++) {
    CHECK(phases[i] >= 0); /* false for NaN too */
    if (sane)
      CHECK(phases[i] <= marks[TD_MARK_TOTAL]);
  }
}

/* ---- checks on outputs ---- */

static void check_state(const td_state_t *st) {
  CHECK(st->token >= TD_LEVEL_UNKNOWN && st->token <= TD_LEVEL_FAILURE);
  CHECK(st->reach >= TD_LEVEL_UNKNOWN && st->reach <= TD_LEVEL_FAILURE);
  CHECK(st->expiry >= TD_LEVEL_UNKNOWN && st->expiry <= TD_LEVEL_FAILURE);
  CHECK(st->tls_expiry >= TD_LEVEL_UNKNOWN &&
        st->tls_expiry <= TD_LEVEL_FAILURE);
  CHECK(st->rate_limited == 0 || st->rate_limited == 1);
  CHECK(has_nul_within(st->problem.last, sizeof(st->problem.last)));
  CHECK(has_nul_within(st->last_id, sizeof(st->last_id)));
}

static void check_step(const td_step_t *out, int text_whole) {
  CHECK(out->n_notes <= TD_STATE_MAX_NOTES);
  CHECK(out->api_reachable == 0 || out->api_reachable == 1);
  CHECK(out->token_valid >= -1 && out->token_valid <= 1);
  CHECK(out->email_verified >= -1 && out->email_verified <= 1);
  CHECK(out->response_code >= 0);
  CHECK(out->has_response_time == 0 || out->has_response_time == 1);
  CHECK(out->has_timeleft == 0 || out->has_timeleft == 1);
  if (out->has_timeleft)
    CHECK(!(out->timeleft < 0));
  CHECK(out->has_tls_timeleft == 0 || out->has_tls_timeleft == 1);
  if (out->has_tls_timeleft)
    CHECK(!(out->tls_timeleft < 0));
  CHECK(out->log_is_problem == 0 || out->log_is_problem == 1);
  CHECK(has_nul_within(out->log, sizeof(out->log)));
  CHECK(no_control(out->log) && no_unicode_control(out->log));
  if (text_whole)
    CHECK(whole_utf8(out->log));
  for (size_t i = 0; i < out->n_notes; i++) {
    const td_note_t *n = &out->notes[i];
    /* Organization notes come from td_orgstate_step, never from here. */
    CHECK(n->kind == TD_NOTE_TOKEN_VALID || n->kind == TD_NOTE_API_REACHABLE ||
          n->kind == TD_NOTE_TOKEN_EXPIRY || n->kind == TD_NOTE_RATE_LIMITED ||
          n->kind == TD_NOTE_TLS_EXPIRY);
    CHECK(has_nul_within(n->instance, sizeof(n->instance)));
    CHECK(n->instance[0] == '\0');
    CHECK(n->severity == TD_SEV_FAILURE || n->severity == TD_SEV_WARNING ||
          n->severity == TD_SEV_OKAY);
    CHECK(has_nul_within(n->message, sizeof(n->message)));
    CHECK(n->message[0] != '\0');
    CHECK(no_control(n->message) && no_unicode_control(n->message));
    if (text_whole)
      CHECK(whole_utf8(n->message));
    CHECK(td_words_note_type(n->kind) != NULL && td_words_note_type(n->kind)[0] != '\0');
    CHECK(td_words_note_type_instance(n->kind) != NULL &&
          td_words_note_type_instance(n->kind)[0] != '\0');
  }
}

static size_t count(const td_step_t *out, td_note_kind_t k, td_severity_t s) {
  size_t c = 0;
  for (size_t i = 0; i < out->n_notes; i++)
    if (out->notes[i].kind == k && out->notes[i].severity == s)
      c++;
  return c;
}

/* The note for a deadline's level change (token or TLS certificate
 * expiry): WARNING or FAILURE when the level got worse, OKAY when it came
 * back to OK, nothing else. Returns the number of such notes. */
static size_t check_deadline_notes(td_level_t before, td_level_t after,
                                   td_note_kind_t kind, const td_step_t *out) {
  size_t f = count(out, kind, TD_SEV_FAILURE);
  size_t w = count(out, kind, TD_SEV_WARNING);
  size_t o = count(out, kind, TD_SEV_OKAY);
  int worse = after > before && after != TD_LEVEL_OK;
  CHECK(f == (worse && after == TD_LEVEL_FAILURE));
  CHECK(w == (worse && after == TD_LEVEL_WARNING));
  CHECK(o == (after == TD_LEVEL_OK && before > TD_LEVEL_OK));
  return f + w + o;
}

/* Notes of a tick: only expiry ones. */
static void check_tick(const td_state_t *prev, const td_state_t *st,
                       const td_step_t *out) {
  CHECK(out->api_reachable == 0 && out->token_valid == -1 &&
        out->email_verified == -1 && out->log[0] == '\0' &&
        !out->has_tls_timeleft);
  CHECK(st->token == prev->token && st->reach == prev->reach &&
        st->rate_limited == prev->rate_limited &&
        st->failures == prev->failures && st->tls_expiry == prev->tls_expiry &&
        strcmp(st->problem.last, prev->problem.last) == 0);
  CHECK(out->n_notes == check_deadline_notes(prev->expiry, st->expiry,
                                             TD_NOTE_TOKEN_EXPIRY, out));
}

/* One note per state change, none without one. */
static void check_transitions(const td_state_t *prev, const td_state_t *st,
                              const td_step_t *out, int expecting) {
  size_t tf = count(out, TD_NOTE_TOKEN_VALID, TD_SEV_FAILURE);
  size_t to = count(out, TD_NOTE_TOKEN_VALID, TD_SEV_OKAY);
  size_t tw = count(out, TD_NOTE_TOKEN_VALID, TD_SEV_WARNING);
  CHECK(tf == (prev->token != TD_LEVEL_FAILURE &&
               st->token == TD_LEVEL_FAILURE));
  CHECK(to == (prev->token == TD_LEVEL_FAILURE && st->token == TD_LEVEL_OK));
  /* Without ExpectUser, a token that now names another account than at
   * the last poll: a WARNING (with ExpectUser, the FAILURE above says it). */
  CHECK(tw == (out->token_valid == 1 && !expecting &&
               prev->last_id[0] != '\0' &&
               strcmp(prev->last_id, st->last_id) != 0));

  size_t rw = count(out, TD_NOTE_API_REACHABLE, TD_SEV_WARNING);
  size_t ro = count(out, TD_NOTE_API_REACHABLE, TD_SEV_OKAY);
  CHECK(rw == (prev->reach != TD_LEVEL_WARNING &&
               st->reach == TD_LEVEL_WARNING));
  CHECK(ro == (prev->reach == TD_LEVEL_WARNING && st->reach == TD_LEVEL_OK));
  CHECK(count(out, TD_NOTE_API_REACHABLE, TD_SEV_FAILURE) == 0);

  size_t lw = count(out, TD_NOTE_RATE_LIMITED, TD_SEV_WARNING);
  size_t lo = count(out, TD_NOTE_RATE_LIMITED, TD_SEV_OKAY);
  CHECK(lw == (!prev->rate_limited && st->rate_limited));
  CHECK(lo == (prev->rate_limited && !st->rate_limited));
  CHECK(count(out, TD_NOTE_RATE_LIMITED, TD_SEV_FAILURE) == 0);

  size_t e = check_deadline_notes(prev->expiry, st->expiry,
                                  TD_NOTE_TOKEN_EXPIRY, out);
  size_t t = check_deadline_notes(prev->tls_expiry, st->tls_expiry,
                                  TD_NOTE_TLS_EXPIRY, out);
  /* Nothing else: every note is one of the above. */
  CHECK(out->n_notes == tf + to + tw + rw + ro + lw + lo + e + t);

  /* A log line exactly when the problem changed, and at the account's
   * first poll without a problem. */
  int changed = strcmp(prev->problem.last, st->problem.last) != 0;
  int first = !prev->answered && st->answered;
  CHECK((out->log[0] != '\0') == (changed || first));
  CHECK((out->news == TD_LOG_FIRST) == (first && !changed));
}

/* What a poll says about the values, whatever the history. */
static void check_values(const td_poll_t *p, const td_state_t *prev,
                         const td_state_t *st, const td_step_t *out) {
  int err = p->error != NULL && p->error[0] != '\0';
  CHECK(out->response_code == (p->http_status > 0 ? p->http_status : 0));
  CHECK(out->has_response_time == (p->http_status > 0));
  CHECK(out->api_reachable ==
        (!err && p->http_status > 0 && p->http_status < 500));
  if (out->email_verified >= 0)
    CHECK(out->token_valid == 1);
  CHECK(out->has_tls_timeleft == (p->cert_expires > 0));
  if (out->token_valid == 1)
    CHECK(!err && p->http_status == 200 && p->body == TD_JSON_OK &&
          p->info != NULL && p->info->id[0] != '\0');
  if (!err && (p->http_status == 401 || p->http_status == 403))
    CHECK(out->token_valid == 0);
  if (out->api_reachable)
    CHECK(st->failures == 0 && st->reach == TD_LEVEL_OK);
  else
    CHECK(st->failures == (prev->failures == UINT_MAX ? UINT_MAX
                                                      : prev->failures + 1));
}

/* ---- tracing (FUZZ_TRACE=1 in the environment, for reading a seed) ---- */

static int tracing(void) {
  static int t = -1;
  if (t < 0)
    t = getenv("FUZZ_TRACE") != NULL;
  return t;
}

static void trace(const char *what, double now, const td_poll_t *p,
                  const td_state_t *st, const td_step_t *out) {
  if (!tracing())
    return;
  fprintf(stderr, "%s now=%.0f", what, now);
  if (p != NULL)
    fprintf(stderr, " status=%d body=%d retry=%g error=%s", p->http_status,
            (int)p->body, p->retry_after, p->error ? "yes" : "no");
  fprintf(stderr, " -> reach=%d token=%d ev=%d hold=%.0f failures=%u\n",
          out->api_reachable, out->token_valid, out->email_verified, out->hold,
          st->failures);
  for (size_t i = 0; i < out->n_notes; i++)
    fprintf(stderr, "  note %s-%s sev=%d: %s\n",
            td_words_note_type(out->notes[i].kind),
            td_words_note_type_instance(out->notes[i].kind),
            (int)out->notes[i].severity, out->notes[i].message);
  if (out->log[0] != '\0')
    fprintf(stderr, "  log: %s\n", out->log);
}

/* ---- the target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fill_pad();
  reader_t r = {data, size};

  /* Policy. */
  char account[128], expect[256], expires_text[64];
  uint8_t flags = u8(&r);
  uint8_t ua = u8(&r);
  td_policy_t pol = {
      .account = account,
      .unreachable_after = ua % 7 == 6 ? UINT_MAX : ua % 7,
  };
  if (flags & 4) {
    pol.warning_days = raw_double(&r);
    pol.failure_days = raw_double(&r);
    pol.tls_warning_days = raw_double(&r);
    pol.tls_failure_days = raw_double(&r);
  } else {
    pol.warning_days = u8(&r) % 61;
    pol.failure_days = u8(&r) % 61;
    pol.tls_warning_days = u8(&r) % 61;
    pol.tls_failure_days = u8(&r) % 61;
  }
  config_text(&r, account, sizeof(account) - 1);
  if (account[0] == '\0')
    strcpy(account, "main");
  config_text(&r, expect, sizeof(expect) - 1);
  pol.expect_user = (flags & 2) ? expect : NULL;

  /* The clock: any time collectd's cdtime could give (2^32 s of epoch
   * here), then signed steps, never before 1970. */
  double now = (double)u32(&r) + u8(&r) / 256.0;
  int32_t expires_offset = (int32_t)u32(&r);
  text(&r, expires_text, sizeof(expires_text) - 1);
  double parsed = 0;
  int rc = td_time_parse_utc(expires_text, &parsed);
  CHECK(rc == 0 || rc == -1);
  if (rc == 0)
    CHECK(isfinite(parsed));
  if (flags & 1) {
    pol.has_expiry = 1;
    /* Either the operator's date, or one near the clock where levels
     * change during the sequence. */
    pol.expires = (rc == 0 && (flags & 8)) ? parsed : now + expires_offset;
  }

  td_answer_t *a = td_answer_new(TD_ANSWER_USER);
  if (a == NULL)
    return 0;
  /* telemetrydeck-check --shape records every answer's shape as well. */
  if ((flags & 16) && td_answer_keep_shape(a) != 0) {
    td_answer_free(a);
    return 0;
  }
  td_state_t st;
  double hold_until = 0; /* as td_sched holds it */
  td_state_init(&st);
  check_state(&st);
  double cert_expires = 0; /* kept across polls, as td_http keeps it */

  size_t polls = 1 + u8(&r) % MAX_POLLS;
  for (size_t i = 0; i < polls; i++) {
    uint8_t op = u8(&r);
    uint8_t step_kind = u8(&r);
    static const double scale[] = {1, 60, 3600, 86400};
    now += (int16_t)u16(&r) * scale[step_kind & 3];
    if (now < 0) /* cdtime is unsigned: a clock set back stops at 1970 */
      now = 0;

    /* The transfer as td_http hands it over: header lines, body chunks,
     * how it ended. */
    CHECK(td_answer_begin(a) == TD_JSON_OK);
    td_answer_end_t end = {.how = TD_END_OK, .http_status = read_status(&r)};
    char header[128], error[TD_VERDICT_MAX_ERROR * 2 + 2];
    int stopped = 0;
    CHECK(td_answer_header(a, "HTTP/1.1 200 OK\r\n", 17, now) == 0);
    if (op & 4) {
      size_t hlen = text(&r, header, sizeof(header) - 1);
      double wait = -1;
      rc = td_time_parse_retry_after(header, now, &wait);
      CHECK(rc == 0 || rc == -1);
      if (rc == 0)
        CHECK(isfinite(wait) && wait >= 0);
      char line[160];
      int n = snprintf(line, sizeof(line), "Retry-After: %.*s\r\n",
                       (int)hlen, header);
      CHECK(td_answer_header(a, line, (size_t)n, now) == 0);
    }
    if (op & 8) { /* an announced length, sometimes past the bound */
      char line[64];
      int n = snprintf(line, sizeof(line), "Content-Length: %u\r\n",
                       u32(&r) % (2u * TD_JSON_MAX_BODY));
      stopped = td_answer_header(a, line, (size_t)n, now) != 0;
    }
    int text_whole = whole_utf8(account) && whole_utf8(expect);
    if (op & 16) {
      text(&r, error, sizeof(error) - 1);
      end.how = TD_END_FAILED;
      end.error = error;
      text_whole = text_whole && whole_utf8(error);
    } else if (op & 32) {
      end.how = TD_END_FAILED;
      end.error = "";
    }
    double total = (op & 64) ? raw_double(&r) : u16(&r) / 1000.0;
    read_cert(&r, now, &cert_expires);
    end.cert_expires = cert_expires;
    read_marks(&r, end.marks);
    if (!(step_kind & 32))
      end.marks[TD_MARK_TOTAL] = total;

    size_t blen = u16(&r);
    uint32_t seed = (uint32_t)u16(&r) << 8 | 1;
    if (blen > r.n)
      blen = r.n;
    if (!stopped)
      stopped = feed_body(a, r.p, blen, &seed);
    r.p += blen;
    r.n -= blen;
    if (!stopped && (step_kind & 4))
      stopped = feed_body(a, (const uint8_t *)pad, sizeof(pad), &seed);
    if (stopped && end.how == TD_END_OK)
      end.how = TD_END_STOPPED;
    td_poll_t p;
    td_answer_finish(a, &end, &p);
    check_phases(end.marks, p.phases);
    if (stopped)
      CHECK(p.body == TD_JSON_E_SIZE && (p.error == NULL || p.error[0] == '\0'));
    if (end.how == TD_END_FAILED && !stopped)
      CHECK(p.error != NULL && p.error[0] != '\0');
    CHECK(p.info != NULL && p.orgs == NULL);
    CHECK((p.shape != NULL) == ((flags & 16) != 0));
    if (p.shape != NULL) {
      CHECK(p.shape->count <= TD_SHAPE_MAX_PATHS &&
            p.shape->n_headers <= TD_SHAPE_MAX_HEADERS);
      for (size_t k = 0; k < p.shape->count; k++) {
        char line[TD_SHAPE_MAX_LINE + 1];
        CHECK(strlen(p.shape->paths[k].path) <= TD_SHAPE_MAX_PATH);
        td_shape_line(&p.shape->paths[k], line, sizeof(line));
        CHECK(whole_utf8(line));
      }
    }

    /* What the plugin does at this poll time. */
    td_state_t prev = st;
    td_step_t out;
    memset(&out, 0xA5, sizeof(out)); /* no field may be left unset */
    int may = now >= hold_until;
    int tick = (op & 3) == 3 || ((op & 3) < 2 && !may);
    if (tick) {
      td_state_tick(&st, &pol, now, &out);
      td_words_step(&pol, &out);
      trace("tick", now, NULL, &st, &out);
      check_state(&st);
      check_step(&out, whole_utf8(account));
      check_tick(&prev, &st, &out);
    } else {
      td_state_step(&st, &pol, &p, now, &out);
      td_words_step(&pol, &out);
      trace("step", now, &p, &st, &out);
      check_state(&st);
      check_step(&out, text_whole);
      check_transitions(&prev, &st, &out,
                        pol.expect_user != NULL && pol.expect_user[0] != '\0');
      check_values(&p, &prev, &st, &out);
      int err = p.error != NULL && p.error[0] != '\0';
      double wait = p.retry_after > TD_STATE_MAX_WAIT ? TD_STATE_MAX_WAIT
                                                      : p.retry_after;
      if (p.http_status == 429 && !err && wait > 0)
        CHECK(out.hold == wait);
      CHECK(out.hold >= 0 && out.hold <= TD_STATE_MAX_WAIT);
      if (out.hold > 0)
        hold_until = now + out.hold;
    }

    /* td_text_clean on its own, any size and max. */
    if (p.error != NULL) {
      char dst[TD_VERDICT_MAX_ERROR + 1];
      size_t dsize = 1 + step_kind % sizeof(dst);
      size_t max = (size_t)(op >> 4) * 9;
      memset(dst, 'Z', sizeof(dst));
      td_text_clean(dst, dsize, p.error, max);
      CHECK(has_nul_within(dst, dsize));
      size_t dlen = strlen(dst);
      CHECK(dlen <= max && dlen <= strlen(p.error) && no_control(dst) &&
            no_unicode_control(dst));
      if (whole_utf8(p.error))
        CHECK(whole_utf8(dst));
      for (size_t k = dsize; k < sizeof(dst); k++)
        CHECK(dst[k] == 'Z');
    }
  }
  td_answer_free(a);
  return 0;
}
