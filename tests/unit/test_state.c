/* test_state: the per-account poll state machine, stepped through
 * sequences of polls with an injected clock (plain numbers).
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_state
 *
 * Sequences are tables: one row per poll with the notifications that poll
 * must raise, written "kind SEVERITY, kind SEVERITY" in the order of
 * td_note_kind_t ("kind SEVERITY again" for a reminder), or "none". Every
 * output of every step is also held to the bounds of td_state.h (see
 * check_bounds). */
#include "td_state.h"
#include "td_answer.h"
#include "td_nagios.h"
#include "td_text.h"
#include "td_words.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

#define DAY 86400.0
#define T0 1800000000.0 /* 2027-01-15, any fixed instant would do */

/* The plugin words every step before it dispatches it (td_words_step):
 * the tests that read messages and log lines do the same. */
/* The Retry-After hold the last steps asked for (td_sched keeps it in
 * the plugin): polls may go on from hold_until on. */
static double hold_until;

static void step_and_word(td_state_t *st, const td_policy_t *pol,
                          const td_poll_t *p, double now, td_step_t *out) {
  td_state_step(st, pol, p, now, out);
  td_words_step(pol, out);
  if (out->hold > 0)
    hold_until = now + out->hold;
}

/* 1 when a poll at now is not held back by a Retry-After. */
static int may_poll(const td_state_t *st, double now) {
  (void)st;
  return now >= hold_until;
}

static void tick_and_word(td_state_t *st, const td_policy_t *pol, double now,
                          td_step_t *out) {
  td_state_tick(st, pol, now, out);
  td_words_step(pol, out);
}

/* ------------------------------------------------------------------ */
/* Accounts                                                            */

static const td_policy_t POL_PLAIN = {
    .account = "acme-prod",
    .has_expiry = 0,
    .warning_days = 30,
    .failure_days = 7,
    .unreachable_after = 3,
};
static const td_policy_t POL_AFTER1 = {
    .account = "acme-prod",
    .warning_days = 30,
    .failure_days = 7,
    .unreachable_after = 1,
};
/* Expires 40 days after T0. */
static const td_policy_t POL_EXPIRY = {
    .account = "acme-prod",
    .has_expiry = 1,
    .expires = T0 + 40 * DAY,
    .warning_days = 30,
    .failure_days = 7,
    .unreachable_after = 3,
};
/* Failed polls never reach the threshold: only expiry speaks. */
static const td_policy_t POL_EXPIRY_PATIENT = {
    .account = "acme-prod",
    .has_expiry = 1,
    .expires = T0 + 40 * DAY,
    .warning_days = 30,
    .failure_days = 7,
    .unreachable_after = 1000,
};

/* ------------------------------------------------------------------ */
/* Polls                                                               */

static const td_account_info_t INFO_VALID = {
    .id = "BADA55-BADGE5",
    .email = "you@example.com",
    .org_name = "TelemetryDeck",
    .email_verified = 1,
    .top_is_object = 1,
};
static const td_account_info_t INFO_UNVERIFIED = {
    .id = "BADA55-BADGE5", .email_verified = 0, .top_is_object = 1};
static const td_account_info_t INFO_NO_EMAIL_FLAG = {
    .id = "BADA55-BADGE5", .email_verified = -1, .top_is_object = 1};
static const td_account_info_t INFO_NO_ID = {
    .email = "you@example.com", .email_verified = 1, .top_is_object = 1};
static const td_account_info_t INFO_REVOKED = {
    .reason = "User not authenticated.",
    .email_verified = -1,
    .top_is_object = 1,
};
static const td_account_info_t INFO_FORBIDDEN = {
    .reason = "Insufficient permissions", .email_verified = -1,
    .top_is_object = 1};
static const td_account_info_t INFO_PAYMENT = {
    .reason = "Payment Required", .email_verified = -1, .top_is_object = 1};
/* What a broken body may leave behind: never to be believed. */
static const td_account_info_t INFO_STALE = {
    .id = "stale-id",
    .reason = "stale reason from a broken body",
    .email_verified = 1,
    .top_is_object = 1,
};

typedef enum {
  P_VALID,
  P_VALID_UNVERIFIED,
  P_VALID_NO_EMAIL_FLAG,
  P_VALID_EMPTY_ERROR_TEXT,
  P_NO_ID,
  P_NULL_INFO,
  P_BAD_JSON,
  P_CUT_BODY,
  P_REVOKED,
  P_REVOKED_HTML,
  P_FORBIDDEN,
  P_PAYMENT,
  P_NOT_FOUND,
  P_RATE_LIMITED,
  P_RATE_LIMITED_NO_WAIT,
  P_SERVER_ERROR_VALID_BODY,
  P_UNAVAILABLE,
  P_BAD_GATEWAY,
  P_REFUSED,
  P_REFUSED_PACED,
  P_TIMEOUT,
  P_TLS,
  P_NO_ANSWER_NO_ERROR,
  P_TICK, /* not a poll: td_state_tick */
} poll_kind_t;

static const struct {
  const char *name;
  td_poll_t poll;
} POLLS[] = {
    [P_VALID] = {"200 valid",
                 {.http_status = 200,
                  .error = NULL,
                  .response_time = 0.25,
                  .body = TD_JSON_OK,
                  .info = &INFO_VALID,
                  .retry_after = -1}},
    [P_VALID_UNVERIFIED] = {"200 valid, e-mail unverified",
                            {.http_status = 200,
                             .error = NULL,
                             .response_time = 0.25,
                             .body = TD_JSON_OK,
                             .info = &INFO_UNVERIFIED,
                             .retry_after = -1}},
    [P_VALID_NO_EMAIL_FLAG] = {"200 valid, no emailIsVerified",
                               {.http_status = 200,
                                .error = NULL,
                                .response_time = 0.25,
                                .body = TD_JSON_OK,
                                .info = &INFO_NO_EMAIL_FLAG,
                                .retry_after = -1}},
    [P_VALID_EMPTY_ERROR_TEXT] = {"200 valid, error text \"\"",
                                  {.http_status = 200,
                                   .error = "",
                                   .response_time = 0.25,
                                   .body = TD_JSON_OK,
                                   .info = &INFO_VALID,
                                   .retry_after = -1}},
    [P_NO_ID] = {"200 without id",
                 {.http_status = 200,
                  .error = NULL,
                  .response_time = 0.25,
                  .body = TD_JSON_OK,
                  .info = &INFO_NO_ID,
                  .retry_after = -1}},
    [P_NULL_INFO] = {"200 without info",
                     {.http_status = 200,
                      .error = NULL,
                      .response_time = 0.25,
                      .body = TD_JSON_OK,
                      .info = NULL,
                      .retry_after = -1}},
    [P_BAD_JSON] = {"200 with a broken body",
                    {.http_status = 200,
                     .error = NULL,
                     .response_time = 0.25,
                     .body = TD_JSON_E_SYNTAX,
                     .info = &INFO_STALE,
                     .retry_after = -1}},
    [P_CUT_BODY] = {"200 cut off mid-body",
                    {.http_status = 200,
                     .error =
                         "transfer closed with 120 bytes remaining to read",
                     .response_time = 10.0,
                     .body = TD_JSON_E_TRUNCATED,
                     .info = &INFO_STALE,
                     .retry_after = -1}},
    [P_REVOKED] = {"401 revoked",
                   {.http_status = 401,
                    .error = NULL,
                    .response_time = 0.25,
                    .body = TD_JSON_OK,
                    .info = &INFO_REVOKED,
                    .retry_after = -1}},
    [P_REVOKED_HTML] = {"401 with an HTML body",
                        {.http_status = 401,
                         .error = NULL,
                         .response_time = 0.25,
                         .body = TD_JSON_E_SYNTAX,
                         .info = &INFO_STALE,
                         .retry_after = -1}},
    [P_FORBIDDEN] = {"403 forbidden",
                     {.http_status = 403,
                      .error = NULL,
                      .response_time = 0.25,
                      .body = TD_JSON_OK,
                      .info = &INFO_FORBIDDEN,
                      .retry_after = -1}},
    [P_PAYMENT] = {"402 payment required",
                   {.http_status = 402,
                    .error = NULL,
                    .response_time = 0.25,
                    .body = TD_JSON_OK,
                    .info = &INFO_PAYMENT,
                    .retry_after = -1}},
    [P_NOT_FOUND] = {"404 not found",
                     {.http_status = 404,
                      .error = NULL,
                      .response_time = 0.25,
                      .body = TD_JSON_E_SYNTAX,
                      .info = &INFO_STALE,
                      .retry_after = -1}},
    [P_RATE_LIMITED] = {"429 retry after 120 s",
                        {.http_status = 429,
                         .error = NULL,
                         .response_time = 0.25,
                         .body = TD_JSON_E_EMPTY,
                         .info = NULL,
                         .retry_after = 120}},
    [P_RATE_LIMITED_NO_WAIT] = {"429 without Retry-After",
                                {.http_status = 429,
                                 .error = NULL,
                                 .response_time = 0.25,
                                 .body = TD_JSON_E_EMPTY,
                                 .info = NULL,
                                 .retry_after = -1}},
    [P_SERVER_ERROR_VALID_BODY] = {"500 with a valid-looking body",
                                   {.http_status = 500,
                                    .error = NULL,
                                    .response_time = 0.25,
                                    .body = TD_JSON_OK,
                                    .info = &INFO_VALID,
                                    .retry_after = -1}},
    [P_UNAVAILABLE] = {"503",
                       {.http_status = 503,
                        .error = NULL,
                        .response_time = 0.25,
                        .body = TD_JSON_E_SYNTAX,
                        .info = &INFO_STALE,
                        .retry_after = -1}},
    [P_BAD_GATEWAY] = {"502",
                       {.http_status = 502,
                        .error = NULL,
                        .response_time = 0.25,
                        .body = TD_JSON_E_EMPTY,
                        .info = NULL,
                        .retry_after = -1}},
    [P_REFUSED] = {"connection refused",
                   {.http_status = 0,
                    .error = "Connection refused",
                    .response_time = 0.01,
                    .body = TD_JSON_E_EMPTY,
                    .info = NULL,
                    .retry_after = -1}},
    /* What the plugin reports for a poll it paced (td_pace): the last
     * error again, with no body at all. */
    [P_REFUSED_PACED] = {"paced after connection refused",
                         {.http_status = 0,
                          .error = "Connection refused",
                          .body = TD_JSON_OK,
                          .retry_after = -1}},
    [P_TIMEOUT] = {"timeout",
                   {.http_status = 0,
                    .error = "Timeout after 10 s",
                    .response_time = 10.0,
                    .body = TD_JSON_E_EMPTY,
                    .info = NULL,
                    .retry_after = -1}},
    [P_TLS] = {"TLS failure",
               {.http_status = 0,
                .error = "TLS verification failed",
                .response_time = 0.05,
                .body = TD_JSON_E_EMPTY,
                .info = NULL,
                .retry_after = -1}},
    [P_NO_ANSWER_NO_ERROR] = {"no answer and no error text",
                              {.http_status = 0,
                               .error = NULL,
                               .response_time = 0.0,
                               .body = TD_JSON_E_EMPTY,
                               .info = NULL,
                               .retry_after = -1}},
    [P_TICK] = {"tick",
                {.http_status = 0,
                 .error = NULL,
                 .response_time = 0,
                 .body = TD_JSON_OK,
                 .info = NULL,
                 .retry_after = -1}},
};

/* ------------------------------------------------------------------ */
/* Rendering and the bounds every output keeps                         */

static const char *kind_name(td_note_kind_t k) {
  switch (k) {
  case TD_NOTE_TOKEN_VALID:
    return "token_valid";
  case TD_NOTE_API_REACHABLE:
    return "api_reachable";
  case TD_NOTE_TOKEN_EXPIRY:
    return "token_expiry";
  case TD_NOTE_RATE_LIMITED:
    return "rate_limited";
  case TD_NOTE_TLS_EXPIRY:
    return "tls_expiry";
  case TD_NOTE_ORG_USAGE:
    return "org_usage";
  case TD_NOTE_ORG_RESTRICTED:
    return "org_restricted";
  case TD_NOTE_TOKEN_READABLE:
    return "token_readable";
  case TD_NOTE_POLLING:
    return "polling";
  case TD_NOTE_KINDS:
    break;
  }
  return "bad-kind";
}

static const char *severity_name(td_severity_t s) {
  switch (s) {
  case TD_SEV_FAILURE:
    return "FAILURE";
  case TD_SEV_WARNING:
    return "WARNING";
  case TD_SEV_OKAY:
    return "OKAY";
  }
  return "bad-severity";
}

