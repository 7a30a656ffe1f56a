/* td_state: the per-account poll state machine. See td_state.h. */
#include "td_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SECONDS_PER_DAY 86400.0

void td_state_init(td_state_t *st) {
  memset(st, 0, sizeof(*st));
  st->token = TD_LEVEL_UNKNOWN;
  st->reach = TD_LEVEL_UNKNOWN;
  st->expiry = TD_LEVEL_UNKNOWN;
}

int td_state_may_poll(const td_state_t *st, double now) {
  /* A wait longer than any Retry-After honoured means the clock went back:
   * do not stay silent for that long. */
  return now >= st->not_before || st->not_before - now > TD_STATE_MAX_WAIT;
}

static const struct {
  const char *type;
  const char *type_instance;
} note_names[] = {
    [TD_NOTE_TOKEN_VALID] = {"bool", "token_valid"},
    [TD_NOTE_API_REACHABLE] = {"bool", "api_reachable"},
    [TD_NOTE_TOKEN_EXPIRY] = {"timeleft", "token"},
    [TD_NOTE_RATE_LIMITED] = {"bool", "rate_limited"},
    [TD_NOTE_TLS_EXPIRY] = {"timeleft", "tls_certificate"},
    [TD_NOTE_ORG_USAGE] = {"gauge", "usage_percent"},
    [TD_NOTE_ORG_RESTRICTED] = {"bool", "restricted_mode"},
};

#define NOTE_KINDS (sizeof(note_names) / sizeof(note_names[0]))

const char *td_note_type(td_note_kind_t kind) {
  return (size_t)kind < NOTE_KINDS ? note_names[kind].type : "bool";
}

const char *td_note_type_instance(td_note_kind_t kind) {
  return (size_t)kind < NOTE_KINDS ? note_names[kind].type_instance : "";
}

