/* td_words: verdicts into English. See td_words.h. */
#include "td_words.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *tls_reason(td_tls_reason_t r) {
  switch (r) {
  case TD_TLS_OTHER_NAME:
    return "the certificate is for another name";
  case TD_TLS_EXPIRED:
    return "the certificate has expired";
  case TD_TLS_NOT_YET_VALID:
    return "the certificate is not valid yet";
  case TD_TLS_SELF_SIGNED:
    return "the certificate is self-signed and not trusted";
  case TD_TLS_ISSUER:
    return "the certificate's issuer is not trusted";
  case TD_TLS_UNTRUSTED:
    break;
  }
  return "the certificate is not trusted";
}

/* A library's text as a fact: at most TD_XFER_WORDS_DETAIL bytes, cut
 * after a whole word, cleaned like any text from outside. */
#define TD_XFER_WORDS_DETAIL 96
static void detail(const char *text, char *dst, size_t size) {
  char cut[TD_XFER_WORDS_DETAIL + 1];
  size_t len = strnlen(text, sizeof(cut) - 1);
  if (text[len] != '\0') {
    size_t at = len;
    while (at > 0 && text[at] != ' ')
      at--;
    if (at > 0)
      len = at;
  }
  memcpy(cut, text, len);
  cut[len] = '\0';
  td_text_clean(dst, size, cut, len);
}

void td_words_xfer(const td_xfer_t *x, char *dst, size_t size) {
  char why[TD_XFER_WORDS_DETAIL * 3 + 1], sys[128];
  switch (x->kind) {
  case TD_XFER_OK:
    snprintf(dst, size, "%s", "");
    return;
  case TD_XFER_NO_HOST:
    snprintf(dst, size, "could not resolve the host");
    return;
  case TD_XFER_NO_PROXY_HOST:
    snprintf(dst, size, "could not resolve the proxy's host");
    return;
  case TD_XFER_NO_INTERFACE:
    snprintf(dst, size, "could not bind to the interface or local address");
    return;
  case TD_XFER_REFUSED:
    snprintf(dst, size, "connection refused");
    return;
  case TD_XFER_CONNECT_FAILED:
    if (x->os_errno == 0) {
      snprintf(dst, size, "could not connect");
      return;
    }
    /* strerror_r, not strerror: the plugin words on its own thread. */
    if (strerror_r(x->os_errno, sys, sizeof(sys)) != 0)
      snprintf(sys, sizeof(sys), "connect error %d", x->os_errno);
    snprintf(dst, size, "%s", sys);
    return;
  case TD_XFER_TIMEOUT:
    snprintf(dst, size, "timeout after %g s", x->timeout);
    return;
  case TD_XFER_TLS_VERIFY:
    snprintf(dst, size, "TLS verification failed: %s", tls_reason(x->tls));
    return;
  case TD_XFER_CA_UNREADABLE:
    snprintf(dst, size, "TLS verification failed: CACert cannot be read");
    return;
  case TD_XFER_TLS_HANDSHAKE:
    detail(x->detail, why, sizeof(why));
    snprintf(dst, size, "TLS handshake failed (%s)", why);
    return;
  case TD_XFER_HEADERS_TOO_LARGE:
    snprintf(dst, size, "the answer's headers are too large");
    return;
  case TD_XFER_RESET:
    snprintf(dst, size, "connection reset by the server");
    return;
  case TD_XFER_CLOSED_EARLY:
    snprintf(dst, size, "connection closed before the answer was complete");
    return;
  case TD_XFER_BROKEN:
    detail(x->detail, why, sizeof(why));
    snprintf(dst, size, "connection broken (%s)", why);
    return;
  case TD_XFER_SHORT:
    snprintf(dst, size, "the answer was shorter than announced");
    return;
  case TD_XFER_NOTHING:
    snprintf(dst, size, "the server closed the connection without answering");
    return;
  case TD_XFER_NOT_HTTP:
    snprintf(dst, size, "the answer is not valid HTTP");
    return;
  case TD_XFER_STOPPED:
    snprintf(dst, size, "the transfer was stopped");
    return;
  case TD_XFER_NOT_STARTED:
    snprintf(dst, size, "libcurl could not start the transfer");
    return;
  case TD_XFER_FILES_LIMIT:
    snprintf(dst, size, "open-file limit (%lu) reached: raise LimitNOFILE",
             x->limit);
    return;
  case TD_XFER_SETUPS_FULL:
    snprintf(dst, size, "not started in time: more than %lu connection setups",
             x->limit);
    return;
  case TD_XFER_HTTP2:
  case TD_XFER_OTHER:
    break;
  }
  detail(x->detail, why, sizeof(why));
  snprintf(dst, size, "%s", why);
}