/* "kind SEVERITY, ..." in kind order, or "none". */
static const char *render_notes(const td_step_t *out) {
  static char buf[256];
  buf[0] = '\0';
  if (out->n_notes > TD_STATE_MAX_NOTES)
    return "(n_notes out of bounds)";
  for (int k = 0; k < TD_NOTE_KINDS; k++) {
    for (size_t i = 0; i < out->n_notes; i++) {
      if ((int)out->notes[i].kind != k)
        continue;
      size_t len = strlen(buf);
      snprintf(buf + len, sizeof(buf) - len, "%s%s %s%s", len ? ", " : "",
               kind_name(out->notes[i].kind),
               severity_name(out->notes[i].severity),
               out->notes[i].reminder ? " again" : "");
    }
  }
  for (size_t i = 0; i < out->n_notes; i++) {
    if ((int)out->notes[i].kind >= TD_NOTE_KINDS ||
        (int)out->notes[i].kind < 0) {
      size_t len = strlen(buf);
      snprintf(buf + len, sizeof(buf) - len, "%sbad-kind", len ? ", " : "");
    }
  }
  return buf[0] ? buf : "none";
}

static const td_note_t *find_note(const td_step_t *out, td_note_kind_t k) {
  for (size_t i = 0; i < out->n_notes && i < TD_STATE_MAX_NOTES; i++)
    if (out->notes[i].kind == k)
      return &out->notes[i];
  return NULL;
}

static int has_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return 1;
  return 0;
}

static int valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2
                         : (*p >> 3) == 30 ? 3 : -1;
    if (n < 0)
      return 0;
    p++;
    for (int i = 0; i < n; i++, p++)
      if ((*p & 0xC0) != 0x80)
        return 0;
  }
  return 1;
}

/* The first bound an output breaks, or NULL. */
static const char *bound_broken(const td_step_t *out, int tick) {
  if (out->n_notes > TD_STATE_MAX_NOTES)
    return "n_notes > TD_STATE_MAX_NOTES";
  for (size_t i = 0; i < out->n_notes; i++) {
    const td_note_t *n = &out->notes[i];
    if (memchr(n->message, '\0', sizeof(n->message)) == NULL)
      return "a message is not NUL-terminated within TD_VERDICT_MAX_TEXT";
    if (n->message[0] == '\0')
      return "a message is empty";
    if (has_control(n->message))
      return "a message holds a control byte";
    if (!valid_utf8(n->message))
      return "a message is not valid UTF-8";
    if (n->severity != TD_SEV_FAILURE && n->severity != TD_SEV_WARNING &&
        n->severity != TD_SEV_OKAY)
      return "a severity is not FAILURE, WARNING or OKAY";
    for (size_t j = 0; j < i; j++)
      if (out->notes[j].kind == n->kind)
        return "two notes of one kind in one step";
  }
  if (tick)
    return NULL;
  if (memchr(out->log, '\0', sizeof(out->log)) == NULL)
    return "the log line is not NUL-terminated within TD_VERDICT_MAX_TEXT";
  if (has_control(out->log))
    return "the log line holds a control byte";
  if (!valid_utf8(out->log))
    return "the log line is not valid UTF-8";
  if (out->api_reachable != 0 && out->api_reachable != 1)
    return "api_reachable is not 0 or 1";
  if (out->token_valid < -1 || out->token_valid > 1)
    return "token_valid is not 1, 0 or -1";
  if (out->email_verified < -1 || out->email_verified > 1)
    return "email_verified is not 1, 0 or -1";
  return NULL;
}

static size_t bounds_checked;
static const char *bounds_first_broken;
static char bounds_where[160];

static void check_bounds(const td_step_t *out, int tick, const char *where) {
  const char *broken = bound_broken(out, tick);
  bounds_checked++;
  if (broken != NULL && bounds_first_broken == NULL) {
    bounds_first_broken = broken;
    snprintf(bounds_where, sizeof(bounds_where), "%s", where);
  }
}

/* One poll of kind at now, on an output full of garbage so that a field
 * the state machine forgets to fill shows. A tick gets a zeroed output,
 * as the plugin gives it; check_tick_fills_output holds td_state_tick to
 * filling an output of garbage on its own. */
static void run(td_state_t *st, const td_policy_t *pol, poll_kind_t kind,
                double now, td_step_t *out) {
  if (kind == P_TICK) {
    memset(out, 0, sizeof(*out));
    tick_and_word(st, pol, now, out);
  } else {
    memset(out, 0xA5, sizeof(*out));
    step_and_word(st, pol, &POLLS[kind].poll, now, out);
  }
  check_bounds(out, kind == P_TICK, POLLS[kind].name);
}

/* td_state.h: td_state_tick "fills the timeleft value and expiry notes",
 * so what it is handed beforehand must not matter. */
static void check_tick_fills_output(void) {
  const struct {
    const char *what;
    const td_policy_t *pol;
    double days_left;
    int has_timeleft;
    const char *notes;
  } cases[] = {
      {"far from expiry", &POL_EXPIRY, 35, 1, "none"},
      {"inside the warning window", &POL_EXPIRY, 20, 1,
       "token_expiry WARNING"},
      {"without TokenExpires", &POL_PLAIN, 20, 0, "none"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_state_t st;
    td_step_t out;
    td_state_init(&st);
    memset(&out, 0xA5, sizeof(out));
    tick_and_word(&st, cases[i].pol,
                  POL_EXPIRY.expires - cases[i].days_left * DAY, &out);
    if (!tap_ok(out.has_timeleft == cases[i].has_timeleft &&
                    strcmp(render_notes(&out), cases[i].notes) == 0,
                "td_state_tick fills an output handed over uninitialised: %s",
                cases[i].what)) {
      tap_diag("has_timeleft: expected %d, got %d", cases[i].has_timeleft,
               out.has_timeleft);
      tap_diag("notes: expected %s, got %s", cases[i].notes,
               render_notes(&out));
    }
  }
}

/* ------------------------------------------------------------------ */
/* Values of one poll                                                  */

static void check_values(void) {
  const struct {
    poll_kind_t poll;
    int reachable, token_valid, email_verified, response_code, has_time;
  } cases[] = {
      {P_VALID, 1, 1, 1, 200, 1},
      {P_VALID_UNVERIFIED, 1, 1, 0, 200, 1},
      {P_VALID_NO_EMAIL_FLAG, 1, 1, -1, 200, 1},
      {P_VALID_EMPTY_ERROR_TEXT, 1, 1, 1, 200, 1},
      {P_NO_ID, 1, -1, -1, 200, 1},
      {P_NULL_INFO, 1, -1, -1, 200, 1},
      {P_BAD_JSON, 1, -1, -1, 200, 1},
      {P_CUT_BODY, 0, -1, -1, 200, 1},
      {P_REVOKED, 1, 0, -1, 401, 1},
      {P_REVOKED_HTML, 1, 0, -1, 401, 1},
      {P_FORBIDDEN, 1, 0, -1, 403, 1},
      {P_PAYMENT, 1, 0, -1, 402, 1},
      {P_NOT_FOUND, 1, -1, -1, 404, 1},
      {P_RATE_LIMITED, 1, -1, -1, 429, 1},
      {P_SERVER_ERROR_VALID_BODY, 0, -1, -1, 500, 1},
      {P_UNAVAILABLE, 0, -1, -1, 503, 1},
      {P_BAD_GATEWAY, 0, -1, -1, 502, 1},
      {P_REFUSED, 0, -1, -1, 0, 0},
      {P_TIMEOUT, 0, -1, -1, 0, 0},
      {P_TLS, 0, -1, -1, 0, 0},
      {P_NO_ANSWER_NO_ERROR, 0, -1, -1, 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *name = POLLS[cases[i].poll].name;
    td_state_t st;
    td_step_t out;
    td_state_init(&st);
    run(&st, &POL_PLAIN, cases[i].poll, T0, &out);
    tap_is_int(out.api_reachable, cases[i].reachable,
               "%s: api_reachable is %d", name, cases[i].reachable);
    tap_is_int(out.token_valid, cases[i].token_valid,
               "%s: token_valid is %d", name, cases[i].token_valid);
    tap_is_int(out.email_verified, cases[i].email_verified,
               "%s: email_verified is %d", name, cases[i].email_verified);
    tap_is_int(out.response_code, cases[i].response_code,
               "%s: response_code is %d", name, cases[i].response_code);
    tap_is_int(out.has_response_time, cases[i].has_time,
               "%s: response_time is %s", name,
               cases[i].has_time ? "dispatched" : "not dispatched");
    if (cases[i].has_time)
      tap_is_double(out.response_time, POLLS[cases[i].poll].poll.response_time,
                    0, "%s: response_time is the poll's", name);
    tap_is_int(out.has_timeleft, 0,
               "%s: no timeleft without TokenExpires", name);
  }
}

/* ------------------------------------------------------------------ */
/* Sequences                                                           */

typedef struct {
  poll_kind_t poll;
  double t; /* seconds after T0 */
  const char *notes;
} step_t;

typedef struct {
  const char *name;
  const td_policy_t *pol;
  step_t steps[24];
} sequence_t;

#define END {P_VALID, 0, NULL}

static const sequence_t SEQUENCES[] = {
    /* The token */
    {"valid, revoked, valid: one FAILURE, then one OKAY",
     &POL_PLAIN,
     {{P_VALID, 0, "none"},
      {P_VALID, 60, "none"},
      {P_REVOKED, 120, "token_valid FAILURE"},
      {P_REVOKED, 180, "none"},
      {P_REVOKED, 240, "none"},
      {P_VALID, 300, "token_valid OKAY"},
      {P_VALID, 360, "none"},
      END}},
    {"a token rejected at the first poll gives FAILURE at once",
     &POL_PLAIN,
     {{P_REVOKED, 0, "token_valid FAILURE"}, {P_REVOKED, 60, "none"}, END}},
    {"a token valid at the first poll gives no note",
     &POL_PLAIN,
     {{P_VALID, 0, "none"}, END}},
    {"403 rejects the token as 401 does",
     &POL_PLAIN,
     {{P_VALID, 0, "none"},
      {P_FORBIDDEN, 60, "token_valid FAILURE"},
      {P_VALID, 120, "token_valid OKAY"},
      END}},
    {"401, 403 and a 401 with an HTML body are one rejection",
     &POL_PLAIN,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_FORBIDDEN, 60, "none"},
      {P_REVOKED_HTML, 120, "none"},
      {P_VALID, 180, "token_valid OKAY"},
      END}},
    {"402 marks the token unusable as 401 does",
     &POL_PLAIN,
     {{P_VALID, 0, "none"},
      {P_PAYMENT, 60, "token_valid FAILURE"},
      {P_PAYMENT, 120, "none"},
      {P_VALID, 180, "token_valid OKAY"},
      END}},
    {"a 402 at the first poll gives FAILURE at once",
     &POL_EXPIRY,
     {{P_PAYMENT, 0, "token_valid FAILURE"}, END}},
    {"401, 402 and 403 in a row are one FAILURE",
     &POL_PLAIN,
     {{P_PAYMENT, 0, "token_valid FAILURE"},
      {P_FORBIDDEN, 60, "none"},
      {P_REVOKED, 120, "none"},
      {P_PAYMENT, 180, "none"},
      {P_VALID, 240, "token_valid OKAY"},
      END}},
    {"polls that cannot tell leave a rejection standing",
     &POL_PLAIN,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_UNAVAILABLE, 60, "none"},
      {P_TIMEOUT, 120, "none"},
      {P_NO_ID, 180, "none"},
      {P_NULL_INFO, 240, "none"},
      {P_BAD_JSON, 300, "none"},
      {P_NOT_FOUND, 420, "none"},
      {P_SERVER_ERROR_VALID_BODY, 480, "none"},
      {P_REVOKED, 540, "none"},
      {P_VALID, 600, "token_valid OKAY"},
      END}},
    {"polls that cannot tell leave a valid token valid",
     &POL_PLAIN,
     {{P_VALID, 0, "none"},
      {P_UNAVAILABLE, 60, "none"},
      {P_NO_ID, 120, "none"},
      {P_BAD_JSON, 180, "none"},
      {P_SERVER_ERROR_VALID_BODY, 240, "none"},
      {P_VALID, 300, "none"},
      END}},
    {"a 500 with a valid-looking body does not end a rejection",
     &POL_PLAIN,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_SERVER_ERROR_VALID_BODY, 60, "none"},
      {P_REVOKED, 120, "none"},
      END}},
    {"a rejection after polls that could not tell still gives FAILURE",
     &POL_PLAIN,
     {{P_UNAVAILABLE, 0, "none"}, {P_REVOKED, 60, "token_valid FAILURE"}, END}},
    {"a first valid poll after polls that could not tell gives no OKAY",
     &POL_PLAIN,
     {{P_TIMEOUT, 0, "none"},
      {P_NO_ID, 60, "none"},
      {P_VALID, 120, "none"},
      END}},
    {"a token revoked twice gives two FAILURE/OKAY pairs",
     &POL_PLAIN,
     {{P_VALID, 0, "none"},
      {P_REVOKED, 60, "token_valid FAILURE"},
      {P_VALID, 120, "token_valid OKAY"},
      {P_REVOKED, 180, "token_valid FAILURE"},
      {P_VALID, 240, "token_valid OKAY"},
      END}},

    /* Reachability */
    {"UnreachableAfter 3: WARNING at the third failed poll, OKAY after",
     &POL_PLAIN,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_REFUSED, 120, "api_reachable WARNING"},
      {P_REFUSED, 180, "none"},
      {P_REFUSED, 240, "none"},
      {P_VALID, 300, "api_reachable OKAY"},
      {P_VALID, 360, "none"},
      END}},
    {"failures that are not consecutive give no WARNING",
     &POL_PLAIN,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_VALID, 120, "none"},
      {P_REFUSED, 180, "none"},
      {P_REFUSED, 240, "none"},
      {P_VALID, 300, "none"},
      {P_REFUSED, 360, "none"},
      {P_REFUSED, 420, "none"},
      {P_REFUSED, 480, "api_reachable WARNING"},
      END}},
    {"every kind of failed poll counts toward UnreachableAfter",
     &POL_PLAIN,
     {{P_TIMEOUT, 0, "none"},
      {P_UNAVAILABLE, 60, "none"},
      {P_TLS, 120, "api_reachable WARNING"},
      {P_VALID, 180, "api_reachable OKAY"},
      {P_SERVER_ERROR_VALID_BODY, 240, "none"},
      {P_BAD_GATEWAY, 300, "none"},
      {P_CUT_BODY, 360, "api_reachable WARNING"},
      {P_NO_ANSWER_NO_ERROR, 420, "none"},
      {P_VALID_EMPTY_ERROR_TEXT, 480, "api_reachable OKAY"},
      END}},
    {"a rejected token is an answer: it resets the count and ends an outage",
     &POL_PLAIN,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_REVOKED, 120, "token_valid FAILURE"},
      {P_REFUSED, 180, "none"},
      {P_REFUSED, 240, "none"},
      {P_REFUSED, 300, "api_reachable WARNING"},
      {P_REVOKED, 360, "api_reachable OKAY"},
      END}},
    {"any answer below 500 is an answer, whatever its body",
     &POL_PLAIN,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_NOT_FOUND, 120, "none"},
      {P_REFUSED, 180, "none"},
      {P_REFUSED, 240, "none"},
      {P_BAD_JSON, 300, "none"},
      {P_REFUSED, 360, "none"},
      {P_REFUSED, 420, "none"},
      {P_PAYMENT, 480, "token_valid FAILURE"}, /* reachable all the same */
      END}},
    {"a 429 is an answer, not a failed poll",
     &POL_PLAIN,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_RATE_LIMITED, 120, "rate_limited WARNING"},
      END}},
    {"a 429 after the WARNING ends the outage",
     &POL_PLAIN,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_REFUSED, 120, "api_reachable WARNING"},
      {P_RATE_LIMITED, 180, "api_reachable OKAY, rate_limited WARNING"},
      END}},
    {"UnreachableAfter 1: the first failed poll warns",
     &POL_AFTER1,
     {{P_REFUSED, 0, "api_reachable WARNING"},
      {P_REFUSED, 60, "none"},
      {P_VALID, 120, "api_reachable OKAY"},
      {P_TIMEOUT, 180, "api_reachable WARNING"},
      {P_UNAVAILABLE, 240, "none"},
      {P_REVOKED, 300, "token_valid FAILURE, api_reachable OKAY"},
      END}},

    /* Rate limiting */
    {"repeated 429s: one WARNING, then one OKAY at the next other answer",
     &POL_PLAIN,
     {{P_VALID, 0, "none"},
      {P_RATE_LIMITED, 60, "rate_limited WARNING"},
      {P_RATE_LIMITED, 180, "none"},
      {P_RATE_LIMITED_NO_WAIT, 300, "none"},
      {P_VALID, 420, "rate_limited OKAY"},
      {P_VALID, 480, "none"},
      {P_RATE_LIMITED_NO_WAIT, 540, "rate_limited WARNING"},
      {P_REVOKED, 600, "token_valid FAILURE, rate_limited OKAY"},
      END}},
    {"a tick during the wait says nothing of the rate limit",
     &POL_PLAIN,
     {{P_RATE_LIMITED, 0, "rate_limited WARNING"},
      {P_TICK, 60, "none"},
      {P_TICK, 100, "none"},
      {P_VALID, 120, "rate_limited OKAY"},
      END}},

    /* Several conditions at once */
    {"one poll can raise a note of each condition that changed",
     &POL_EXPIRY,
     {{P_VALID, 0, "none"},
      {P_REFUSED, 11 * DAY, "token_expiry WARNING"},
      {P_REFUSED, 11 * DAY + 60, "none"},
      {P_REFUSED, 11 * DAY + 120, "api_reachable WARNING"},
      {P_REVOKED, 34 * DAY,
       "token_valid FAILURE, api_reachable OKAY, token_expiry FAILURE"},
      {P_REVOKED, 50 * DAY, "none"},
      END}},

};