void td_state_sanitize(char *dst, size_t size, const char *text, size_t max) {
  if (size == 0)
    return;
  if (max > size - 1)
    max = size - 1;
  size_t n = 0;
  for (; text != NULL && text[n] != '\0' && n < max; n++) {
    unsigned char c = (unsigned char)text[n];
    dst[n] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  /* When cut, do not leave half a UTF-8 character behind. */
  if (text != NULL && text[n] != '\0')
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
      n--;
  dst[n] = '\0';
}

/* Ends s (len bytes) before a last UTF-8 character that lacks bytes. */
static void cut_partial_utf8(char *s, size_t len) {
  size_t i = len;
  while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
    i--;
  if (i == 0)
    return;
  unsigned char lead = (unsigned char)s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (len - (i - 1) < need)
    s[i - 1] = '\0';
}

/* snprintf into a fixed buffer. A message may be cut, but never in the
 * middle of a UTF-8 character. */
static void format(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void format(char *dst, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(dst, size, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n >= size && size > 1)
    cut_partial_utf8(dst, size - 1);
}

static td_note_t *add_note(td_step_t *out, td_note_kind_t kind,
                           td_severity_t sev) {
  if (out->n_notes >= TD_STATE_MAX_NOTES)
    return NULL;
  td_note_t *n = &out->notes[out->n_notes++];
  n->kind = kind;
  n->severity = sev;
  n->instance[0] = '\0';
  n->message[0] = '\0';
  return n;
}

static int has_error(const td_poll_t *p) {
  return p->error != NULL && p->error[0] != '\0';
}

static int is_reachable(const td_poll_t *p) {
  return !has_error(p) && p->http_status > 0 && p->http_status < 500;
}

static int body_usable(const td_poll_t *p) {
  return p->body == TD_EXTRACT_OK && p->info != NULL;
}

/* 1 when the answer names an account id (HTTP 200, complete body). */
static int names_account(const td_poll_t *p) {
  return !has_error(p) && p->http_status == 200 && body_usable(p) &&
         p->info->id[0] != '\0';
}

/* 1 when the account behind the token is the one ExpectUser names (an id,
 * or an e-mail address compared without case), or nothing is expected. */
static int is_expected_user(const td_policy_t *pol, const td_poll_t *p) {
  const char *want = pol->expect_user;
  return want == NULL || want[0] == '\0' || strcmp(want, p->info->id) == 0 ||
         (p->info->email[0] != '\0' && strcasecmp(want, p->info->email) == 0);
}

/* 1 accepted, 0 rejected (or another user's), -1 this poll cannot tell. */
static int token_verdict(const td_policy_t *pol, const td_poll_t *p) {
  if (has_error(p))
    return -1;
  if (p->http_status == 401 || p->http_status == 403)
    return 0;
  if (names_account(p))
    return is_expected_user(pol, p) ? 1 : 0;
  return -1;
}

/* The API's own reason, cleaned, as " (reason)", or "" when it gave none. */
static void reason_suffix(const td_poll_t *p, char *dst, size_t size) {
  char clean[TD_STATE_MAX_REASON + 1];
  dst[0] = '\0';
  if (!body_usable(p) || p->info->reason[0] == '\0')
    return;
  td_state_sanitize(clean, sizeof(clean), p->info->reason,
                    TD_STATE_MAX_REASON);
  format(dst, size, " (%s)", clean);
}

/* One line saying what went wrong with this poll, "" when nothing did. */
static void describe_problem(const td_policy_t *pol, const td_poll_t *p,
                             char *dst, size_t size) {
  char reason[TD_STATE_MAX_REASON + 8];
  char err[TD_STATE_MAX_ERROR + 1];
  int code = p->http_status;
  reason_suffix(p, reason, sizeof(reason));
  td_state_sanitize(err, sizeof(err), p->error, TD_STATE_MAX_ERROR);
  if (has_error(p) && code > 0)
    format(dst, size, "the HTTP %d answer broke off: %s", code, err);
  else if (has_error(p))
    format(dst, size, "no answer from the API: %s", err);
  else if (code >= 500)
    format(dst, size, "the API answered HTTP %d", code);
  else if (code == 401 || code == 403)
    format(dst, size, "the API rejected the token with HTTP %d%s", code,
           reason);
  else if (code == 429)
    format(dst, size, "the API is rate limiting (HTTP 429)");
  else if (code == 200 && p->body != TD_EXTRACT_OK)
    format(dst, size, "the HTTP 200 answer is unusable: %s",
           td_extract_strerror(p->body));
  else if (code == 200 && (p->info == NULL || p->info->id[0] == '\0'))
    format(dst, size, "the HTTP 200 answer carries no account id");
  else if (code == 200 && !is_expected_user(pol, p))
    format(dst, size, "the token belongs to another user than ExpectUser");
  else if (code != 200)
    format(dst, size, "unexpected HTTP %d from the API%s%s", code,
           (code >= 300 && code < 400) ? " (redirects are not followed)" : "",
           reason);
  else
    dst[0] = '\0';
}

/* The last error, as short as a notification can carry it. */
static void last_error(const td_poll_t *p, char *dst, size_t size) {
  if (has_error(p))
    td_state_sanitize(dst, size, p->error, TD_STATE_MAX_ERROR);
  else
    format(dst, size, "HTTP %d", p->http_status);
}

/* Without ExpectUser, a token that starts to belong to another user than
 * at the last poll is worth a WARNING: someone swapped or pasted it. With
 * ExpectUser, step_token's FAILURE and OKAY already say it all. */
static void step_user_change(td_state_t *st, const td_policy_t *pol,
                             const td_poll_t *p, td_step_t *out) {
  if (!names_account(p))
    return;
  td_note_t *n;
  int expecting = pol->expect_user != NULL && pol->expect_user[0] != '\0';
  if (!expecting && st->last_id[0] != '\0' &&
      strcmp(st->last_id, p->info->id) != 0 &&
      (n = add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_WARNING)) != NULL)
    format(n->message, sizeof(n->message),
           "Account \"%s\": the token now belongs to another TelemetryDeck "
           "user than at the previous poll.",
           pol->account);
  memcpy(st->last_id, p->info->id, sizeof(st->last_id));
}

static void step_token(td_state_t *st, const td_policy_t *pol,
                       const td_poll_t *p, td_step_t *out) {
  char reason[TD_STATE_MAX_REASON + 8];
  td_note_t *n;
  if (out->token_valid == 0 && st->token != TD_LEVEL_FAILURE) {
    st->token = TD_LEVEL_FAILURE;
    reason_suffix(p, reason, sizeof(reason));
    n = add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_FAILURE);
    if (n != NULL && names_account(p))
      format(n->message, sizeof(n->message),
             "Account \"%s\": the token works but belongs to another "
             "TelemetryDeck user than ExpectUser \"%s\".",
             pol->account, pol->expect_user);
    else if (n != NULL)
      format(n->message, sizeof(n->message),
             "Account \"%s\": TelemetryDeck rejected the token with HTTP "
             "%d%s: it was revoked or has expired.",
             pol->account, p->http_status, reason);
  } else if (out->token_valid == 1) {
    if (st->token == TD_LEVEL_FAILURE &&
        (n = add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_OKAY)) != NULL)
      format(n->message, sizeof(n->message),
             "Account \"%s\": TelemetryDeck accepts the token again.",
             pol->account);
    st->token = TD_LEVEL_OK;
  }
  step_user_change(st, pol, p, out);
}