const char *td_words_conf(td_conf_status_t s) {
  static const char *const words[] = {
      [TD_CONF_OK] = "no error",
      [TD_CONF_E_NOMEM] = "out of memory",
      [TD_CONF_E_SIZE] = "the file is larger than 1 MiB",
      [TD_CONF_E_NUL] = "a NUL byte",
      [TD_CONF_E_CHAR] = "a character that starts no key, value or bracket",
      [TD_CONF_E_WORD] = "a value that is neither a quoted string, a "
                         "number, a boolean nor a bare word of letters, "
                         "digits and _ (quote it)",
      [TD_CONF_E_LONG] = "a key or value longer than 4096 bytes",
      [TD_CONF_E_QUOTE] = "a quoted string does not end",
      [TD_CONF_E_KEY] = "a line must start with an option name or <",
      [TD_CONF_E_NO_VALUE] = "an option without a value",
      [TD_CONF_E_VALUES] = "more than 64 values",
      [TD_CONF_E_BRACKET] = "a block line must be <Key values> or </Key> "
                            "alone on its line",
      [TD_CONF_E_CLOSE] = "</Key> does not close the open block",
      [TD_CONF_E_UNCLOSED] = "a block is not closed at the end of the file",
      [TD_CONF_E_DEPTH] = "blocks nested more than 32 deep",
      [TD_CONF_E_ITEMS] = "more than 65536 options and blocks",
      [TD_CONF_E_NEWLINE] = "the last line does not end with a newline",
      [TD_CONF_E_INCLUDE] = "Include needs exactly one string (and "
                            "<Include> holds only one Filter string)",
      [TD_CONF_E_INCLUDE_DEEP] = "Include nested more than 8 deep",
  };
  return (size_t)s < sizeof(words) / sizeof(words[0]) && words[s] != NULL
             ? words[s]
             : "unknown error";
}

const char *td_words_json(td_json_status_t s) {
  switch (s) {
  case TD_JSON_OK:
    return "no error";
  case TD_JSON_E_SYNTAX:
    return "the body is not valid JSON";
  case TD_JSON_E_TRUNCATED:
    return "the body ended in the middle of its JSON";
  case TD_JSON_E_EMPTY:
    return "the body is empty";
  case TD_JSON_E_DEPTH:
    return "the JSON is nested too deeply";
  case TD_JSON_E_SIZE:
    return "the body is larger than the plugin accepts";
  case TD_JSON_E_NOMEM:
    return "out of memory while parsing";
  }
  return "unknown error";
}

static const struct {
  const char *type;
  const char *type_instance;
} note_names[TD_NOTE_KINDS] = {
    [TD_NOTE_TOKEN_VALID] = {"bool", "token_valid"},
    [TD_NOTE_API_REACHABLE] = {"bool", "api_reachable"},
    [TD_NOTE_TOKEN_EXPIRY] = {"timeleft", "token"},
    [TD_NOTE_RATE_LIMITED] = {"bool", "rate_limited"},
    [TD_NOTE_TLS_EXPIRY] = {"timeleft", "tls_certificate"},
    [TD_NOTE_ORG_USAGE] = {"gauge", "usage_percent"},
    [TD_NOTE_ORG_RESTRICTED] = {"bool", "restricted_mode"},
    [TD_NOTE_TOKEN_READABLE] = {"bool", "token_readable"},
    [TD_NOTE_POLLING] = {"bool", "polling"},
};

const char *td_words_note_type(td_note_kind_t kind) {
  return (size_t)kind < TD_NOTE_KINDS ? note_names[kind].type : "bool";
}

const char *td_words_note_type_instance(td_note_kind_t kind) {
  return (size_t)kind < TD_NOTE_KINDS ? note_names[kind].type_instance : "";
}

/* Dates beyond year 9999 (or NaN) cannot be a certificate's or a token's:
 * say so rather than convert them (converting 1e300 to time_t is
 * undefined). */
#define UTC_DATE_LIMIT 253402300800.0 /* 10000-01-01T00:00:00Z */