static void run_sequence(const char *name, const td_policy_t *pol,
                         const step_t *steps) {
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  for (size_t i = 0; steps[i].notes != NULL; i++) {
    run(&st, pol, steps[i].poll, T0 + steps[i].t, &out);
    tap_is_str(render_notes(&out), steps[i].notes, "%s: poll %zu (%s)", name,
               i + 1, POLLS[steps[i].poll].name);
  }
}

static void check_sequences(void) {
  for (size_t s = 0; s < sizeof(SEQUENCES) / sizeof(SEQUENCES[0]); s++)
    run_sequence(SEQUENCES[s].name, SEQUENCES[s].pol, SEQUENCES[s].steps);
}

/* Reminders: the sequences of a policy with RepeatNotificationsAfter. */
typedef struct {
  const char *name;
  const td_policy_t *pol;
  double repeat_after; /* seconds */
  step_t steps[24];
} reminders_t;

static const reminders_t REMINDERS[] = {
    {"reminders off: a token revoked for hours is notified once",
     &POL_PLAIN,
     0,
     {{P_VALID, 0, "none"},
      {P_REVOKED, 60, "token_valid FAILURE"},
      {P_REVOKED, 3660, "none"},
      {P_REVOKED, 7260, "none"},
      {P_REVOKED, 10860, "none"},
      {P_REVOKED, 14460, "none"},
      {P_VALID, 14520, "token_valid OKAY"},
      END}},
    {"reminders every hour: a revoked token comes again hourly until OKAY",
     &POL_PLAIN,
     3600,
     {{P_VALID, 0, "none"},
      {P_REVOKED, 60, "token_valid FAILURE"},
      {P_REVOKED, 1800, "none"},
      {P_REVOKED, 3659, "none"},
      {P_REVOKED, 3660, "token_valid FAILURE again"},
      {P_REVOKED, 5400, "none"},
      {P_REVOKED, 7260, "token_valid FAILURE again"},
      {P_REVOKED, 10000, "none"},
      {P_REVOKED, 10860, "token_valid FAILURE again"},
      {P_VALID, 12000, "token_valid OKAY"},
      {P_VALID, 15600, "none"},
      {P_VALID, 19200, "none"},
      {P_VALID, 90000, "none"},
      END}},
    {"the hour counts from the last reminder, not from each poll",
     &POL_PLAIN,
     3600,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_REVOKED, 5000, "token_valid FAILURE again"},
      {P_REVOKED, 8599, "none"},
      {P_REVOKED, 8600, "token_valid FAILURE again"},
      END}},
    {"polls that cannot tell keep a rejection standing, and reminded",
     &POL_PLAIN,
     3600,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_NO_ID, 3600, "token_valid FAILURE again"},
      {P_BAD_JSON, 7200, "token_valid FAILURE again"},
      {P_VALID, 7260, "token_valid OKAY"},
      END}},
    {"a rejection after an OKAY starts its hour afresh",
     &POL_PLAIN,
     3600,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_VALID, 3000, "token_valid OKAY"},
      {P_REVOKED, 3300, "token_valid FAILURE"},
      {P_REVOKED, 3600, "none"},
      {P_REVOKED, 6899, "none"},
      {P_REVOKED, 6900, "token_valid FAILURE again"},
      END}},
    {"a clock set back restarts the hour from then",
     &POL_PLAIN,
     3600,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_REVOKED, 3600, "token_valid FAILURE again"},
      {P_REVOKED, 1800, "none"},
      {P_REVOKED, 5399, "none"},
      {P_REVOKED, 5400, "token_valid FAILURE again"},
      END}},
    {"an unreachable API is reminded while it lasts, its OKAY once",
     &POL_PLAIN,
     120,
     {{P_REFUSED, 0, "none"},
      {P_REFUSED, 60, "none"},
      {P_REFUSED, 120, "api_reachable WARNING"},
      {P_REFUSED, 180, "none"},
      {P_TIMEOUT, 240, "api_reachable WARNING again"},
      {P_UNAVAILABLE, 300, "none"},
      {P_REFUSED, 360, "api_reachable WARNING again"},
      {P_VALID, 420, "api_reachable OKAY"},
      {P_VALID, 540, "none"},
      {P_VALID, 660, "none"},
      END}},
    {"a rate limit is reminded during its wait, by the ticks",
     &POL_PLAIN,
     120,
     {{P_RATE_LIMITED, 0, "rate_limited WARNING"},
      {P_TICK, 60, "none"},
      {P_TICK, 120, "rate_limited WARNING again"},
      {P_TICK, 180, "none"},
      {P_RATE_LIMITED_NO_WAIT, 240, "rate_limited WARNING again"},
      {P_VALID, 300, "rate_limited OKAY"},
      {P_TICK, 420, "none"},
      END}},
    {"each standing problem keeps its own reminders",
     &POL_PLAIN,
     120,
     {{P_REVOKED, 0, "token_valid FAILURE"},
      {P_REFUSED, 60, "none"},
      {P_REFUSED, 120, "token_valid FAILURE again"},
      {P_REFUSED, 180, "api_reachable WARNING"},
      {P_REFUSED, 240, "token_valid FAILURE again"},
      {P_REFUSED, 300, "api_reachable WARNING again"},
      {P_REVOKED, 360, "token_valid FAILURE again, api_reachable OKAY"},
      {P_VALID, 420, "token_valid OKAY"},
      {P_VALID, 600, "none"},
      END}},
    {"a change of level restarts the reminders' day",
     &POL_EXPIRY_PATIENT,
     DAY,
     {{P_VALID, 0, "none"},
      {P_VALID, 10.5 * DAY, "token_expiry WARNING"},
      {P_VALID, 11 * DAY, "none"},
      {P_VALID, 11.5 * DAY, "token_expiry WARNING again"},
      {P_VALID, 12 * DAY, "none"},
      {P_VALID, 33.25 * DAY, "token_expiry FAILURE"},
      {P_VALID, 33.75 * DAY, "none"},
      {P_VALID, 34.2 * DAY, "none"},
      {P_VALID, 34.25 * DAY, "token_expiry FAILURE again"},
      {P_VALID, 45 * DAY, "token_expiry FAILURE again"},
      END}},
    {"expiry reminders come from the ticks of a rate limit's wait too",
     &POL_EXPIRY_PATIENT,
     DAY,
     {{P_VALID, 20 * DAY, "token_expiry WARNING"},
      {P_TICK, 20.5 * DAY, "none"},
      {P_TICK, 21 * DAY, "token_expiry WARNING again"},
      END}},
};

static void check_reminders(void) {
  for (size_t s = 0; s < sizeof(REMINDERS) / sizeof(REMINDERS[0]); s++) {
    td_policy_t pol = *REMINDERS[s].pol;
    pol.repeat_after = REMINDERS[s].repeat_after;
    run_sequence(REMINDERS[s].name, &pol, REMINDERS[s].steps);
  }
}

/* ------------------------------------------------------------------ */
/* Token expiry                                                        */