static void step_reach(td_state_t *st, const td_policy_t *pol,
                       const td_poll_t *p, td_step_t *out) {
  char err[TD_STATE_MAX_ERROR + 1];
  unsigned after = pol->unreachable_after > 0 ? pol->unreachable_after : 1;
  td_note_t *n;
  if (out->api_reachable) {
    if (st->reach == TD_LEVEL_WARNING &&
        (n = add_note(out, TD_NOTE_API_REACHABLE, TD_SEV_OKAY)) != NULL)
      format(n->message, sizeof(n->message),
             "Account \"%s\": the TelemetryDeck API answers again "
             "(HTTP %d) after %u failed poll%s.",
             pol->account, p->http_status, st->failures,
             st->failures == 1 ? "" : "s");
    st->reach = TD_LEVEL_OK;
    st->failures = 0;
    return;
  }
  if (st->failures < UINT_MAX)
    st->failures++;
  if (st->failures >= after && st->reach != TD_LEVEL_WARNING) {
    st->reach = TD_LEVEL_WARNING;
    last_error(p, err, sizeof(err));
    if ((n = add_note(out, TD_NOTE_API_REACHABLE, TD_SEV_WARNING)) != NULL)
      format(n->message, sizeof(n->message),
             "Account \"%s\": the TelemetryDeck API is unreachable after %u "
             "failed poll%s; last error: %s.",
             pol->account, st->failures, st->failures == 1 ? "" : "s", err);
  }
}

static void step_rate_limit(td_state_t *st, const td_policy_t *pol,
                            const td_poll_t *p, double now, td_step_t *out) {
  td_note_t *n;
  if (p->http_status != 429 || has_error(p)) {
    if (st->rate_limited &&
        (n = add_note(out, TD_NOTE_RATE_LIMITED, TD_SEV_OKAY)) != NULL)
      format(n->message, sizeof(n->message),
             "Account \"%s\": polling resumed after the rate limit.",
             pol->account);
    st->rate_limited = 0;
    return;
  }
  double wait = p->retry_after;
  if (wait > TD_STATE_MAX_WAIT)
    wait = TD_STATE_MAX_WAIT;
  if (wait > 0)
    st->not_before = now + wait;
  if (!st->rate_limited &&
      (n = add_note(out, TD_NOTE_RATE_LIMITED, TD_SEV_WARNING)) != NULL) {
    if (wait > 0)
      format(n->message, sizeof(n->message),
             "Account \"%s\": the TelemetryDeck API is rate limiting (HTTP "
             "429); waiting %.0f s before the next poll.",
             pol->account, wait);
    else
      format(n->message, sizeof(n->message),
             "Account \"%s\": the TelemetryDeck API is rate limiting (HTTP "
             "429); polling again at the next interval.",
             pol->account);
  }
  st->rate_limited = 1;
}