void td_words_date(double epoch, char *dst, size_t size) {
  struct tm tm;
  int in_range = epoch > -UTC_DATE_LIMIT && epoch < UTC_DATE_LIMIT;
  time_t t = in_range ? (time_t)epoch : 0;
  /* The epoch itself (TokenExpires "1970-01-01") is a date like any
   * other. */
  if (!in_range || gmtime_r(&t, &tm) == NULL ||
      strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    td_text_format(dst, size, "an unknown date");
}

void td_words_token_expiry(int expired, double days, double when, char *dst,
                           size_t size) {
  char date[32];
  td_words_date(when, date, sizeof(date));
  if (expired)
    td_text_format(dst, size, "the token expired on %s", date);
  else
    td_text_format(dst, size, "the token expires in %.1f days (%s)", days,
                   date);
}

static const char *name_of(const td_policy_t *pol) {
  return pol->account != NULL ? pol->account : "";
}

/* The API's reason, cleaned and bounded, as " (reason)", or "". */
static void reason_suffix(const char *reason, char *dst, size_t size) {
  char clean[TD_VERDICT_MAX_REASON + 1];
  dst[0] = '\0';
  td_text_clean(clean, sizeof(clean), reason, TD_VERDICT_MAX_REASON);
  if (clean[0] != '\0')
    td_text_format(dst, size, " (%s)", clean);
}

static const char *plural(unsigned n) { return n == 1 ? "" : "s"; }

void td_words_rejection(const td_note_t *n, const char *option, char *dst,
                        size_t size) {
  char date[32];
  td_words_date(n->when, date, sizeof(date));
  if (n->cause == TD_CAUSE_EXPIRED)
    td_text_format(dst, size, "expired on %s", date);
  else if (n->cause == TD_CAUSE_REVOKED)
    td_text_format(dst, size, "was revoked before %s (%s)", option, date);
  else if (n->cause == TD_CAUSE_UNKNOWN)
    td_text_format(dst, size, "was revoked or has expired");
  else /* a 402 or a 403: the problem's words say it all */
    dst[0] = '\0';
}

/* A 402 or a 403: the token is known, the plan or the permissions stand
 * in the way. Not worded as a revocation. */
static void word_refused(const td_policy_t *pol, const td_note_t *n,
                         const char *reason, char *dst, size_t size) {
  if (n->cause == TD_CAUSE_PAID_PLAN)
    td_text_format(dst, size,
                   "Account \"%s\": HTTP 402%s: TelemetryDeck requires a "
                   "paid plan for personal access tokens.",
                   name_of(pol), reason);
  else
    td_text_format(dst, size,
                   "Account \"%s\": HTTP 403%s: the token is valid but not "
                   "allowed this request (permissions or plan).",
                   name_of(pol), reason);
}

static void word_rejected(const td_policy_t *pol, const td_note_t *n,
                          char *dst, size_t size) {
  char reason[TD_VERDICT_MAX_REASON + 8], why[80];
  reason_suffix(n->text, reason, sizeof(reason));
  if (n->cause == TD_CAUSE_PAID_PLAN || n->cause == TD_CAUSE_FORBIDDEN) {
    word_refused(pol, n, reason, dst, size);
    return;
  }
  td_words_rejection(n, "TokenExpires", why, sizeof(why));
  td_text_format(dst, size,
                 "Account \"%s\": TelemetryDeck rejected the token with HTTP "
                 "%d%s: it %s%s",
                 name_of(pol), n->http_status, reason, why,
                 n->cause == TD_CAUSE_EXPIRED
                     ? "; create a new one in the TelemetryDeck dashboard."
                     : ".");
}

static void word_token(const td_policy_t *pol, const td_note_t *n, char *dst,
                       size_t size) {
  char who[TD_VERDICT_MAX_REASON + 1];
  const char *acc = name_of(pol);
  switch (n->event) {
  case TD_EV_TOKEN_REJECTED:
    word_rejected(pol, n, dst, size);
    break;
  case TD_EV_TOKEN_OTHER_USER:
    td_text_clean(who, sizeof(who), pol->expect_user, TD_VERDICT_MAX_REASON);
    td_text_format(dst, size,
                   "Account \"%s\": the token works but belongs to another "
                   "TelemetryDeck user than ExpectUser \"%s\".",
                   acc, who);
    break;
  case TD_EV_TOKEN_ACCEPTED:
    td_text_format(dst, size,
                   "Account \"%s\": TelemetryDeck accepts the token again.",
                   acc);
    break;
  default: /* TD_EV_TOKEN_NEW_USER */
    td_text_format(dst, size,
                   "Account \"%s\": the token now belongs to another "
                   "TelemetryDeck user than at the previous poll.",
                   acc);
  }
}

static void word_reach(const td_policy_t *pol, const td_note_t *n, char *dst,
                       size_t size) {
  char err[TD_VERDICT_MAX_ERROR + 1];
  const char *acc = name_of(pol);
  if (n->event == TD_EV_REACHABLE) {
    td_text_format(dst, size,
                   "Account \"%s\": the TelemetryDeck API answers again "
                   "(HTTP %d) after %u failed poll%s.",
                   acc, n->http_status, n->failures, plural(n->failures));
    return;
  }
  if (n->text[0] != '\0')
    td_text_clean(err, sizeof(err), n->text, TD_VERDICT_MAX_ERROR);
  else
    td_text_format(err, sizeof(err), "HTTP %d", n->http_status);
  td_text_format(dst, size,
                 "Account \"%s\": the TelemetryDeck API is unreachable after "
                 "%u failed poll%s; last error: %s.",
                 acc, n->failures, plural(n->failures), err);
}

static void word_rate(const td_policy_t *pol, const td_note_t *n, char *dst,
                      size_t size) {
  const char *acc = name_of(pol);
  if (n->event == TD_EV_RATE_LIMIT_OVER)
    td_text_format(dst, size,
                   "Account \"%s\": polling resumed after the rate limit.",
                   acc);
  else if (n->number > 0)
    td_text_format(dst, size,
                   "Account \"%s\": the TelemetryDeck API is rate limiting "
                   "(HTTP 429); waiting %.0f s before the next poll.",
                   acc, n->number);
  else
    td_text_format(dst, size,
                   "Account \"%s\": the TelemetryDeck API is rate limiting "
                   "(HTTP 429); polling again at the next interval.",
                   acc);
}

static void word_expiry(const td_policy_t *pol, const td_note_t *n,
                        char *dst, size_t size) {
  char date[32];
  const char *acc = name_of(pol);
  td_words_date(n->when, date, sizeof(date));
  switch (n->event) {
  case TD_EV_EXPIRY_FAR:
    td_text_format(dst, size,
                   "Account \"%s\": the token is no longer close to its "
                   "expiry.",
                   acc);
    break;
  case TD_EV_EXPIRED:
  case TD_EV_EXPIRY_NEAR: {
    char when[96];
    td_words_token_expiry(n->event == TD_EV_EXPIRED, n->number, n->when, when,
                          sizeof(when));
    td_text_format(dst, size,
                   "Account \"%s\": %s; create a new one in the "
                   "TelemetryDeck dashboard.",
                   acc, when);
    break;
  }
  case TD_EV_TLS_EXPIRY_FAR:
    td_text_format(dst, size,
                   "Account \"%s\": the API's TLS certificate is no longer "
                   "close to its expiry (%s).",
                   acc, date);
    break;
  case TD_EV_TLS_EXPIRED:
    td_text_format(dst, size,
                   "Account \"%s\": the API's TLS certificate expired on %s.",
                   acc, date);
    break;
  default: /* TD_EV_TLS_EXPIRY_NEAR */
    td_text_format(dst, size,
                   "Account \"%s\": the API's TLS certificate expires in "
                   "%.1f days (%s).",
                   acc, n->number, date);
  }
}

static void word_org(const td_policy_t *pol, const td_note_t *n, char *dst,
                     size_t size) {
  const char *acc = name_of(pol);
  switch (n->event) {
  case TD_EV_ORG_USAGE_HIGH:
    td_text_format(dst, size,
                   "Account \"%s\": organization %s has used %.1f%% of its "
                   "signals (UsageWarningPercent %g).",
                   acc, n->instance, n->number, n->limit);
    break;
  case TD_EV_ORG_USAGE_OK:
    td_text_format(dst, size,
                   "Account \"%s\": organization %s is back under %g%% of "
                   "its signals (%.1f%%).",
                   acc, n->instance, n->limit, n->number);
    break;
  case TD_EV_ORG_RESTRICTED:
    td_text_format(dst, size,
                   "Account \"%s\": organization %s is in restricted mode.",
                   acc, n->instance);
    break;
  default: /* TD_EV_ORG_UNRESTRICTED */
    td_text_format(dst, size,
                   "Account \"%s\": organization %s left restricted mode.",
                   acc, n->instance);
  }
}

/* The token could not be read, and so the account is not polled. */
static void word_readable(const td_policy_t *pol, const td_note_t *n, char *dst,
                          size_t size) {
  char why[TD_VERDICT_MAX_ERROR + 1];
  td_text_clean(why, sizeof(why), n->text, TD_VERDICT_MAX_ERROR);
  if (n->event == TD_EV_TOKEN_UNREADABLE)
    td_text_format(dst, size,
                   "Account \"%s\": the token cannot be read (%s); the "
                   "account is not polled until it can.",
                   name_of(pol), why);
  else
    td_text_format(dst, size,
                   "Account \"%s\": the token can be read again; polling "
                   "goes on.",
                   name_of(pol));
}

/* The plugin stopped polling the account, and why (libcurl's text). */
static void word_stopped(const td_policy_t *pol, const td_note_t *n, char *dst,
                         size_t size) {
  char why[TD_VERDICT_MAX_ERROR + 1];
  td_text_clean(why, sizeof(why), n->text, TD_VERDICT_MAX_ERROR);
  td_text_format(dst, size,
                 "Account \"%s\": the plugin stopped polling it: libcurl's "
                 "multi handle failed (%s); restart collectd to poll it again.",
                 name_of(pol), why);
}

static void word_note(const td_policy_t *pol, const td_note_t *n, char *dst,
                      size_t size) {
  switch (n->kind) {
  case TD_NOTE_POLLING:
    word_stopped(pol, n, dst, size);
    break;
  case TD_NOTE_TOKEN_READABLE:
    word_readable(pol, n, dst, size);
    break;
  case TD_NOTE_TOKEN_VALID:
    word_token(pol, n, dst, size);
    break;
  case TD_NOTE_API_REACHABLE:
    word_reach(pol, n, dst, size);
    break;
  case TD_NOTE_RATE_LIMITED:
    word_rate(pol, n, dst, size);
    break;
  case TD_NOTE_TOKEN_EXPIRY:
  case TD_NOTE_TLS_EXPIRY:
    word_expiry(pol, n, dst, size);
    break;
  default:
    word_org(pol, n, dst, size);
  }
}

/* A reminder is its note's message, its final period making way for when
 * the problem was first notified; the message is cut to leave room, so
 * the reminder always says it is one. */
#define TD_WORDS_REMINDER_ROOM 56 /* " (reminder: standing since DATE)." */
static void word_reminder(const td_policy_t *pol, const td_note_t *n, char *dst,
                          size_t size) {
  char base[TD_VERDICT_MAX_TEXT + 1], date[32];
  size_t room =
      size > TD_WORDS_REMINDER_ROOM ? size - TD_WORDS_REMINDER_ROOM : 1;
  if (room > sizeof(base))
    room = sizeof(base);
  word_note(pol, n, base, room);
  size_t len = strlen(base);
  if (len > 0 && base[len - 1] == '.')
    base[len - 1] = '\0';
  td_words_date(n->since, date, sizeof(date));
  td_text_format(dst, size, "%s (reminder: standing since %s).", base, date);
}

void td_words_note(const td_policy_t *pol, const td_note_t *n, char *dst,
                   size_t size) {
  if (n->reminder)
    word_reminder(pol, n, dst, size);
  else
    word_note(pol, n, dst, size);
}

void td_words_problem(const td_policy_t *pol, const td_problem_t *pr,
                      char *dst, size_t size) {
  char reason[TD_VERDICT_MAX_REASON + 8];
  char err[TD_VERDICT_MAX_ERROR + 1];
  int code = pr->http_status;
  (void)pol;
  reason_suffix(pr->text, reason, sizeof(reason));
  td_text_clean(err, sizeof(err), pr->text, TD_VERDICT_MAX_ERROR);
  switch (pr->kind) {
  case TD_PROBLEM_NONE:
    dst[0] = '\0';
    break;
  case TD_PROBLEM_BROKE_OFF:
    td_text_format(dst, size, "the HTTP %d answer broke off: %s", code, err);
    break;
  case TD_PROBLEM_NO_ANSWER:
    td_text_format(dst, size, "no answer from the API: %s", err);
    break;
  case TD_PROBLEM_SERVER_ERROR:
    td_text_format(dst, size, "the API answered HTTP %d", code);
    break;
  case TD_PROBLEM_REJECTED:
    td_text_format(dst, size, "the API rejected the token with HTTP %d%s",
                   code, reason);
    break;
  case TD_PROBLEM_PAID_PLAN:
    td_text_format(dst, size,
                   "HTTP 402%s: TelemetryDeck requires a paid plan for "
                   "personal access tokens",
                   reason);
    break;
  case TD_PROBLEM_FORBIDDEN:
    td_text_format(dst, size,
                   "HTTP 403%s: the token is valid but not allowed this "
                   "request (permissions or plan)",
                   reason);
    break;
  case TD_PROBLEM_RATE_LIMITED:
    td_text_format(dst, size, "the API is rate limiting (HTTP 429)");
    break;
  case TD_PROBLEM_UNUSABLE_BODY:
    td_text_format(dst, size, "the HTTP 200 answer is unusable: %s",
                   td_words_json(pr->body));
    break;
  case TD_PROBLEM_NO_ID:
    td_text_format(dst, size, "the HTTP 200 answer carries no account id");
    break;
  case TD_PROBLEM_OTHER_USER:
    td_text_format(dst, size,
                   "the token belongs to another user than ExpectUser");
    break;
  case TD_PROBLEM_UNEXPECTED:
    td_text_format(dst, size, "unexpected HTTP %d from the API%s%s", code,
                   (code >= 300 && code < 400)
                       ? " (redirects are not followed)"
                       : "",
                   reason);
    break;
  }
}

void td_words_step(const td_policy_t *pol, td_step_t *out) {
  char problem[TD_VERDICT_MAX_TEXT + 1];
  for (size_t i = 0; i < out->n_notes; i++)
    td_words_note(pol, &out->notes[i], out->notes[i].message,
                  sizeof(out->notes[i].message));
  out->log[0] = '\0';
  out->log_is_problem = out->news == TD_LOG_PROBLEM;
  if (out->news == TD_LOG_PROBLEM) {
    td_words_problem(pol, &out->problem, problem, sizeof(problem));
    td_text_format(out->log, sizeof(out->log), "account \"%s\": %s",
                   name_of(pol), problem);
  } else if (out->news == TD_LOG_RECOVERED || out->news == TD_LOG_FIRST) {
    char user[TD_EXTRACT_MAX_STRING + 1], whose[TD_EXTRACT_MAX_STRING + 40];
    td_text_clean(user, sizeof(user), out->user, TD_VERDICT_MAX_REASON);
    whose[0] = '\0';
    if (user[0] != '\0')
      td_text_format(whose, sizeof(whose), "; the token belongs to \"%s\"",
                     user);
    if (out->news == TD_LOG_FIRST)
      td_text_format(out->log, sizeof(out->log),
                     "account \"%s\": the first poll succeeds (HTTP %d)%s",
                     name_of(pol), out->response_code, whose);
    else
      td_text_format(out->log, sizeof(out->log),
                     "account \"%s\": polls succeed again (HTTP %d)%s",
                     name_of(pol), out->response_code, whose);
  }
}

void td_words_orgstate_step(const td_policy_t *pol, td_orgstate_step_t *out) {
  for (size_t i = 0; i < out->n_notes; i++)
    td_words_note(pol, &out->notes[i], out->notes[i].message,
                  sizeof(out->notes[i].message));
}

void td_words_orgs_problem(const td_policy_t *pol,
                           const td_orgstate_step_t *out, char *dst,
                           size_t size) {
  char err[TD_VERDICT_MAX_ERROR + 1];
  const td_problem_t *pr = &out->problem;
  td_text_clean(err, sizeof(err), pr->text, TD_VERDICT_MAX_ERROR);
  dst[0] = '\0';
  if (pr->kind == TD_PROBLEM_NO_ANSWER || pr->kind == TD_PROBLEM_BROKE_OFF)
    td_text_format(dst, size,
                   "account \"%s\": the organizations answer is unusable: no "
                   "answer: %s",
                   name_of(pol), err);
  else if (pr->kind == TD_PROBLEM_UNEXPECTED)
    td_text_format(dst, size,
                   "account \"%s\": the organizations answer is unusable: "
                   "HTTP %d",
                   name_of(pol), pr->http_status);
  else if (pr->kind != TD_PROBLEM_NONE)
    td_text_format(dst, size,
                   "account \"%s\": the organizations answer is unusable: %s",
                   name_of(pol), td_words_json(pr->body));
}

void td_words_orgs_left_out(const td_policy_t *pol,
                            const td_orgstate_step_t *out, char *dst,
                            size_t size) {
  dst[0] = '\0';
  if (out->dropped > 0 && out->duplicates > 0)
    td_text_format(dst, size,
                   "account \"%s\": only the first %d organizations are "
                   "reported; %zu more were left out, and %zu listed twice "
                   "were counted once.",
                   name_of(pol), TD_ORGS_MAX, out->dropped, out->duplicates);
  else if (out->dropped > 0)
    td_text_format(dst, size,
                   "account \"%s\": only the first %d organizations are "
                   "reported; %zu more were left out.",
                   name_of(pol), TD_ORGS_MAX, out->dropped);
  else if (out->duplicates > 0)
    td_text_format(dst, size,
                   "account \"%s\": %zu organizations listed twice were "
                   "counted once; all organizations are reported.",
                   name_of(pol), out->duplicates);
}

void td_words_orgs_scale(const td_policy_t *pol, const td_orgstate_step_t *out,
                         char *dst, size_t size) {
  dst[0] = '\0';
  if (out->scale.doubt == TD_SCALE_LOOKS_FRACTION)
    td_text_format(dst, size,
                   "account \"%s\": organization %s is in restricted mode "
                   "at only %.2f%% of its signals: usagePercentage looks "
                   "like a fraction, not a percent; check UsageScale "
                   "(percent here).",
                   name_of(pol), out->scale.ident, out->scale.usage_percent);
  else if (out->scale.doubt == TD_SCALE_LOOKS_PERCENT)
    td_text_format(dst, size,
                   "account \"%s\": organization %s is not restricted at "
                   "%.0f%% of its signals: usagePercentage looks like a "
                   "percent, not a fraction; check UsageScale (fraction "
                   "here).",
                   name_of(pol), out->scale.ident, out->scale.usage_percent);
}

void td_words_token(td_token_status_t st, const td_token_t *t,
                    const char *file_noun, const char *token_noun, char *dst,
                    size_t size) {
  switch (st) {
  case TD_TOKEN_OK:
    dst[0] = '\0';
    break;
  case TD_TOKEN_E_FILE:
    if (t->file_status == TD_FILE_E_OPEN)
      td_text_format(dst, size, "cannot open %s: %s", file_noun,
                     strerror(t->file.err));
    else if (t->file_status == TD_FILE_E_READ)
      td_text_format(dst, size, "cannot read %s: %s", file_noun,
                     strerror(t->file.err));
    else
      td_text_format(dst, size, "%s is not a regular file", file_noun);
    break;
  case TD_TOKEN_E_EMPTY:
    td_text_format(dst, size, "%s is empty", token_noun);
    break;
  case TD_TOKEN_E_TOO_LONG:
    td_text_format(dst, size, "%s is longer than %d bytes", token_noun,
                   TD_TOKEN_MAX);
    break;
  case TD_TOKEN_E_CONTROL:
    td_text_format(dst, size,
                   "%s holds more than one line or control characters "
                   "(spaces count as such)",
                   token_noun);
    break;
  case TD_TOKEN_E_NOT_ASCII:
    td_text_format(dst, size,
                   "%s holds a character outside printable ASCII, "
                   "probably an invisible one pasted with it (no-break "
                   "space, zero-width space, byte order mark)",
                   token_noun);
    break;
  case TD_TOKEN_E_LINK_OWNER:
    td_text_format(dst, size,
                   "%s is a symbolic link owned by uid %u to a file owned by "
                   "uid %u: refused, since the link's owner chooses what is "
                   "read",
                   file_noun, (unsigned)t->around.link_uid,
                   (unsigned)t->file.uid);
    break;
  }
}

void td_words_token_trust(td_token_trust_t tr, const td_token_t *t, uid_t euid,
                          const char *file_noun, char *dst, size_t size) {
  switch (tr) {
  case TD_TOKEN_TRUST_OK:
    dst[0] = '\0';
    break;
  case TD_TOKEN_TRUST_FILE_OWNER:
    td_text_format(dst, size,
                   "%s belongs to uid %u, neither root nor the user reading "
                   "it (uid %u), so that user can change the token",
                   file_noun, (unsigned)t->file.uid, (unsigned)euid);
    break;
  case TD_TOKEN_TRUST_FILE_WRITABLE:
    td_text_format(dst, size,
                   "%s has mode %04o: group or others can write it and "
                   "change the token; chmod 600 it",
                   file_noun, (unsigned)(t->file.mode & 07777));
    break;
  case TD_TOKEN_TRUST_DIR_OWNER:
    td_text_format(dst, size,
                   "the directory of %s belongs to uid %u, neither root nor "
                   "the user reading it (uid %u), so that user can replace "
                   "the file",
                   file_noun, (unsigned)t->around.dir_uid, (unsigned)euid);
    break;
  case TD_TOKEN_TRUST_DIR_WRITABLE:
    td_text_format(dst, size,
                   "the directory of %s has mode %04o: group or others can "
                   "write there and replace the file",
                   file_noun, (unsigned)(t->around.dir_mode & 07777));
    break;
  }
}

void td_words_file(td_file_status_t st, const td_file_info_t *info,
                   size_t max, char *dst, size_t size) {
  switch (st) {
  case TD_FILE_OK:
    dst[0] = '\0';
    break;
  case TD_FILE_E_OPEN:
    td_text_format(dst, size, "cannot be opened: %s", strerror(info->err));
    break;
  case TD_FILE_E_READ:
    td_text_format(dst, size, "cannot be read: %s", strerror(info->err));
    break;
  case TD_FILE_E_NOT_REGULAR:
    td_text_format(dst, size, "is not a regular file");
    break;
  case TD_FILE_E_TOO_LARGE:
    td_text_format(dst, size, "is larger than %zu bytes", max);
    break;
  }
}

void td_words_url(td_url_status_t st, const char *plaintext_option, char *dst,
                  size_t size) {
  switch (st) {
  case TD_URL_OK:
    dst[0] = '\0';
    break;
  case TD_URL_NOMEM:
    td_text_format(dst, size, "out of memory");
    break;
  case TD_URL_INVALID:
    td_text_format(dst, size, "it is not a valid URL");
    break;
  case TD_URL_SCHEME:
    td_text_format(dst, size, "only http and https URLs are allowed");
    break;
  case TD_URL_NO_HOST:
    td_text_format(dst, size, "it names no host");
    break;
  case TD_URL_USERINFO:
    td_text_format(dst, size,
                   "it holds a user name or password, which is never sent "
                   "(only the Bearer token is); remove it");
    break;
  case TD_URL_PLAINTEXT:
    td_text_format(dst, size,
                   "plain http would send the token in the clear to a host "
                   "that is not loopback (%s allows it)",
                   plaintext_option);
    break;
  case TD_PROXY_INVALID:
    td_text_format(dst, size,
                   "it is not a valid proxy URL (scheme://host[:port])");
    break;
  case TD_PROXY_SCHEME:
    td_text_format(dst, size,
                   "only http, https and socks5h proxies are allowed");
    break;
  case TD_PROXY_PLAINTEXT:
    td_text_format(dst, size,
                   "the proxy would see the token in the clear, since the "
                   "URL is plain http (%s allows it)",
                   plaintext_option);
    break;
  }
}

void td_words_file_mode(const char *file_noun, unsigned mode, char *dst,
                        size_t size) {
  td_text_format(dst, size,
                 "%s has mode %04o and is readable by group or others; "
                 "chmod 600 it",
                 file_noun, mode & 07777);
}

void td_words_token_prefix(char *dst, size_t size) {
  td_text_format(dst, size,
                 "the token does not start with \"tdpat_\"; is it a "
                 "TelemetryDeck personal access token?");
}

/* How a setting is named in a sentence: "option Timeout 2" (the plugin;
 * plural "options ..."), "--timeout" (the check, which never repeats a
 * value). value "" is left out. */
static void setting_noun(const td_set_error_t *e, const char *name,
                         const char *value, int plural, char *dst,
                         size_t size) {
  const char *prefix = e->front == TD_FRONT_CHECK ? ""
                       : plural                   ? "options "
                                                  : "option ";
  snprintf(dst, size, "%s%s%s%s", prefix, name, value[0] != '\0' ? " " : "",
           value);
}

/* The errors about AddressFamily, Interface and Resolve. */
static int word_network(const td_set_error_t *e, const char *noun, char *dst,
                        size_t size) {
  switch (e->status) {
  case TD_SET_E_FAMILY:
    td_text_format(dst, size, "%s must be any, ipv4 or ipv6", noun);
    return 1;
  case TD_SET_E_INTERFACE:
    td_text_format(dst, size,
                   "%s is not an interface name or address (1 to %.0f bytes, "
                   "no spaces or control characters)",
                   noun, e->bound);
    return 1;
  case TD_SET_E_RESOLVE:
    td_text_format(dst, size,
                   "%s is not HOST:PORT:ADDRESS (a host name, a port from 1 "
                   "to 65535 and one IPv4 or IPv6 address)",
                   noun);
    return 1;
  default:
    return 0;
  }
}

/* The errors about a value on its own. */
static int word_value(const td_set_error_t *e, const char *noun, char *dst,
                      size_t size) {
  switch (e->status) {
  case TD_SET_E_TYPE:
    if (e->front == TD_FRONT_CHECK)
      td_text_format(dst, size, "%s must be a number", noun);
    else
      td_text_format(dst, size,
                     "%s%s is not of the right type (or count) of value", noun,
                     e->value[0] != '\0' ? "" : " (value not shown)");
    return 1;
  case TD_SET_E_WHOLE:
    td_text_format(dst, size, "%s must be a whole number", noun);
    return 1;
  case TD_SET_E_POSITIVE:
    td_text_format(dst, size, "%s must be positive", noun);
    return 1;
  case TD_SET_E_MIN:
    td_text_format(dst, size, "%s must be at least %.15g", noun, e->bound);
    return 1;
  case TD_SET_E_MAX:
    td_text_format(dst, size, "%s is out of range (at most %.15g)", noun,
                   e->bound);
    return 1;
  case TD_SET_E_EMPTY:
    td_text_format(dst, size, "%s is empty", noun);
    return 1;
  case TD_SET_E_SCALE:
    td_text_format(dst, size, "%s must be fraction or percent", noun);
    return 1;
  case TD_SET_E_DATE:
    td_text_format(dst, size,
                   "%s is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, "
                   "UTC)",
                   noun);
    return 1;
  default:
    return word_network(e, noun, dst, size);
  }
}

/* The errors of the rules across options, and the warnings. */
static void word_rule(const td_set_error_t *e, const char *noun, char *dst,
                      size_t size) {
  char why[200], second[TD_SET_MAX_VALUE + 64];
  switch (e->status) {
  case TD_SET_E_URL:
    td_words_url(e->url, e->plaintext_name, why, sizeof(why));
    td_text_format(dst, size, "%s is refused: %s", noun, why);
    break;
  case TD_SET_E_FILE:
    td_words_file(e->file, &e->info, (size_t)e->bound, why, sizeof(why));
    td_text_format(dst, size, "%s is refused: it %s", noun, why);
    break;
  case TD_SET_E_ORGS_URL:
    td_text_format(dst, size,
                   "URL %s does not end in /users/info, so option "
                   "OrganizationsURL is needed with CollectOrganizations",
                   e->value);
    break;
  case TD_SET_E_ORDER:
    setting_noun(e, e->name, e->value, 1, why, sizeof(why));
    snprintf(second, sizeof(second), "%s%s%s", e->name2,
             e->value2[0] != '\0' ? " " : "", e->value2);
    td_text_format(dst, size, "%s and %s must satisfy %s >= %s >= 0", why,
                   second, e->name, e->name2);
    break;
  case TD_SET_E_TIMEOUT:
    td_text_format(dst, size, "%s is longer than the interval (%g s)", noun,
                   e->bound);
    break;
  case TD_SET_E_INTERVAL:
    td_text_format(dst, size,
                   "%s is below %g s, which only a loopback URL may use", noun,
                   e->bound);
    break;
  case TD_SET_W_EXPIRY_FAR:
    td_text_format(dst, size,
                   "%s is more than %.0f days away, but TelemetryDeck tokens "
                   "live at most one year: is the year a typo? It is used as "
                   "written",
                   noun, e->bound);
    break;
  case TD_SET_W_TOKEN_PREFIX:
    td_words_token_prefix(dst, size);
    break;
  default:
    td_text_format(dst, size, "out of memory");
    break;
  }
}

void td_words_setting(const td_set_error_t *e, char *dst, size_t size) {
  char noun[TD_SET_MAX_VALUE + 64];
  setting_noun(e, e->name, e->value, 0, noun, sizeof(noun));
  switch (e->status) {
  case TD_SET_OK:
    dst[0] = '\0';
    return;
  case TD_SET_E_UNKNOWN:
    td_text_format(dst, size, "unknown option \"%s\"", e->value);
    return;
  case TD_SET_E_TWICE:
    td_text_format(dst, size, "%s is given twice", e->name);
    return;
  case TD_SET_E_TOKEN: {
    static const td_token_t from_text; /* no file was read */
    td_words_token(e->token, &from_text, noun, noun, dst, size);
    return;
  }
  case TD_SET_E_TOKEN_ONE:
    td_text_format(dst, size, "exactly one of Token and TokenFile is required");
    return;
  default:
    if (!word_value(e, noun, dst, size))
      word_rule(e, noun, dst, size);
  }
}

/* td_words_conf names these bounds in its words. */
_Static_assert(TD_CONF_MAX_BYTES == 1 << 20 && TD_CONF_MAX_WORD == 4096 &&
                   TD_CONF_MAX_VALUES == 64 && TD_CONF_MAX_DEPTH == 32 &&
                   TD_CONF_MAX_ITEMS == 65536 && TD_CONF_MAX_INCLUDE == 8,
               "td_words_conf's words name td_conf's bounds");

void td_words_account(td_account_error_t e, const char *shown, char *dst,
                      size_t size) {
  if (size > 0)
    dst[0] = '\0';
  switch (e) {
  case TD_ACCOUNT_NO_NAME:
    td_text_format(dst, size,
                   "an Account block needs exactly one name: "
                   "<Account \"main\">");
    return;
  case TD_ACCOUNT_BAD_NAME:
    td_text_format(dst, size,
                   "account name \"%s\" is empty, too long or contains '/' "
                   "or control characters",
                   shown);
    return;
  case TD_ACCOUNT_TWICE:
    td_text_format(dst, size, "account \"%s\" is defined twice", shown);
    return;
  case TD_ACCOUNT_NOT_BLOCK:
    td_text_format(dst, size,
                   "unknown option \"%s\" (only <Account> blocks are allowed "
                   "here)",
                   shown);
    return;
  }
}