static void check_timeleft(void) {
  const struct {
    double days_left;
    double timeleft;
  } cases[] = {
      {45.5, 45.5}, {30, 30}, {7.25, 7.25}, {0.5, 0.5},
      {0, 0},       {-0.5, 0}, {-10, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double now = POL_EXPIRY.expires - cases[i].days_left * DAY;
    for (int tick = 0; tick <= 1; tick++) {
      td_state_t st;
      td_step_t out;
      td_state_init(&st);
      run(&st, &POL_EXPIRY, tick ? P_TICK : P_VALID, now, &out);
      const char *how = tick ? "td_state_tick" : "td_state_step";
      tap_is_int(out.has_timeleft, 1, "%s with %g days left: timeleft is "
                 "dispatched", how, cases[i].days_left);
      tap_is_double(out.timeleft / DAY, cases[i].timeleft, 1e-9,
                    "%s with %g days left: timeleft is %g", how,
                    cases[i].days_left, cases[i].timeleft);
    }
  }

  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  run(&st, &POL_EXPIRY, P_REFUSED, POL_EXPIRY.expires - 20 * DAY, &out);
  tap_is_int(out.has_timeleft, 1, "a failed poll still dispatches timeleft");
  tap_is_double(out.timeleft / DAY, 20, 1e-9, "with the days left");

  td_policy_t no_expiry = POL_EXPIRY;
  no_expiry.has_expiry = 0;
  td_state_init(&st);
  run(&st, &no_expiry, P_TICK, POL_EXPIRY.expires + DAY, &out);
  tap_is_int(out.has_timeleft, 0, "a tick without TokenExpires: no timeleft");
  tap_is_str(render_notes(&out), "none",
             "a tick without TokenExpires: no note, even past the date");
  td_state_init(&st);
  run(&st, &no_expiry, P_VALID, POL_EXPIRY.expires + DAY, &out);
  tap_is_str(render_notes(&out), "none",
             "a poll without TokenExpires: no expiry note");
}

/* The expiry notes of a first poll, by days left at that poll. */
static void check_expiry_first_poll(void) {
  const struct {
    double days_left;
    const char *notes;
  } cases[] = {
      {45, "none"},
      {30.5, "none"},
      {30, "token_expiry WARNING"},
      {20, "token_expiry WARNING"},
      {7.5, "token_expiry WARNING"},
      {7, "token_expiry FAILURE"},
      {3, "token_expiry FAILURE"},
      {0, "token_expiry FAILURE"},
      {-10, "token_expiry FAILURE"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double now = POL_EXPIRY.expires - cases[i].days_left * DAY;
    for (int tick = 0; tick <= 1; tick++) {
      td_state_t st;
      td_step_t out;
      td_state_init(&st);
      run(&st, &POL_EXPIRY, tick ? P_TICK : P_VALID, now, &out);
      tap_is_str(render_notes(&out), cases[i].notes,
                 "first %s with %g days left", tick ? "tick" : "poll",
                 cases[i].days_left);
      run(&st, &POL_EXPIRY, tick ? P_TICK : P_VALID, now + 3600, &out);
      tap_is_str(render_notes(&out), "none",
                 "and the %s an hour later repeats nothing",
                 tick ? "tick" : "poll");
    }
  }
}

/* Steps through the token's life from `from` days left down to `to`,
 * `by` seconds at a time, and lists "DAYS-LEFT: notes" of every step that
 * raised a note. how: a poll kind, or -1 for a poll on even steps and a
 * tick on odd ones. Times are whole seconds, so thresholds are hit
 * exactly. */
static void expiry_timeline(const char *what, const td_policy_t *pol,
                            int how, double from, double to, double by,
                            const char *want) {
  char got[512] = "";
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  double start = pol->expires - from * DAY;
  for (int n = 0; start + n * by <= pol->expires - to * DAY; n++) {
    double now = start + n * by;
    poll_kind_t kind = how >= 0 ? (poll_kind_t)how : n % 2 ? P_TICK : P_VALID;
    run(&st, pol, kind, now, &out);
    const char *notes = render_notes(&out);
    if (strcmp(notes, "none") != 0) {
      size_t len = strlen(got);
      snprintf(got + len, sizeof(got) - len, "%s%g: %s", len ? "; " : "",
               (pol->expires - now) / DAY, notes);
    }
  }
  tap_is_str(got, want, "%s", what);
}

static void check_expiry_timelines(void) {
  const char *daily = "30: token_expiry WARNING; 7: token_expiry FAILURE";
  expiry_timeline("polled daily from 40 days left to 5 days past expiry: "
                  "one WARNING at 30 days, one FAILURE at 7",
                  &POL_EXPIRY, P_VALID, 40, -5, DAY, daily);
  expiry_timeline("ticked daily over the same days: the same notes",
                  &POL_EXPIRY, P_TICK, 40, -5, DAY, daily);
  expiry_timeline("polled and ticked on alternate days: the same notes",
                  &POL_EXPIRY, -1, 40, -5, DAY, daily);
  expiry_timeline("failed polls daily: the same notes", &POL_EXPIRY_PATIENT,
                  P_REFUSED, 40, -5, DAY, daily);
  expiry_timeline("a revoked token daily: the same expiry notes, the "
                  "token FAILURE once",
                  &POL_EXPIRY, P_REVOKED, 40, -5, DAY,
                  "40: token_valid FAILURE; " /* first poll */
                  "30: token_expiry WARNING; 7: token_expiry FAILURE");
  expiry_timeline("polled daily at a fraction of a day: notes on the first "
                  "poll past each threshold",
                  &POL_EXPIRY, P_VALID, 40.5, -5, DAY,
                  "29.5: token_expiry WARNING; 6.5: token_expiry FAILURE");
  expiry_timeline("polled every hour for 40 days: still one of each",
                  &POL_EXPIRY, P_VALID, 40, 0, 3600,
                  "30: token_expiry WARNING; 7: token_expiry FAILURE");

  /* One second either side of the thresholds. */
  const struct {
    const char *what;
    double seconds_left;
    const char *notes;
  } edges[] = {
      {"one second more than 30 days left: no WARNING", 30 * DAY + 1, "none"},
      {"exactly 30 days left: WARNING", 30 * DAY, "token_expiry WARNING"},
      {"one second more than 7 days left: still the WARNING", 7 * DAY + 1,
       "none"},
      {"exactly 7 days left: FAILURE", 7 * DAY, "token_expiry FAILURE"},
  };
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  run(&st, &POL_EXPIRY, P_VALID, POL_EXPIRY.expires - 35 * DAY, &out);
  for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
    run(&st, &POL_EXPIRY, P_VALID,
        POL_EXPIRY.expires - edges[i].seconds_left, &out);
    tap_is_str(render_notes(&out), edges[i].notes, "%s", edges[i].what);
  }
}

/* ------------------------------------------------------------------ */
/* Rate limiting: when the next poll may go                            */

static td_poll_t rate_limited(double retry_after) {
  td_poll_t p = POLLS[P_RATE_LIMITED].poll;
  p.retry_after = retry_after;
  return p;
}

static void check_may_poll(void) {
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  hold_until = 0;
  tap_is_int(may_poll(&st, T0), 1, "a new account may be polled");
  tap_is_int(may_poll(&st, 0), 1,
             "a new account may be polled at any time, even epoch 0");

  td_poll_t p = rate_limited(120);
  memset(&out, 0xA5, sizeof(out));
  step_and_word(&st, &POL_PLAIN, &p, T0, &out);
  check_bounds(&out, 0, "429 retry after 120 s");
  const td_note_t *w = find_note(&out, TD_NOTE_RATE_LIMITED);
  tap_ok(w != NULL && w->severity == TD_SEV_WARNING,
         "a 429 gives a rate_limited WARNING");
  if (!tap_ok(w != NULL && strstr(w->message, "120") != NULL,
              "whose message names the wait of 120 seconds") &&
      w != NULL)
    tap_diag("message: %s", w->message);

  const struct {
    double at;
    int may;
  } wait120[] = {{0, 0}, {60, 0}, {119, 0}, {119.5, 0},
                 {120, 1}, {121, 1}, {DAY, 1}};
  for (size_t i = 0; i < sizeof(wait120) / sizeof(wait120[0]); i++)
    tap_is_int(may_poll(&st, T0 + wait120[i].at), wait120[i].may,
               "after a 429 asking for 120 s, %g s later: %s", wait120[i].at,
               wait120[i].may ? "may poll" : "waits");

  p = rate_limited(60);
  memset(&out, 0xA5, sizeof(out));
  step_and_word(&st, &POL_PLAIN, &p, T0 + 120, &out);
  tap_is_str(render_notes(&out), "none", "a second 429 gives no second note");
  tap_is_int(may_poll(&st, T0 + 179), 0,
             "and its own wait of 60 s holds the next poll back");
  tap_is_int(may_poll(&st, T0 + 180), 1, "until those 60 s are over");

  const struct {
    const char *what;
    double retry_after;
    double wait; /* the wait the state machine must honour */
  } caps[] = {
      {"a Retry-After of 0 s", 0, 0},
      {"a Retry-After of one day", TD_STATE_MAX_WAIT, TD_STATE_MAX_WAIT},
      {"a Retry-After of a year", 365 * DAY, TD_STATE_MAX_WAIT},
      {"a Retry-After of 1e300 s", 1e300, TD_STATE_MAX_WAIT},
  };
  for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
    td_state_init(&st);
    hold_until = 0;
    p = rate_limited(caps[i].retry_after);
    memset(&out, 0xA5, sizeof(out));
    step_and_word(&st, &POL_PLAIN, &p, T0, &out);
    check_bounds(&out, 0, caps[i].what);
    if (caps[i].wait > 0)
      tap_is_int(may_poll(&st, T0 + caps[i].wait - 1), 0,
                 "%s: no poll 1 s before %g s have passed", caps[i].what,
                 caps[i].wait);
    tap_is_int(may_poll(&st, T0 + caps[i].wait), 1,
               "%s: polls again after %g s", caps[i].what, caps[i].wait);
    if (caps[i].retry_after > TD_STATE_MAX_WAIT) {
      w = find_note(&out, TD_NOTE_RATE_LIMITED);
      if (!tap_ok(w != NULL && strstr(w->message, "86400") != NULL,
                  "%s: the WARNING names the capped wait, 86400 s",
                  caps[i].what) &&
          w != NULL)
        tap_diag("message: %s", w->message);
    }
  }
}

/* ------------------------------------------------------------------ */
/* Log lines                                                           */

/* One letter per poll: '-' no log line, 'P' a problem line
 * (log_is_problem 1), 'R' a recovery line (log_is_problem 0), 'F' the
 * line of the account's first good poll. */