/* Moves a deadline's level for the days left. Returns the note to word
 * when the level got worse (or back to OK), else NULL. */
static td_note_t *deadline_step(td_level_t *level, double left, double warn,
                                double fail, td_note_kind_t kind,
                                td_step_t *out) {
  td_level_t now = left <= fail   ? TD_LEVEL_FAILURE
                   : left <= warn ? TD_LEVEL_WARNING
                                  : TD_LEVEL_OK;
  td_note_t *n = NULL;
  if (now > *level && now != TD_LEVEL_OK)
    n = add_note(out, kind,
                 now == TD_LEVEL_FAILURE ? TD_SEV_FAILURE : TD_SEV_WARNING);
  else if (now == TD_LEVEL_OK && *level > TD_LEVEL_OK)
    n = add_note(out, kind, TD_SEV_OKAY);
  *level = now;
  return n;
}

/* Dates beyond year 9999 (or NaN) cannot be a certificate's or a token's:
 * say so rather than convert them (converting 1e300 to time_t is
 * undefined). */
#define UTC_DATE_LIMIT 253402300800.0 /* 10000-01-01T00:00:00Z */

static void utc_date(double epoch, char *dst, size_t size) {
  struct tm tm;
  time_t t = (epoch > -UTC_DATE_LIMIT && epoch < UTC_DATE_LIMIT)
                 ? (time_t)epoch
                 : 0;
  if (t == 0 || gmtime_r(&t, &tm) == NULL ||
      strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    format(dst, size, "an unknown date");
}

static void expiry_message(const td_policy_t *pol, double days_left,
                           char *dst, size_t size) {
  char date[32];
  utc_date(pol->expires, date, sizeof(date));
  if (days_left <= 0)
    format(dst, size,
           "Account \"%s\": the token expired on %s; create a new one in the "
           "TelemetryDeck dashboard.",
           pol->account, date);
  else
    format(dst, size,
           "Account \"%s\": the token expires in %.1f days (%s); create a "
           "new one in the TelemetryDeck dashboard.",
           pol->account, days_left, date);
}

/* Everything a step reports before anything is known. */
static void step_clear(td_step_t *out) {
  memset(out, 0, sizeof(*out));
  out->token_valid = -1;
  out->email_verified = -1;
}

static void expiry_step(td_state_t *st, const td_policy_t *pol, double now,
                        td_step_t *out) {
  if (!pol->has_expiry)
    return;
  double left = (pol->expires - now) / SECONDS_PER_DAY;
  if (left < 0)
    left = 0;
  out->has_timeleft = 1;
  out->timeleft_days = left;
  td_note_t *n = deadline_step(&st->expiry, left, pol->warning_days,
                               pol->failure_days, TD_NOTE_TOKEN_EXPIRY, out);
  if (n != NULL && n->severity == TD_SEV_OKAY)
    format(n->message, sizeof(n->message),
           "Account \"%s\": the token is no longer close to its expiry.",
           pol->account);
  else if (n != NULL)
    expiry_message(pol, left, n->message, sizeof(n->message));
}

/* The API's certificate: known only from polls that saw a handshake (and
 * remembered by the HTTP layer on a reused connection). */
static void tls_step(td_state_t *st, const td_policy_t *pol,
                     const td_poll_t *p, double now, td_step_t *out) {
  if (!(p->cert_expires > 0))
    return;
  double left = (p->cert_expires - now) / SECONDS_PER_DAY;
  if (left < 0)
    left = 0;
  out->has_tls_timeleft = 1;
  out->tls_timeleft_days = left;
  td_note_t *n =
      deadline_step(&st->tls_expiry, left, pol->tls_warning_days,
                    pol->tls_failure_days, TD_NOTE_TLS_EXPIRY, out);
  char date[32];
  utc_date(p->cert_expires, date, sizeof(date));
  if (n != NULL && n->severity == TD_SEV_OKAY)
    format(n->message, sizeof(n->message),
           "Account \"%s\": the API's TLS certificate is no longer close to "
           "its expiry (%s).",
           pol->account, date);
  else if (n != NULL && left <= 0)
    format(n->message, sizeof(n->message),
           "Account \"%s\": the API's TLS certificate expired on %s.",
           pol->account, date);
  else if (n != NULL)
    format(n->message, sizeof(n->message),
           "Account \"%s\": the API's TLS certificate expires in %.1f days "
           "(%s).",
           pol->account, left, date);
}

void td_phases_split(const double marks[TD_MARKS], double phases[TD_PHASES]) {
  /* A reused connection has no connect mark: nothing before the request
   * happened, whatever tiny lookup time libcurl still reports. */
  int fresh = marks[TD_MARK_CONNECT] > 0;
  double connected = fresh ? marks[TD_MARK_CONNECT] : 0;
  double secured =
      fresh && marks[TD_MARK_APPCONNECT] > 0 ? marks[TD_MARK_APPCONNECT]
                                             : connected;
  double sent = marks[TD_MARK_PRETRANSFER] > secured
                    ? marks[TD_MARK_PRETRANSFER]
                    : secured;
  double first = marks[TD_MARK_STARTTRANSFER] > sent
                     ? marks[TD_MARK_STARTTRANSFER]
                     : sent;
  double spans[TD_PHASES] = {
      [TD_PHASE_DNS] = fresh ? marks[TD_MARK_NAMELOOKUP] : 0,
      [TD_PHASE_CONNECT] = connected - (fresh ? marks[TD_MARK_NAMELOOKUP] : 0),
      [TD_PHASE_TLS] = secured - connected,
      [TD_PHASE_TTFB] = first - sent,
      [TD_PHASE_TRANSFER] = marks[TD_MARK_TOTAL] - first,
  };
  for (int i = 0; i < TD_PHASES; i++)
    phases[i] = spans[i] > 0 ? spans[i] : 0;
}

void td_state_tick(td_state_t *st, const td_policy_t *pol, double now,
                   td_step_t *out) {
  step_clear(out);
  expiry_step(st, pol, now, out);
}

/* Sets out->log when the poll's problem differs from the last poll's. */
static void step_log(td_state_t *st, const td_policy_t *pol,
                     const td_poll_t *p, td_step_t *out) {
  char problem[TD_STATE_MAX_LOG + 1];
  describe_problem(pol, p, problem, sizeof(problem));
  if (strcmp(problem, st->last_problem) == 0)
    return;
  if (problem[0] != '\0') {
    out->log_is_problem = 1;
    format(out->log, sizeof(out->log), "account \"%s\": %s", pol->account,
           problem);
  } else {
    out->log_is_problem = 0;
    format(out->log, sizeof(out->log),
           "account \"%s\": polls succeed again (HTTP %d)", pol->account,
           p->http_status);
  }
  memcpy(st->last_problem, problem, sizeof(problem));
}

void td_state_step(td_state_t *st, const td_policy_t *pol,
                   const td_poll_t *p, double now, td_step_t *out) {
  step_clear(out);
  out->api_reachable = is_reachable(p);
  out->response_code = p->http_status > 0 ? p->http_status : 0;
  out->has_response_time = p->http_status > 0;
  out->response_time = p->response_time;
  out->token_valid = token_verdict(pol, p);
  out->email_verified = out->token_valid == 1 ? p->info->email_verified : -1;
  step_token(st, pol, p, out);
  step_reach(st, pol, p, out);
  step_rate_limit(st, pol, p, now, out);
  expiry_step(st, pol, now, out);
  tls_step(st, pol, p, now, out);
  step_log(st, pol, p, out);
}

/* ---- organizations ---- */

static const td_org_state_t *org_find(const td_orgs_state_t *st,
                                      const char *ident) {
  for (size_t i = 0; i < st->count; i++)
    if (strcmp(st->orgs[i].ident, ident) == 0)
      return &st->orgs[i];
  return NULL;
}

static td_note_t *org_note(td_orgs_step_t *out, td_note_kind_t kind,
                           td_severity_t sev, const char *ident) {
  if (out->n_notes >= sizeof(out->notes) / sizeof(out->notes[0]))
    return NULL;
  td_note_t *n = &out->notes[out->n_notes++];
  n->kind = kind;
  n->severity = sev;
  format(n->instance, sizeof(n->instance), "%s", ident);
  n->message[0] = '\0';
  return n;
}

/* One organization: its values, and notes on a change of level. */
static void org_step(td_org_state_t *now, const td_org_state_t *before,
                     const td_policy_t *pol, const td_org_t *org,
                     td_orgs_step_t *out) {
  td_level_t usage_before = before ? before->usage : TD_LEVEL_UNKNOWN;
  td_level_t restricted_before =
      before ? before->restricted : TD_LEVEL_UNKNOWN;
  td_note_t *n;
  now->usage = usage_before;
  now->restricted = restricted_before;
  if (org->has_usage) {
    now->usage = org->usage_percent >= pol->usage_warning_percent
                     ? TD_LEVEL_WARNING
                     : TD_LEVEL_OK;
    if (now->usage == TD_LEVEL_WARNING && usage_before != TD_LEVEL_WARNING &&
        (n = org_note(out, TD_NOTE_ORG_USAGE, TD_SEV_WARNING, now->ident)))
      format(n->message, sizeof(n->message),
             "Account \"%s\": organization %s has used %.1f%% of its "
             "signals (UsageWarningPercent %g).",
             pol->account, now->ident, org->usage_percent,
             pol->usage_warning_percent);
    else if (now->usage == TD_LEVEL_OK && usage_before == TD_LEVEL_WARNING &&
             (n = org_note(out, TD_NOTE_ORG_USAGE, TD_SEV_OKAY, now->ident)))
      format(n->message, sizeof(n->message),
             "Account \"%s\": organization %s is back under %g%% of its "
             "signals (%.1f%%).",
             pol->account, now->ident, pol->usage_warning_percent,
             org->usage_percent);
  }
  if (org->restricted >= 0) {
    now->restricted = org->restricted ? TD_LEVEL_FAILURE : TD_LEVEL_OK;
    if (now->restricted == TD_LEVEL_FAILURE &&
        restricted_before != TD_LEVEL_FAILURE &&
        (n = org_note(out, TD_NOTE_ORG_RESTRICTED, TD_SEV_FAILURE,
                      now->ident)))
      format(n->message, sizeof(n->message),
             "Account \"%s\": organization %s is in restricted mode.",
             pol->account, now->ident);
    else if (now->restricted == TD_LEVEL_OK &&
             restricted_before == TD_LEVEL_FAILURE &&
             (n = org_note(out, TD_NOTE_ORG_RESTRICTED, TD_SEV_OKAY,
                           now->ident)))
      format(n->message, sizeof(n->message),
             "Account \"%s\": organization %s left restricted mode.",
             pol->account, now->ident);
  }
}

void td_state_orgs_step(td_orgs_state_t *st, const td_policy_t *pol,
                        const td_org_list_t *list, td_orgs_step_t *out) {
  td_orgs_state_t next = {0};
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < list->count && i < TD_ORGS_MAX; i++) {
    const td_org_t *org = &list->orgs[i];
    td_org_state_t *now = &next.orgs[next.count];
    td_orgs_identifier(org->name, now->ident, sizeof(now->ident));
    if (org_find(&next, now->ident) != NULL)
      continue; /* a second organization of the same identifier */
    org_step(now, org_find(st, now->ident), pol, org, out);
    next.count++;
    size_t k = out->count++;
    memcpy(out->orgs[k].ident, now->ident, sizeof(now->ident));
    out->orgs[k].has_usage = org->has_usage;
    out->orgs[k].usage_percent = org->usage_percent;
    out->orgs[k].restricted = org->restricted;
  }
  *st = next;
}