static void check_log(void) {
  const struct {
    const char *what;
    poll_kind_t polls[8];
    const char *want;
  } cases[] = {
      {"a healthy account logs its first poll, then nothing",
       {P_VALID, P_VALID, P_VALID},
       "F--"},
      {"a problem at the first poll is logged", {P_REVOKED}, "P"},
      {"an error repeated is logged once",
       {P_REFUSED, P_REFUSED, P_REFUSED, P_REFUSED},
       "P---"},
      {"a 503 repeated is logged once",
       {P_UNAVAILABLE, P_UNAVAILABLE, P_UNAVAILABLE},
       "P--"},
      {"a revoked token is logged once, and its end once",
       {P_VALID, P_REVOKED, P_REVOKED, P_VALID, P_VALID},
       "FP-R-"},
      {"a paced poll repeating the error logs nothing new",
       {P_REFUSED, P_REFUSED_PACED, P_REFUSED, P_REFUSED_PACED},
       "P---"},
      {"each change of error is logged",
       {P_REFUSED, P_REFUSED, P_TIMEOUT, P_TIMEOUT, P_REFUSED},
       "P-P-P"},
      {"the end of a problem is logged once, as a recovery",
       {P_REFUSED, P_VALID, P_VALID},
       "PR-"},
      {"a problem after a recovery is logged again",
       {P_REFUSED, P_VALID, P_REFUSED},
       "PRP"},
      {"one problem replacing another, then the end of both",
       {P_TLS, P_REVOKED, P_VALID},
       "PPR"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char got[16] = "";
    td_state_t st;
    td_step_t out;
    td_state_init(&st);
    for (size_t j = 0; j < strlen(cases[i].want); j++) {
      run(&st, &POL_PLAIN, cases[i].polls[j], T0 + 60.0 * j, &out);
      got[j] = out.log[0] == '\0'         ? '-'
               : out.log_is_problem       ? 'P'
               : out.news == TD_LOG_FIRST ? 'F'
                                          : 'R';
    }
    tap_is_str(got, cases[i].want, "%s", cases[i].what);
  }
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

/* The message of the note of kind k, after polls (from a new state). */
static const char *message_after(const td_policy_t *pol, const td_poll_t *ps,
                                 size_t n, td_note_kind_t k, td_step_t *out) {
  td_state_t st;
  td_state_init(&st);
  for (size_t i = 0; i < n; i++) {
    memset(out, 0xA5, sizeof(*out));
    step_and_word(&st, pol, &ps[i], T0 + 60.0 * i, out);
    check_bounds(out, 0, "message case");
  }
  const td_note_t *note = find_note(out, k);
  return note != NULL ? note->message : "(no such note)";
}

static int contains(const char *hay, const char *needle) {
  return strstr(hay, needle) != NULL;
}

/* Longest run of consecutive bytes equal to c. */
static size_t longest_run(const char *s, char c) {
  size_t best = 0, run_len = 0;
  for (; *s; s++) {
    run_len = *s == c ? run_len + 1 : 0;
    if (run_len > best)
      best = run_len;
  }
  return best;
}

static void check_message_has(const char *msg, const char *what,
                              const char *const *must, const char *const *not) {
  int pass = 1;
  for (size_t i = 0; must != NULL && must[i] != NULL; i++)
    pass &= contains(msg, must[i]);
  for (size_t i = 0; not != NULL && not[i] != NULL; i++)
    pass &= !contains(msg, not[i]);
  tap_ok(pass, "%s", what);
  if (!pass) {
    tap_diag("message: %s", msg);
    for (size_t i = 0; must != NULL && must[i] != NULL; i++)
      tap_diag("must contain \"%s\": %s", must[i],
               contains(msg, must[i]) ? "yes" : "MISSING");
    for (size_t i = 0; not != NULL && not[i] != NULL; i++)
      tap_diag("must not contain \"%s\": %s", not[i],
               contains(msg, not[i]) ? "PRESENT" : "absent");
  }
}

/* The plugin stopped polling (its multi handle failed): every account
 * gets one FAILURE naming the stop and libcurl's reason, in one line; a
 * second call says nothing new, and no value goes with it. */
static void check_stopped(void) {
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  td_state_stopped(&st, "Unrecoverable error in select/poll", &out);
  td_words_step(&POL_PLAIN, &out);
  tap_is_str(render_notes(&out), "polling FAILURE",
             "stopped: one FAILURE of its own kind");
  const td_note_t *n = find_note(&out, TD_NOTE_POLLING);
  tap_is_str(n != NULL ? n->message : "(none)",
             "Account \"acme-prod\": the plugin stopped polling it: libcurl's "
             "multi handle failed (Unrecoverable error in select/poll); "
             "restart collectd to poll it again.",
             "it names the account, the stop and libcurl's reason");
  tap_ok(n != NULL && strchr(n->message, '\n') == NULL &&
             strlen(n->message) <= TD_VERDICT_MAX_TEXT,
         "in one line, within a notification's bound");
  tap_ok(out.api_reachable == 0 && out.token_valid == -1 &&
             out.token_readable == -1 && !out.has_timeleft &&
             !out.has_tls_timeleft && out.log[0] == '\0',
         "and no value, no log line of its own (the plugin logs the stop)");
  tap_is_str(td_words_note_type(TD_NOTE_POLLING), "bool", "type bool");
  tap_is_str(td_words_note_type_instance(TD_NOTE_POLLING), "polling",
             "type instance polling");
  td_state_stopped(&st, "Unrecoverable error in select/poll", &out);
  td_words_step(&POL_PLAIN, &out);
  tap_is_str(render_notes(&out), "none", "stopped again: nothing new");
  td_policy_t hourly = POL_PLAIN;
  hourly.repeat_after = 3600;
  td_state_init(&st);
  td_state_stopped(&st, "Out of memory\nand more", &out);
  td_words_step(&hourly, &out);
  n = find_note(&out, TD_NOTE_POLLING);
  check_message_has(n != NULL ? n->message : "(none)",
                    "libcurl's text is cleaned: one line even so",
                    (const char *const[]){"(Out of memory and more)", NULL},
                    (const char *const[]){"\n", NULL});
}

static void check_token_messages(void) {
  td_step_t out;
  td_poll_t p = POLLS[P_REVOKED].poll;
  const char *msg = message_after(&POL_PLAIN, &p, 1, TD_NOTE_TOKEN_VALID, &out);
  check_message_has(msg,
                    "the FAILURE names the account, the status, the API's "
                    "reason, and says revoked or has expired",
                    (const char *const[]){"acme-prod", "401",
                                          "User not authenticated.",
                                          "revoked or has expired", NULL},
                    NULL);

  p = POLLS[P_FORBIDDEN].poll;
  msg = message_after(&POL_PLAIN, &p, 1, TD_NOTE_TOKEN_VALID, &out);
  check_message_has(msg,
                    "a 403 FAILURE names 403 and its reason, and says "
                    "allowed, not revoked",
                    (const char *const[]){"acme-prod", "HTTP 403",
                                          "Insufficient permissions",
                                          "the token is valid but not "
                                          "allowed this request "
                                          "(permissions or plan)",
                                          NULL},
                    (const char *const[]){"revoked", "expired", NULL});

  p = POLLS[P_REVOKED_HTML].poll;
  msg = message_after(&POL_PLAIN, &p, 1, TD_NOTE_TOKEN_VALID, &out);
  check_message_has(msg,
                    "a 401 with a broken body: no reason quoted from it",
                    (const char *const[]){"acme-prod", "401",
                                          "revoked or has expired", NULL},
                    (const char *const[]){"stale", NULL});

  td_poll_t seq[3] = {POLLS[P_REVOKED].poll, POLLS[P_VALID].poll};
  msg = message_after(&POL_PLAIN, seq, 2, TD_NOTE_TOKEN_VALID, &out);
  check_message_has(msg, "the OKAY names the account",
                    (const char *const[]){"acme-prod", NULL}, NULL);

  /* Reasons come from the network: control bytes out, length bounded. */
  td_account_info_t hostile = INFO_REVOKED;
  snprintf(hostile.reason, sizeof(hostile.reason), "%s",
           "bad\ntoken\x1b[2J\r\ttail");
  p = POLLS[P_REVOKED].poll;
  p.info = &hostile;
  msg = message_after(&POL_PLAIN, &p, 1, TD_NOTE_TOKEN_VALID, &out);
  tap_ok(!has_control(msg),
         "a reason with \\n, ESC, \\r and \\t: none of them in the FAILURE");
  check_message_has(msg, "the reason is there with spaces in their place",
                    (const char *const[]){"bad token [2J", NULL}, NULL);
  tap_ok(!has_control(out.log), "nor in the log line");

  memset(hostile.reason, 'R', TD_EXTRACT_MAX_STRING);
  hostile.reason[TD_EXTRACT_MAX_STRING] = '\0';
  msg = message_after(&POL_PLAIN, &p, 1, TD_NOTE_TOKEN_VALID, &out);
  size_t run_len = longest_run(msg, 'R');
  tap_ok(run_len > 0 && run_len <= TD_VERDICT_MAX_REASON,
         "a reason of %d bytes is quoted, cut to at most "
         "TD_VERDICT_MAX_REASON bytes (quoted %zu)",
         TD_EXTRACT_MAX_STRING, run_len);
  check_message_has(msg, "and the message still says what happened",
                    (const char *const[]){"acme-prod", "401", NULL}, NULL);

  hostile.reason[0] = '\0';
  for (int i = 0; i < TD_EXTRACT_MAX_STRING / 2; i++)
    strcat(hostile.reason, "\xc3\xa9"); /* é */
  msg = message_after(&POL_PLAIN, &p, 1, TD_NOTE_TOKEN_VALID, &out);
  size_t e_bytes = 0;
  for (const char *c = msg; *c; c++)
    e_bytes += (unsigned char)*c == 0xc3 || (unsigned char)*c == 0xa9;
  tap_ok(e_bytes > 0 && e_bytes <= TD_VERDICT_MAX_REASON,
         "a reason of 127 two-byte characters is cut to at most "
         "TD_VERDICT_MAX_REASON bytes (quoted %zu)",
         e_bytes);
  tap_ok(valid_utf8(msg), "and cut between characters, not inside one");
}

/* 401, 402 and 403 each in their own words, in the FAILURE, the log line
 * and the check's fragment (td_words_rejection), with or without
 * TokenExpires: only a 401 speaks of revocation or expiry. */
static void check_refusal_words(void) {
  const struct {
    poll_kind_t poll;
    const td_policy_t *pol;
    double at; /* seconds after T0 */
    const char *note, *log, *rejection;
  } cases[] = {
      {P_REVOKED, &POL_PLAIN, 0,
       "Account \"acme-prod\": TelemetryDeck rejected the token with HTTP "
       "401 (User not authenticated.): it was revoked or has expired.",
       "account \"acme-prod\": the API rejected the token with HTTP 401 "
       "(User not authenticated.)",
       "was revoked or has expired"},
      {P_PAYMENT, &POL_PLAIN, 0,
       "Account \"acme-prod\": HTTP 402 (Payment Required): TelemetryDeck "
       "requires a paid plan for personal access tokens.",
       "account \"acme-prod\": HTTP 402 (Payment Required): TelemetryDeck "
       "requires a paid plan for personal access tokens",
       ""},
      {P_FORBIDDEN, &POL_PLAIN, 0,
       "Account \"acme-prod\": HTTP 403 (Insufficient permissions): the "
       "token is valid but not allowed this request (permissions or plan).",
       "account \"acme-prod\": HTTP 403 (Insufficient permissions): the "
       "token is valid but not allowed this request (permissions or plan)",
       ""},
      {P_PAYMENT, &POL_EXPIRY, 0,
       "Account \"acme-prod\": HTTP 402 (Payment Required): TelemetryDeck "
       "requires a paid plan for personal access tokens.",
       NULL, ""},
      {P_FORBIDDEN, &POL_EXPIRY, 50 * DAY,
       "Account \"acme-prod\": HTTP 403 (Insufficient permissions): the "
       "token is valid but not allowed this request (permissions or plan).",
       NULL, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *name = POLLS[cases[i].poll].name;
    td_state_t st;
    td_step_t out;
    char why[80] = "unset";
    td_state_init(&st);
    run(&st, cases[i].pol, cases[i].poll, T0 + cases[i].at, &out);
    const td_note_t *n = find_note(&out, TD_NOTE_TOKEN_VALID);
    tap_is_str(n != NULL ? n->message : "(none)", cases[i].note,
               "%s%s: the FAILURE's words", name,
               cases[i].pol->has_expiry ? " with TokenExpires" : "");
    if (cases[i].log != NULL)
      tap_is_str(out.log, cases[i].log, "%s: the log line", name);
    if (n != NULL)
      td_words_rejection(n, "--expires", why, sizeof(why));
    tap_is_str(why, cases[i].rejection, "%s%s: the check's fragment", name,
               cases[i].pol->has_expiry ? " with --expires" : "");
  }
}

/* Dates as td_words writes them; the epoch itself is a date like any
 * other (TokenExpires "1970-01-01"), only what no calendar can show is
 * "an unknown date". */
static void check_dates(void) {
  const struct {
    double epoch;
    const char *want;
  } cases[] = {
      {0, "1970-01-01T00:00:00Z"},
      {1, "1970-01-01T00:00:01Z"},
      {-86400, "1969-12-31T00:00:00Z"},
      {T0, "2027-01-15T08:00:00Z"},
      {253402300799.0, "9999-12-31T23:59:59Z"},
      {253402300800.0, "an unknown date"},
      {-253402300800.0, "an unknown date"},
      {1e300, "an unknown date"},
      {0.0 / 0.0, "an unknown date"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char date[32];
    td_words_date(cases[i].epoch, date, sizeof(date));
    tap_is_str(date, cases[i].want, "td_words_date(%g)", cases[i].epoch);
  }
  /* TokenExpires "1970-01-01": the FAILURE names the date. */
  td_policy_t pol = POL_EXPIRY;
  td_step_t out;
  pol.expires = 0;
  const char *msg =
      message_after(&pol, &POLLS[P_VALID].poll, 1, TD_NOTE_TOKEN_EXPIRY, &out);
  check_message_has(msg,
                    "TokenExpires 1970-01-01: the expiry FAILURE names "
                    "the date",
                    (const char *const[]){"1970-01-01T00:00:00Z", NULL},
                    (const char *const[]){"unknown", NULL});
}

static void check_reach_messages(void) {
  td_step_t out;
  const struct {
    const char *what;
    poll_kind_t polls[3];
    const char *must;
  } cases[] = {
      {"the WARNING carries the error text", {P_REFUSED, P_REFUSED, P_REFUSED},
       "Connection refused"},
      {"the WARNING carries the last error text",
       {P_TIMEOUT, P_UNAVAILABLE, P_REFUSED},
       "Connection refused"},
      {"a timeout is named", {P_REFUSED, P_REFUSED, P_TIMEOUT},
       "Timeout after 10 s"},
      {"a TLS failure is named", {P_REFUSED, P_REFUSED, P_TLS},
       "TLS verification failed"},
      {"a 503 is named HTTP 503", {P_REFUSED, P_REFUSED, P_UNAVAILABLE},
       "HTTP 503"},
      {"a 500 is named HTTP 500",
       {P_SERVER_ERROR_VALID_BODY, P_SERVER_ERROR_VALID_BODY,
        P_SERVER_ERROR_VALID_BODY},
       "HTTP 500"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_poll_t ps[3];
    for (int j = 0; j < 3; j++)
      ps[j] = POLLS[cases[i].polls[j]].poll;
    const char *msg =
        message_after(&POL_PLAIN, ps, 3, TD_NOTE_API_REACHABLE, &out);
    check_message_has(msg, cases[i].what,
                      (const char *const[]){cases[i].must, NULL}, NULL);
  }

  char long_error[1001];
  memset(long_error, 'E', 1000);
  long_error[1000] = '\0';
  td_poll_t p = POLLS[P_REFUSED].poll;
  p.error = long_error;
  const char *msg =
      message_after(&POL_AFTER1, &p, 1, TD_NOTE_API_REACHABLE, &out);
  size_t run_len = longest_run(msg, 'E');
  tap_ok(run_len > 0 && run_len <= TD_VERDICT_MAX_ERROR,
         "a 1000-byte error text is quoted, cut to at most "
         "TD_VERDICT_MAX_ERROR bytes (quoted %zu)",
         run_len);

  p.error = "SSL: certificate subject name 'evil\nname' does not match";
  msg = message_after(&POL_AFTER1, &p, 1, TD_NOTE_API_REACHABLE, &out);
  tap_ok(!has_control(msg) && contains(msg, "evil name"),
         "an error text with a newline is quoted without it");
  if (has_control(msg) || !contains(msg, "evil name"))
    tap_diag("message: %s", msg);

  /* An account name longer than a message still gives bounded notes. */
  char long_name[301];
  memset(long_name, 'A', 300);
  long_name[300] = '\0';
  td_policy_t pol = POL_AFTER1;
  pol.account = long_name;
  td_poll_t ps[2] = {POLLS[P_REVOKED].poll, POLLS[P_REFUSED].poll};
  msg = message_after(&pol, ps, 1, TD_NOTE_TOKEN_VALID, &out);
  tap_ok(strlen(msg) <= TD_VERDICT_MAX_TEXT,
         "a 300-byte account name: the FAILURE fits TD_VERDICT_MAX_TEXT");
  msg = message_after(&pol, ps + 1, 1, TD_NOTE_API_REACHABLE, &out);
  tap_ok(strlen(msg) <= TD_VERDICT_MAX_TEXT,
         "a 300-byte account name: the WARNING fits TD_VERDICT_MAX_TEXT");

  /* Cut to fit, a message still ends on a character boundary. */
  char utf8_name[301] = "x"; /* an odd byte first: no lucky even cut */
  for (int i = 0; i < 149; i++)
    strcat(utf8_name, "\xc3\xa9"); /* é */
  pol.account = utf8_name;
  const struct {
    const char *what;
    poll_kind_t poll;
    td_note_kind_t kind;
  } cuts[] = {
      {"the token FAILURE", P_REVOKED, TD_NOTE_TOKEN_VALID},
      {"the reachability WARNING", P_REFUSED, TD_NOTE_API_REACHABLE},
      {"the rate-limit WARNING", P_RATE_LIMITED, TD_NOTE_RATE_LIMITED},
  };
  for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
    td_poll_t p1 = POLLS[cuts[i].poll].poll;
    msg = message_after(&pol, &p1, 1, cuts[i].kind, &out);
    tap_ok(valid_utf8(msg),
           "an account name of 149 two-byte characters: %s is cut between "
           "characters", cuts[i].what);
    tap_ok(valid_utf8(out.log),
           "an account name of 149 two-byte characters: the log line after "
           "%s is cut between characters", cuts[i].what);
  }
}

/* ------------------------------------------------------------------ */
/* Odd inputs map to outputs too                                       */

static void check_odd_inputs(void) {
  const struct {
    const char *what;
    td_poll_t poll;
  } cases[] = {
      {"a negative status",
       {.http_status = -1, .body = TD_JSON_OK, .retry_after = -1}},
      {"a status of 99999",
       {.http_status = 99999, .response_time = 1, .body = TD_JSON_OK,
        .info = &INFO_VALID, .retry_after = -1}},
      {"a 200 whose body ran out of memory",
       {.http_status = 200, .response_time = 1, .body = TD_JSON_E_NOMEM,
        .retry_after = -1}},
      {"a 401 without info",
       {.http_status = 401, .response_time = 1, .body = TD_JSON_OK,
        .retry_after = -1}},
      {"a 429 asking for a negative wait",
       {.http_status = 429, .response_time = 1, .body = TD_JSON_OK,
        .retry_after = -5000}},
      {"a 200 with an error text",
       {.http_status = 200, .error = "Operation timed out",
        .response_time = 10, .body = TD_JSON_E_TRUNCATED,
        .info = &INFO_STALE, .retry_after = -1}},
  };
  td_state_t st;
  td_state_init(&st);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    for (int rep = 0; rep < 3; rep++) {
      td_step_t out;
      memset(&out, 0xA5, sizeof(out));
      step_and_word(&st, &POL_AFTER1, &cases[i].poll, T0 + 60.0 * i, &out);
      check_bounds(&out, 0, cases[i].what);
    }
  }
  td_step_t out;
  memset(&out, 0xA5, sizeof(out));
  step_and_word(&st, &POL_AFTER1, &cases[0].poll, T0 + DAY, &out);
  tap_is_int(out.api_reachable, 0, "a negative status is no answer");
  memset(&out, 0xA5, sizeof(out));
  step_and_word(&st, &POL_AFTER1, &cases[1].poll, T0 + DAY, &out);
  tap_is_int(out.api_reachable, 0, "a status of 99999 is no usable answer");
  tap_is_int(out.token_valid, -1, "and tells nothing of the token");
  tap_is_int(may_poll(&st, T0 + 2 * DAY + 1), 1,
             "after a negative Retry-After, polls go on");
}

/* ------------------------------------------------------------------ */
/* td_text_clean                                                       */

static void check_sanitize(void) {
  const struct {
    const char *text;
    size_t size, max;
    const char *want;
  } cases[] = {
      {"plain text", 64, 64, "plain text"},
      {"", 64, 64, ""},
      {"a\nb\rc\td", 64, 64, "a b c d"},
      {"\x1b[31mred\x1b[0m", 64, 64, " [31mred [0m"},
      {"\x01\x02\x1f", 64, 64, "   "},
      {"del\x7f", 64, 64, "del "},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64, 64,
       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      /* cut at max bytes, never inside a character */
      {"abcdef", 64, 3, "abc"},
      {"abcdef", 64, 0, ""},
      {"caf\xc3\xa9", 64, 4, "caf"},
      {"caf\xc3\xa9", 64, 5, "caf\xc3\xa9"},
      {"a\xe2\x82\xac", 64, 2, "a"},
      {"a\xe2\x82\xac", 64, 3, "a"},
      {"a\xe2\x82\xac", 64, 4, "a\xe2\x82\xac"},
      {"a\xf0\x9f\x98\x80", 64, 2, "a"},
      {"a\xf0\x9f\x98\x80", 64, 4, "a"},
      {"a\xf0\x9f\x98\x80", 64, 5, "a\xf0\x9f\x98\x80"},
      {"a\n\xc3\xa9", 64, 3, "a "},
      /* the destination's size bounds it too, NUL included */
      {"abcdef", 4, 100, "abc"},
      {"caf\xc3\xa9", 5, 100, "caf"},
      {"caf\xc3\xa9", 6, 100, "caf\xc3\xa9"},
      {"abc", 1, 100, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char dst[80];
    memset(dst, 'Z', sizeof(dst));
    td_text_clean(dst, cases[i].size, cases[i].text, cases[i].max);
    int inside = memchr(dst, '\0', cases[i].size) != NULL;
    int canary = 1;
    for (size_t j = cases[i].size; j < sizeof(dst); j++)
      canary &= dst[j] == 'Z';
    tap_ok(inside && canary, "sanitize #%zu (size %zu, max %zu) writes only "
           "its size, NUL included", i + 1, cases[i].size, cases[i].max);
    if (inside)
      tap_is_str(dst, cases[i].want, "sanitize #%zu (size %zu, max %zu)",
                 i + 1, cases[i].size, cases[i].max);
    else
      tap_ok(0, "sanitize #%zu (size %zu, max %zu)", i + 1, cases[i].size,
             cases[i].max);
  }
}

/* ------------------------------------------------------------------ */
/* Types of the notifications                                          */

static void check_note_types(void) {
  const struct {
    td_note_kind_t kind;
    const char *type, *instance;
  } cases[] = {
      {TD_NOTE_TOKEN_VALID, "bool", "token_valid"},
      {TD_NOTE_API_REACHABLE, "bool", "api_reachable"},
      {TD_NOTE_TOKEN_EXPIRY, "timeleft", "token"},
      {TD_NOTE_RATE_LIMITED, "bool", "rate_limited"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tap_is_str(td_words_note_type(cases[i].kind), cases[i].type,
               "the type of a %s note is %s", kind_name(cases[i].kind),
               cases[i].type);
    tap_is_str(td_words_note_type_instance(cases[i].kind), cases[i].instance,
               "the type instance of a %s note is %s",
               kind_name(cases[i].kind), cases[i].instance);
  }
}

/* A 200 for the account with this id and e-mail. */
static td_poll_t answer_for(td_account_info_t *info, const char *id,
                            const char *email) {
  memset(info, 0, sizeof(*info));
  snprintf(info->id, sizeof(info->id), "%s", id);
  snprintf(info->email, sizeof(info->email), "%s", email);
  info->email_verified = 1;
  info->top_is_object = 1;
  return (td_poll_t){.http_status = 200, .body = TD_JSON_OK, .info = info,
                     .retry_after = -1, .response_time = 0.1};
}

static void check_expect_user(void) {
  td_policy_t by_email = POL_PLAIN, by_id = POL_PLAIN;
  by_email.expect_user = "You@Example.com";
  by_id.expect_user = "BADA55";
  td_account_info_t mine, other;
  td_poll_t ok = answer_for(&mine, "BADA55", "you@example.com");
  td_poll_t swapped = answer_for(&other, "C0FFEE", "someone@example.com");
  td_state_t st;
  td_step_t out;

  td_state_init(&st);
  step_and_word(&st, &by_email, &ok, T0, &out);
  tap_is_int(out.token_valid, 1, "ExpectUser matches the e-mail without case");
  tap_is_int((long long)out.n_notes, 0, "a matching first poll raises nothing");
  step_and_word(&st, &by_email, &swapped, T0 + 60, &out);
  tap_is_int(out.token_valid, 0, "another user's token counts as not valid");
  const td_note_t *n = find_note(&out, TD_NOTE_TOKEN_VALID);
  tap_ok(n != NULL && n->severity == TD_SEV_FAILURE &&
             contains(n->message, "ExpectUser \"You@Example.com\"") &&
             !contains(n->message, "someone@example.com"),
         "another user's token: one FAILURE naming ExpectUser, not the "
         "other user's e-mail");
  tap_ok(contains(out.log, "another user than ExpectUser"),
         "another user's token: the log line says so");
  step_and_word(&st, &by_email, &swapped, T0 + 120, &out);
  tap_is_int((long long)out.n_notes, 0, "still another user's: no repeat");
  step_and_word(&st, &by_email, &ok, T0 + 180, &out);
  n = find_note(&out, TD_NOTE_TOKEN_VALID);
  tap_ok(n != NULL && n->severity == TD_SEV_OKAY,
         "the expected user again: one OKAY");

  td_state_init(&st);
  step_and_word(&st, &by_id, &ok, T0, &out);
  tap_is_int(out.token_valid, 1, "ExpectUser matches the id");

  /* The server writes UUIDs in upper case (Swift's UUID); a copy from
   * elsewhere may be in lower case: still the same user. */
  td_policy_t by_uuid = POL_PLAIN;
  td_account_info_t upper, lower;
  by_uuid.expect_user = "6f1e8a84-0c1d-4b5e-9f00-a1b2c3d4e5f6";
  td_poll_t uuid_upper =
      answer_for(&upper, "6F1E8A84-0C1D-4B5E-9F00-A1B2C3D4E5F6", "");
  td_poll_t uuid_lower =
      answer_for(&lower, "6f1e8a84-0c1d-4b5e-9f00-a1b2c3d4e5f6", "");
  td_state_init(&st);
  step_and_word(&st, &by_uuid, &uuid_upper, T0, &out);
  tap_ok(out.token_valid == 1 && out.n_notes == 0 && !out.log_is_problem,
         "ExpectUser in lower case matches the id in upper case: valid, "
         "no note, no problem line");
  by_uuid.expect_user = "6F1E8A84-0C1D-4B5E-9F00-A1B2C3D4E5F7";
  step_and_word(&st, &by_uuid, &uuid_upper, T0 + 60, &out);
  tap_is_int(out.token_valid, 0, "an id one digit off is another user");

  td_state_init(&st);
  step_and_word(&st, &POL_PLAIN, &uuid_upper, T0, &out);
  step_and_word(&st, &POL_PLAIN, &uuid_lower, T0 + 60, &out);
  tap_is_int((long long)out.n_notes, 0,
             "without ExpectUser, the same id in another case is no new "
             "user");

  td_state_init(&st);
  step_and_word(&st, &POL_PLAIN, &ok, T0, &out);
  step_and_word(&st, &POL_PLAIN, &swapped, T0 + 60, &out);
  n = find_note(&out, TD_NOTE_TOKEN_VALID);
  tap_ok(out.token_valid == 1 && n != NULL && n->severity == TD_SEV_WARNING &&
             contains(n->message, "another TelemetryDeck user than at the "
                                  "previous poll"),
         "without ExpectUser, a token that changes user gives one WARNING");
  step_and_word(&st, &POL_PLAIN, &swapped, T0 + 120, &out);
  tap_is_int((long long)out.n_notes, 0, "the same new user again: nothing");
}

static void check_phases(void) {
  static const struct {
    const char *what;
    double marks[TD_MARKS];
    double want[TD_PHASES];
  } cases[] = {
      {"a new TLS connection: every phase on its own",
       {0.010, 0.020, 0.050, 0.051, 0.100, 0.120},
       {0.010, 0.010, 0.030, 0.049, 0.020}},
      {"a reused connection: no DNS, connect or TLS",
       {0.00002, 0, 0, 0.0001, 0.0002, 0.0003},
       {0, 0, 0, 0.0001, 0.0001}},
      {"plain http: no TLS phase",
       {0.010, 0.020, 0, 0.021, 0.050, 0.060},
       {0.010, 0.010, 0, 0.029, 0.010}},
      {"marks out of order never give a negative phase",
       {0.5, 0.2, 0.1, 0.05, 0.01, 0.001},
       {0.5, 0, 0, 0, 0}},
  };
  static const char *names[TD_PHASES] = {"dns", "connect", "tls", "ttfb",
                                         "transfer"};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double got[TD_PHASES];
    td_answer_phases(cases[i].marks, got);
    for (int k = 0; k < TD_PHASES; k++)
      tap_is_double(got[k], cases[i].want[k], 1e-9, "%s: %s", cases[i].what,
                    names[k]);
  }
}

static void check_tls_expiry(void) {
  td_policy_t pol = POL_PLAIN;
  pol.tls_warning_days = 14;
  pol.tls_failure_days = 3;
  td_account_info_t info;
  td_poll_t p = answer_for(&info, "BADA55", "you@example.com");
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  step_and_word(&st, &pol, &p, T0, &out);
  tap_ok(!out.has_tls_timeleft, "no certificate seen: no TLS value");
  const double lefts[] = {20, 13.5, 10, 2.5, 1, 0};
  const char *want[] = {"", "WARNING", "", "FAILURE", "", ""};
  for (size_t i = 0; i < sizeof(lefts) / sizeof(lefts[0]); i++) {
    p.cert_expires = T0 + lefts[i] * DAY;
    step_and_word(&st, &pol, &p, T0, &out);
    tap_is_double(out.tls_timeleft / DAY, lefts[i], 1e-9,
                  "certificate %.1f days out: timeleft-tls_certificate", lefts[i]);
    const td_note_t *n = find_note(&out, TD_NOTE_TLS_EXPIRY);
    tap_is_str(n == NULL ? "" : severity_name(n->severity), want[i],
               "certificate %.1f days out: %s", lefts[i],
               want[i][0] ? want[i] : "no new note");
    if (n != NULL)
      tap_ok(contains(n->message, "TLS certificate expires in") &&
                 contains(n->message, pol.account),
             "the TLS note names the account and when the certificate "
             "expires");
  }
  tap_is_str(td_words_note_type_instance(TD_NOTE_TLS_EXPIRY), "tls_certificate",
             "the TLS note is timeleft-tls_certificate");
}

/* telemetrydeck-check's status for a first poll of every kind of the
 * table, with the check's policy (one failed poll is the verdict): a
 * WARNING or CRITICAL exactly when the plugin, polling the same, raises a
 * notification of that severity (a rate limit and an unreachable API are
 * CRITICAL and WARNING the other way round: the check has no second
 * poll), OK exactly when the token is valid, UNKNOWN when the answer
 * cannot be judged. */
static void check_nagios(void) {
  static const td_nagios_t want[P_TICK] = {
      [P_VALID] = TD_NAGIOS_OK,
      [P_VALID_UNVERIFIED] = TD_NAGIOS_OK,
      [P_VALID_NO_EMAIL_FLAG] = TD_NAGIOS_OK,
      [P_VALID_EMPTY_ERROR_TEXT] = TD_NAGIOS_OK,
      [P_NO_ID] = TD_NAGIOS_UNKNOWN,
      [P_NULL_INFO] = TD_NAGIOS_UNKNOWN,
      [P_BAD_JSON] = TD_NAGIOS_UNKNOWN,
      [P_CUT_BODY] = TD_NAGIOS_CRITICAL,
      [P_REVOKED] = TD_NAGIOS_CRITICAL,
      [P_REVOKED_HTML] = TD_NAGIOS_CRITICAL,
      [P_FORBIDDEN] = TD_NAGIOS_CRITICAL,
      [P_PAYMENT] = TD_NAGIOS_CRITICAL, /* the token is unusable */
      [P_NOT_FOUND] = TD_NAGIOS_UNKNOWN,
      [P_RATE_LIMITED] = TD_NAGIOS_WARNING,
      [P_RATE_LIMITED_NO_WAIT] = TD_NAGIOS_WARNING,
      [P_SERVER_ERROR_VALID_BODY] = TD_NAGIOS_CRITICAL,
      [P_UNAVAILABLE] = TD_NAGIOS_CRITICAL,
      [P_BAD_GATEWAY] = TD_NAGIOS_CRITICAL,
      [P_REFUSED] = TD_NAGIOS_CRITICAL,
      [P_REFUSED_PACED] = TD_NAGIOS_CRITICAL,
      [P_TIMEOUT] = TD_NAGIOS_CRITICAL,
      [P_TLS] = TD_NAGIOS_CRITICAL,
      [P_NO_ANSWER_NO_ERROR] = TD_NAGIOS_CRITICAL,
  };
  for (int k = 0; k < P_TICK; k++) {
    td_state_t st;
    td_step_t out;
    td_state_init(&st);
    run(&st, &POL_AFTER1, (poll_kind_t)k, T0, &out);
    td_nagios_t got = td_nagios_step(&out);
    tap_is_int(got, want[k], "the check's status for a first %s",
               POLLS[k].name);
    int noted = 0;
    for (size_t i = 0; i < out.n_notes; i++)
      noted |= out.notes[i].severity != TD_SEV_OKAY;
    tap_is_int(noted, got == TD_NAGIOS_WARNING || got == TD_NAGIOS_CRITICAL,
               "%s: the plugin notifies exactly when the check is not OK "
               "or UNKNOWN",
               POLLS[k].name);
  }
  /* The expiry notes set the status; the problem words it. */
  const struct {
    double days_left;
    poll_kind_t kind;
    td_nagios_t want;
  } expiry[] = {
      {45, P_VALID, TD_NAGIOS_OK},
      {30, P_VALID, TD_NAGIOS_WARNING},
      {7, P_VALID, TD_NAGIOS_CRITICAL},
      {-1, P_REVOKED, TD_NAGIOS_CRITICAL},
      {20, P_RATE_LIMITED, TD_NAGIOS_WARNING},
      {3, P_RATE_LIMITED, TD_NAGIOS_CRITICAL},
      /* An answer that cannot be judged is UNKNOWN, not hidden behind
       * the expiry's WARNING; a CRITICAL expiry still outranks it. */
      {20, P_NOT_FOUND, TD_NAGIOS_UNKNOWN},
      {3, P_NOT_FOUND, TD_NAGIOS_CRITICAL},
      {20, P_BAD_JSON, TD_NAGIOS_UNKNOWN},
  };
  td_policy_t pol = POL_EXPIRY;
  pol.unreachable_after = 1;
  for (size_t i = 0; i < sizeof(expiry) / sizeof(expiry[0]); i++) {
    td_state_t st;
    td_step_t out;
    td_state_init(&st);
    run(&st, &pol, expiry[i].kind, pol.expires - expiry[i].days_left * DAY,
        &out);
    tap_is_int(td_nagios_step(&out), expiry[i].want,
               "%s with %g days left: status %d", POLLS[expiry[i].kind].name,
               expiry[i].days_left, expiry[i].want);
  }
}

/* A token that cannot be read: no poll, one FAILURE until it can, then
 * one OKAY; the first poll without a problem and each recovery are logged
 * with whom the token belongs to. */
static void check_unreadable_and_first_poll(void) {
  td_state_t st;
  td_step_t out;
  td_state_init(&st);
  step_and_word(&st, &POL_PLAIN, &POLLS[P_VALID].poll, T0, &out);
  tap_ok(strstr(out.log, "the first poll succeeds (HTTP 200); the token "
                         "belongs to \"") != NULL,
         "the first good poll is logged, with whom the token belongs to");
  tap_is_int(out.token_readable, 1, "a poll says the token was readable");
  step_and_word(&st, &POL_PLAIN, &POLLS[P_VALID].poll, T0 + 60, &out);
  tap_is_str(out.log, "", "the second good poll logs nothing");
  const char *whys[] = {"TokenFile \"/x\" cannot be opened",
                        "TokenFile \"/x\" is empty"};
  for (int i = 0; i < 2; i++) {
    td_state_unreadable(&st, &POL_PLAIN, whys[i], T0 + 120 + i * 60, &out);
    td_words_step(&POL_PLAIN, &out);
    tap_is_int(out.token_readable, 0, "an unreadable token: token_readable 0");
    tap_is_int(out.api_reachable, 0, "and no poll was made");
    tap_is_int(out.token_valid, -1, "and nothing is said of the token");
    tap_is_str(render_notes(&out), i == 0 ? "token_readable FAILURE" : "none",
               "unreadable, poll %d: %s", i,
               i == 0 ? "one FAILURE" : "no second one");
  }
  tap_ok(strstr(out.notes[0].message, "") != NULL, "words are made");
  td_state_unreadable(&st, &POL_PLAIN, whys[0], T0 + 300, &out);
  step_and_word(&st, &POL_PLAIN, &POLLS[P_VALID].poll, T0 + 360, &out);
  tap_is_str(render_notes(&out), "token_readable OKAY",
             "readable again: one OKAY");
  tap_is_str(out.log, "", "and no first-poll line a second time");
  step_and_word(&st, &POL_PLAIN, &POLLS[P_REVOKED].poll, T0 + 420, &out);
  step_and_word(&st, &POL_PLAIN, &POLLS[P_VALID].poll, T0 + 480, &out);
  tap_ok(strstr(out.log, "polls succeed again (HTTP 200); the token belongs "
                         "to \"") != NULL,
         "a recovery names whom the token belongs to");
  td_state_init(&st);
  td_state_unreadable(&st, &POL_PLAIN, whys[0], T0, &out);
  td_words_step(&POL_PLAIN, &out);
  tap_ok(out.n_notes == 1 && strstr(out.notes[0].message,
                                    "the token cannot be read (TokenFile "
                                    "\"/x\" cannot be opened); the account "
                                    "is not polled until it can.") != NULL,
         "the FAILURE says why, naming the file");
}

/* A reminder is the note's message with when its problem was first
 * notified, the facts that move brought up to date; it fits the bounds
 * however long the message it repeats. */
static void check_reminder_messages(void) {
  td_policy_t hourly = POL_PLAIN, daily = POL_EXPIRY_PATIENT;
  hourly.repeat_after = 3600;
  daily.repeat_after = DAY;
  td_state_t st;
  td_step_t out;
  const td_note_t *n;
  td_state_init(&st);
  run(&st, &hourly, P_REVOKED, T0, &out);
  char first[TD_VERDICT_MAX_TEXT + 1];
  snprintf(first, sizeof(first), "%s", out.notes[0].message);
  run(&st, &hourly, P_REVOKED, T0 + 3600, &out);
  n = find_note(&out, TD_NOTE_TOKEN_VALID);
  char want[TD_VERDICT_MAX_TEXT * 2];
  snprintf(want, sizeof(want),
           "%.*s (reminder: standing since "
           "2027-01-15T08:00:00Z).",
           (int)strlen(first) - 1, first);
  tap_is_str(n != NULL ? n->message : "(none)", want,
             "a reminder is the FAILURE's message, then since when it "
             "stands");
  tap_ok(n != NULL && n->reminder == 1 && n->since == T0 &&
             n->severity == TD_SEV_FAILURE,
         "a reminder is marked as one, with its FAILURE's time and "
         "severity");

  td_state_init(&st);
  run(&st, &daily, P_VALID, T0 + 20 * DAY, &out);
  run(&st, &daily, P_VALID, T0 + 25 * DAY, &out);
  n = find_note(&out, TD_NOTE_TOKEN_EXPIRY);
  check_message_has(n != NULL ? n->message : "(none)",
                    "an expiry reminder gives the days left now",
                    (const char *const[]){"expires in 15.0 days",
                                          "(reminder: standing since "
                                          "2027-02-04T08:00:00Z).",
                                          NULL},
                    (const char *const[]){"20.0 days", NULL});
  run(&st, &daily, P_VALID, T0 + 41 * DAY, &out);
  run(&st, &daily, P_VALID, T0 + 43 * DAY, &out);
  n = find_note(&out, TD_NOTE_TOKEN_EXPIRY);
  check_message_has(n != NULL ? n->message : "(none)",
                    "once the date has passed, the reminder says it expired",
                    (const char *const[]){"the token expired on",
                                          "(reminder: standing since "
                                          "2027-02-25T08:00:00Z).",
                                          NULL},
                    NULL);

  /* A message at its longest: a long account name, a long reason. */
  td_policy_t pol = hourly;
  char name[128];
  memset(name, 'n', sizeof(name) - 1);
  name[sizeof(name) - 1] = '\0';
  pol.account = name;
  td_account_info_t info = INFO_REVOKED;
  memset(info.reason, 'r', TD_VERDICT_MAX_REASON);
  info.reason[TD_VERDICT_MAX_REASON] = '\0';
  td_poll_t p = POLLS[P_REVOKED].poll;
  p.info = &info;
  td_state_init(&st);
  step_and_word(&st, &pol, &p, T0, &out);
  step_and_word(&st, &pol, &p, T0 + 3600, &out);
  check_bounds(&out, 0, "reminder of a long message");
  n = find_note(&out, TD_NOTE_TOKEN_VALID);
  const char *end = "(reminder: standing since 2027-01-15T08:00:00Z).";
  size_t len = n != NULL ? strlen(n->message) : 0;
  tap_ok(n != NULL && len <= TD_VERDICT_MAX_TEXT && len > strlen(end) &&
             strcmp(n->message + len - strlen(end), end) == 0,
         "a reminder of a message cut at %d bytes still ends saying it is "
         "one",
         TD_VERDICT_MAX_TEXT);

  /* The API's certificate: its reminders give the days left now, and a
   * FAILURE that falls to the warning window without a note (a renewal
   * into it) is reminded as the WARNING it now is. */
  td_policy_t tls = hourly;
  tls.tls_warning_days = 14;
  tls.tls_failure_days = 3;
  td_account_info_t cert_info;
  td_poll_t c = answer_for(&cert_info, "BADA55", "you@example.com");
  const struct {
    double t, cert_days; /* the certificate's days left at T0 */
    const char *notes, *has;
  } certs[] = {
      {0, 10, "tls_expiry WARNING", "expires in 10.0 days"},
      {3600, 10, "tls_expiry WARNING again", "expires in 10.0 days (2027"},
      {4 * 3600, 2, "tls_expiry FAILURE", "expires in 1.8 days"},
      {5 * 3600, 2, "tls_expiry FAILURE again", "expires in 1.8 days (2027"},
      {6 * 3600, 5, "tls_expiry WARNING again",
       "expires in 4.8 days (2027-01-20T08:00:00Z) (reminder"},
  };
  td_state_init(&st);
  for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
    c.cert_expires = T0 + certs[i].cert_days * DAY;
    step_and_word(&st, &tls, &c, T0 + certs[i].t, &out);
    check_bounds(&out, 0, "TLS reminder");
    n = find_note(&out, TD_NOTE_TLS_EXPIRY);
    tap_is_str(render_notes(&out), certs[i].notes,
               "certificate at %.0f s, %.0f days left at the start: notes",
               certs[i].t, certs[i].cert_days);
    check_message_has(n != NULL ? n->message : "(none)",
                      "and its message says how many days are left now",
                      (const char *const[]){certs[i].has, NULL}, NULL);
  }

  /* A token that cannot be read: reminded while no poll can be made, with
   * why it cannot be read now; the poll that reads it sends one OKAY. */
  td_state_init(&st);
  td_state_unreadable(&st, &hourly, "TokenFile \"/x\" cannot be opened", T0,
                      &out);
  td_state_unreadable(&st, &hourly, "TokenFile \"/x\" is empty", T0 + 1800,
                      &out);
  tap_is_str(render_notes(&out), "none", "unreadable for half an hour: none");
  td_state_unreadable(&st, &hourly, "TokenFile \"/x\" is empty", T0 + 3600,
                      &out);
  td_words_step(&hourly, &out);
  tap_is_str(render_notes(&out), "token_readable FAILURE again",
             "unreadable for an hour: the FAILURE again");
  n = find_note(&out, TD_NOTE_TOKEN_READABLE);
  check_message_has(n != NULL ? n->message : "(none)",
                    "and it says why the token cannot be read now",
                    (const char *const[]){"(TokenFile \"/x\" is empty)",
                                          "(reminder: standing since "
                                          "2027-01-15T08:00:00Z).",
                                          NULL},
                    (const char *const[]){"cannot be opened", NULL});
  step_and_word(&st, &hourly, &POLLS[P_VALID].poll, T0 + 3660, &out);
  tap_is_str(render_notes(&out), "token_readable OKAY", "read again: the OKAY");
  step_and_word(&st, &hourly, &POLLS[P_VALID].poll, T0 + 9000, &out);
  tap_is_str(render_notes(&out), "none", "and no reminder after it");

  /* The user-change WARNING is an event without a state: never repeated. */
  td_account_info_t mine, other;
  td_poll_t a = answer_for(&mine, "BADA55", "you@example.com");
  td_poll_t b = answer_for(&other, "C0FFEE", "someone@example.com");
  td_state_init(&st);
  step_and_word(&st, &hourly, &a, T0, &out);
  step_and_word(&st, &hourly, &b, T0 + 60, &out);
  tap_is_str(render_notes(&out), "token_valid WARNING",
             "another user's token: the user-change WARNING");
  step_and_word(&st, &hourly, &b, T0 + 7200, &out);
  tap_is_str(render_notes(&out), "none",
             "two hours on, the user-change WARNING is not repeated");
}

/* The check's own policy: the state of an outage, the response-time
 * thresholds and the API certificate's expiry notes, by td_nagios_judge
 * on steps made by hand. */
static void check_nagios_policy(void) {
  const struct {
    td_problem_kind_t kind;
    int reachable;
    double time;       /* response time, s; < 0: none */
    td_severity_t tls; /* the TLS expiry note's severity */
    td_nagios_t outage;
    double warn, crit;
    td_nagios_t want;
    const char *what;
  } rows[] = {
      {TD_PROBLEM_NONE, 1, 0.2, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 0, 0,
       TD_NAGIOS_OK, "a valid token, no thresholds"},
      {TD_PROBLEM_NO_ANSWER, 0, -1, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 0, 0,
       TD_NAGIOS_CRITICAL, "no answer, outage critical"},
      {TD_PROBLEM_NO_ANSWER, 0, -1, TD_SEV_OKAY, TD_NAGIOS_WARNING, 0, 0,
       TD_NAGIOS_WARNING, "no answer, outage warning"},
      {TD_PROBLEM_NO_ANSWER, 0, -1, TD_SEV_OKAY, TD_NAGIOS_UNKNOWN, 0, 0,
       TD_NAGIOS_UNKNOWN, "no answer, outage unknown"},
      {TD_PROBLEM_BROKE_OFF, 0, 1.0, TD_SEV_OKAY, TD_NAGIOS_WARNING, 0, 0,
       TD_NAGIOS_WARNING, "a broken transfer, outage warning"},
      {TD_PROBLEM_SERVER_ERROR, 0, 0.1, TD_SEV_OKAY, TD_NAGIOS_WARNING, 0, 0,
       TD_NAGIOS_WARNING, "HTTP 503, outage warning"},
      {TD_PROBLEM_SERVER_ERROR, 0, 0.1, TD_SEV_OKAY, TD_NAGIOS_UNKNOWN, 0, 0,
       TD_NAGIOS_UNKNOWN, "HTTP 503, outage unknown"},
      {TD_PROBLEM_REJECTED, 1, 0.1, TD_SEV_OKAY, TD_NAGIOS_WARNING, 0, 0,
       TD_NAGIOS_CRITICAL, "a revoked token stays CRITICAL, outage warning"},
      {TD_PROBLEM_RATE_LIMITED, 1, 0.1, TD_SEV_OKAY, TD_NAGIOS_UNKNOWN, 0, 0,
       TD_NAGIOS_WARNING, "a rate limit is no outage"},
      {TD_PROBLEM_UNUSABLE_BODY, 1, 0.1, TD_SEV_WARNING, TD_NAGIOS_CRITICAL, 0,
       0, TD_NAGIOS_UNKNOWN, "an unusable body outranks a TLS WARNING"},
      {TD_PROBLEM_NONE, 1, 0.2, TD_SEV_WARNING, TD_NAGIOS_CRITICAL, 0, 0,
       TD_NAGIOS_WARNING, "the certificate's WARNING note"},
      {TD_PROBLEM_NONE, 1, 0.2, TD_SEV_FAILURE, TD_NAGIOS_CRITICAL, 0, 0,
       TD_NAGIOS_CRITICAL, "the certificate's FAILURE note"},
      {TD_PROBLEM_NONE, 1, 0.5, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 1, 2,
       TD_NAGIOS_OK, "0.5 s under 1 and 2 s"},
      {TD_PROBLEM_NONE, 1, 1.0, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 1, 2,
       TD_NAGIOS_OK, "1 s at the warning threshold is not above it"},
      {TD_PROBLEM_NONE, 1, 1.5, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 1, 2,
       TD_NAGIOS_WARNING, "1.5 s above 1 s"},
      {TD_PROBLEM_NONE, 1, 2.5, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 1, 2,
       TD_NAGIOS_CRITICAL, "2.5 s above 2 s"},
      {TD_PROBLEM_NONE, 1, 2.5, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 0, 2,
       TD_NAGIOS_CRITICAL, "a critical threshold alone"},
      {TD_PROBLEM_NONE, 1, 2.5, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 1, 0,
       TD_NAGIOS_WARNING, "a warning threshold alone"},
      {TD_PROBLEM_NO_ANSWER, 0, 9.0, TD_SEV_OKAY, TD_NAGIOS_WARNING, 1, 0,
       TD_NAGIOS_WARNING, "a timeout's time, outage warning"},
      {TD_PROBLEM_UNEXPECTED, 1, 2.5, TD_SEV_OKAY, TD_NAGIOS_CRITICAL, 1, 0,
       TD_NAGIOS_UNKNOWN, "UNKNOWN outranks a slow answer's WARNING"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    td_step_t s;
    memset(&s, 0, sizeof(s));
    s.problem.kind = rows[i].kind;
    s.api_reachable = rows[i].reachable;
    s.has_response_time = rows[i].time >= 0;
    s.response_time = rows[i].time;
    if (rows[i].tls != TD_SEV_OKAY) {
      s.n_notes = 1;
      s.notes[0].kind = TD_NOTE_TLS_EXPIRY;
      s.notes[0].severity = rows[i].tls;
    }
    td_nagios_policy_t p;
    td_nagios_policy_init(&p);
    p.outage = rows[i].outage;
    p.time_warning = rows[i].warn;
    p.time_critical = rows[i].crit;
    tap_is_int(td_nagios_judge(&s, &p), rows[i].want, "judged: %s",
               rows[i].what);
  }
  /* The threshold a slow answer passed, which the check's words name. */
  const struct {
    double warn, crit, seconds;
    td_nagios_t want;
    double limit;
  } times[] = {
      {1, 2, 0.5, TD_NAGIOS_OK, 0},       {1, 2, 1.5, TD_NAGIOS_WARNING, 1},
      {1, 2, 2.5, TD_NAGIOS_CRITICAL, 2}, {0, 2, 1.5, TD_NAGIOS_OK, 0},
      {1, 0, 9.0, TD_NAGIOS_WARNING, 1},  {0, 0, 9.0, TD_NAGIOS_OK, 0}};
  for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    td_nagios_policy_t p;
    td_nagios_policy_init(&p);
    p.time_warning = times[i].warn;
    p.time_critical = times[i].crit;
    double limit = -1;
    tap_is_int(td_nagios_time(&p, times[i].seconds, &limit), times[i].want,
               "%g s against %g and %g", times[i].seconds, times[i].warn,
               times[i].crit);
    tap_ok(limit == times[i].limit, "passed %g (want %g)", limit,
           times[i].limit);
  }
  const struct {
    const char *text;
    int rc;
    td_nagios_t want;
  } words[] = {{"warning", 0, TD_NAGIOS_WARNING},
               {"CRITICAL", 0, TD_NAGIOS_CRITICAL},
               {"Unknown", 0, TD_NAGIOS_UNKNOWN},
               {"ok", -1, TD_NAGIOS_OK},
               {"", -1, TD_NAGIOS_OK},
               {"warn", -1, TD_NAGIOS_OK}};
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    td_nagios_t got = TD_NAGIOS_OK;
    int rc = td_nagios_parse_state(words[i].text, &got);
    tap_is_int(rc, words[i].rc, "--outage-state \"%s\": %s", words[i].text,
               rc == 0 ? "read" : "refused");
    tap_is_int(got, words[i].want, "--outage-state \"%s\": its status",
               words[i].text);
  }
  tap_is_int(td_nagios_worse(TD_NAGIOS_WARNING, TD_NAGIOS_UNKNOWN),
             TD_NAGIOS_UNKNOWN, "UNKNOWN is worse than WARNING");
  tap_is_int(td_nagios_worse(TD_NAGIOS_UNKNOWN, TD_NAGIOS_CRITICAL),
             TD_NAGIOS_CRITICAL, "CRITICAL is worse than UNKNOWN");
  tap_is_int(td_nagios_worse(TD_NAGIOS_OK, TD_NAGIOS_WARNING),
             TD_NAGIOS_WARNING, "WARNING is worse than OK");
}

int main(void) {
  check_note_types();
  check_unreadable_and_first_poll();
  check_phases();
  check_tls_expiry();
  check_expect_user();
  check_values();
  check_sequences();
  check_reminders();
  check_timeleft();
  check_tick_fills_output();
  check_expiry_first_poll();
  check_expiry_timelines();
  check_may_poll();
  check_log();
  check_token_messages();
  check_stopped();
  check_refusal_words();
  check_dates();
  check_reach_messages();
  check_odd_inputs();
  check_sanitize();
  check_nagios();
  check_reminder_messages();
  check_nagios_policy();

  tap_ok(bounds_first_broken == NULL,
         "every output of all %zu steps keeps td_state.h's bounds: notes, "
         "messages, log line, 0/1/-1 values",
         bounds_checked);
  if (bounds_first_broken != NULL)
    tap_diag("first broken: %s, at: %s", bounds_first_broken, bounds_where);
  return tap_done();
}
