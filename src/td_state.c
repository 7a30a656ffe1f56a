/* td_state: the per-account poll state machine. See td_state.h. */
#include "td_state.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SECONDS_PER_DAY 86400.0

void td_state_init(td_state_t *st) {
  memset(st, 0, sizeof(*st));
  st->token = TD_LEVEL_UNKNOWN;
  st->reach = TD_LEVEL_UNKNOWN;
  st->expiry = TD_LEVEL_UNKNOWN;
}

static td_note_t *add_note(td_step_t *out, td_note_kind_t kind,
                           td_severity_t sev, td_event_t ev) {
  if (out->n_notes >= TD_STATE_MAX_NOTES)
    return NULL;
  return td_verdict_note(&out->notes[out->n_notes++], kind, sev, ev);
}

/* Keeps text (from the network) in a verdict's field, bounded. */
static void keep(char *dst, size_t size, const char *text) {
  size_t len = text != NULL ? strnlen(text, size - 1) : 0;
  len = td_text_cut(text != NULL ? text : "", len);
  if (len > 0)
    memcpy(dst, text, len);
  dst[len] = '\0';
}

static int has_error(const td_poll_t *p) {
  return p->error != NULL && p->error[0] != '\0';
}

static int is_reachable(const td_poll_t *p) {
  return !has_error(p) && p->http_status > 0 && p->http_status < 500;
}

static int body_usable(const td_poll_t *p) {
  return p->body == TD_JSON_OK && p->info != NULL;
}

/* 1 when the answer names an account id (HTTP 200, complete body). */
static int names_account(const td_poll_t *p) {
  return !has_error(p) && p->http_status == 200 && body_usable(p) &&
         p->info->id[0] != '\0';
}

/* 1 when the account behind the token is the one ExpectUser names (an id
 * or an e-mail address, both compared without case: the server writes its
 * UUIDs in upper case, a copy from elsewhere may be in lower case), or
 * nothing is expected. */
static int is_expected_user(const td_policy_t *pol, const td_poll_t *p) {
  const char *want = pol->expect_user;
  return want == NULL || want[0] == '\0' ||
         strcasecmp(want, p->info->id) == 0 ||
         (p->info->email[0] != '\0' && strcasecmp(want, p->info->email) == 0);
}

/* 1 when the status says the token cannot be used: 401 (unknown,
 * revoked or expired), 402 (no paid plan) and 403 (not allowed). */
static int refuses_token(int code) {
  return code == 401 || code == 402 || code == 403;
}

/* 1 accepted, 0 rejected (or another user's), -1 this poll cannot tell. */
static int token_verdict(const td_policy_t *pol, const td_poll_t *p) {
  if (has_error(p))
    return -1;
  if (refuses_token(p->http_status))
    return 0;
  if (names_account(p))
    return is_expected_user(pol, p) ? 1 : 0;
  return -1;
}

/* The API's own reason, when the body was readable. */
static const char *reason_of(const td_poll_t *p) {
  return body_usable(p) ? p->info->reason : "";
}

/* What went wrong with this poll, as a verdict. */
static void find_problem(const td_policy_t *pol, const td_poll_t *p,
                         td_problem_t *pr) {
  int code = p->http_status;
  /* A verdict holds only the facts its kind words: two polls with the
   * same problem compare equal, however their bodies ended. */
  memset(pr, 0, sizeof(*pr));
  pr->http_status = code;
  pr->body = TD_JSON_OK;
  if (has_error(p)) {
    pr->kind = code > 0 ? TD_PROBLEM_BROKE_OFF : TD_PROBLEM_NO_ANSWER;
    keep(pr->text, sizeof(pr->text), p->error);
    return;
  }
  if (code >= 500)
    pr->kind = TD_PROBLEM_SERVER_ERROR;
  else if (code == 401)
    pr->kind = TD_PROBLEM_REJECTED;
  else if (code == 402)
    pr->kind = TD_PROBLEM_PAID_PLAN;
  else if (code == 403)
    pr->kind = TD_PROBLEM_FORBIDDEN;
  else if (code == 429)
    pr->kind = TD_PROBLEM_RATE_LIMITED;
  else if (code == 200 && p->body != TD_JSON_OK) {
    pr->kind = TD_PROBLEM_UNUSABLE_BODY;
    pr->body = p->body;
  }
  else if (code == 200 && (p->info == NULL || p->info->id[0] == '\0'))
    pr->kind = TD_PROBLEM_NO_ID;
  else if (code == 200 && !is_expected_user(pol, p))
    pr->kind = TD_PROBLEM_OTHER_USER;
  else if (code != 200)
    pr->kind = TD_PROBLEM_UNEXPECTED;
  if (refuses_token(code) || pr->kind == TD_PROBLEM_UNEXPECTED)
    keep(pr->text, sizeof(pr->text), reason_of(p));
}

/* Without ExpectUser, a token that starts to belong to another user than
 * at the last poll is worth a WARNING: someone swapped or pasted it. With
 * ExpectUser, step_token's FAILURE and OKAY already say it all. */
static void step_user_change(td_state_t *st, const td_policy_t *pol,
                             const td_poll_t *p, td_step_t *out) {
  if (!names_account(p))
    return;
  int expecting = pol->expect_user != NULL && pol->expect_user[0] != '\0';
  if (!expecting && st->last_id[0] != '\0' &&
      strcasecmp(st->last_id, p->info->id) != 0)
    add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_WARNING, TD_EV_TOKEN_NEW_USER);
  memcpy(st->last_id, p->info->id, sizeof(st->last_id));
}

static td_cause_t rejection_cause(const td_policy_t *pol, int code,
                                  double now) {
  if (code == 402)
    return TD_CAUSE_PAID_PLAN;
  if (code == 403)
    return TD_CAUSE_FORBIDDEN;
  if (!pol->has_expiry)
    return TD_CAUSE_UNKNOWN;
  return now >= pol->expires ? TD_CAUSE_EXPIRED : TD_CAUSE_REVOKED;
}

static void step_token(td_state_t *st, const td_policy_t *pol,
                       const td_poll_t *p, double now, td_step_t *out) {
  td_note_t *n;
  if (out->token_valid == 0 && st->token != TD_LEVEL_FAILURE) {
    st->token = TD_LEVEL_FAILURE;
    if (names_account(p)) {
      add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_FAILURE,
               TD_EV_TOKEN_OTHER_USER);
    } else if ((n = add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_FAILURE,
                             TD_EV_TOKEN_REJECTED)) != NULL) {
      n->http_status = p->http_status;
      n->cause = rejection_cause(pol, p->http_status, now);
      n->when = pol->expires;
      keep(n->text, sizeof(n->text), reason_of(p));
    }
  } else if (out->token_valid == 1) {
    if (st->token == TD_LEVEL_FAILURE)
      add_note(out, TD_NOTE_TOKEN_VALID, TD_SEV_OKAY, TD_EV_TOKEN_ACCEPTED);
    st->token = TD_LEVEL_OK;
  }
  step_user_change(st, pol, p, out);
}

static void step_reach(td_state_t *st, const td_policy_t *pol,
                       const td_poll_t *p, td_step_t *out) {
  unsigned after = pol->unreachable_after > 0 ? pol->unreachable_after : 1;
  td_note_t *n;
  if (out->api_reachable) {
    if (st->reach == TD_LEVEL_WARNING &&
        (n = add_note(out, TD_NOTE_API_REACHABLE, TD_SEV_OKAY,
                      TD_EV_REACHABLE)) != NULL) {
      n->http_status = p->http_status;
      n->failures = st->failures;
    }
    st->reach = TD_LEVEL_OK;
    st->failures = 0;
    return;
  }
  if (st->failures < UINT_MAX)
    st->failures++;
  if (st->failures >= after && st->reach != TD_LEVEL_WARNING) {
    st->reach = TD_LEVEL_WARNING;
    if ((n = add_note(out, TD_NOTE_API_REACHABLE, TD_SEV_WARNING,
                      TD_EV_UNREACHABLE)) != NULL) {
      n->failures = st->failures;
      n->http_status = p->http_status;
      if (has_error(p))
        keep(n->text, sizeof(n->text), p->error);
    }
  }
}

static void step_rate_limit(td_state_t *st, const td_poll_t *p,
                            td_step_t *out) {
  td_note_t *n;
  if (p->http_status != 429 || has_error(p)) {
    if (st->rate_limited)
      add_note(out, TD_NOTE_RATE_LIMITED, TD_SEV_OKAY, TD_EV_RATE_LIMIT_OVER);
    st->rate_limited = 0;
    return;
  }
  double wait = p->retry_after;
  if (wait > TD_STATE_MAX_WAIT)
    wait = TD_STATE_MAX_WAIT;
  if (wait > 0)
    out->hold = wait;
  if (!st->rate_limited &&
      (n = add_note(out, TD_NOTE_RATE_LIMITED, TD_SEV_WARNING,
                    TD_EV_RATE_LIMITED)) != NULL)
    n->number = wait > 0 ? wait : 0;
  st->rate_limited = 1;
}

/* Moves a deadline's level for the days left and adds the note when the
 * level got worse (or back to OK). */
static void deadline_step(td_level_t *level, double left, double warn,
                          double fail, td_note_kind_t kind,
                          const td_event_t events[3], double when,
                          td_step_t *out) {
  td_level_t now = left <= fail   ? TD_LEVEL_FAILURE
                   : left <= warn ? TD_LEVEL_WARNING
                                  : TD_LEVEL_OK;
  td_note_t *n = NULL;
  if (now > *level && now != TD_LEVEL_OK)
    n = add_note(out, kind,
                 now == TD_LEVEL_FAILURE ? TD_SEV_FAILURE : TD_SEV_WARNING,
                 left <= 0 ? events[1] : events[0]);
  else if (now == TD_LEVEL_OK && *level > TD_LEVEL_OK)
    n = add_note(out, kind, TD_SEV_OKAY, events[2]);
  if (n != NULL) {
    n->number = left;
    n->when = when;
  }
  *level = now;
}

/* Everything a step reports before anything is known. */
static void step_clear(td_step_t *out) {
  memset(out, 0, sizeof(*out));
  out->token_valid = -1;
  out->email_verified = -1;
  out->token_readable = -1;
}

static void expiry_step(td_state_t *st, const td_policy_t *pol, double now,
                        td_step_t *out) {
  static const td_event_t events[3] = {TD_EV_EXPIRY_NEAR, TD_EV_EXPIRED,
                                       TD_EV_EXPIRY_FAR};
  if (!pol->has_expiry)
    return;
  double left = (pol->expires - now) / SECONDS_PER_DAY;
  if (!(left > 0))
    left = 0;
  out->has_timeleft = 1;
  out->timeleft = left * SECONDS_PER_DAY;
  deadline_step(&st->expiry, left, pol->warning_days, pol->failure_days,
                TD_NOTE_TOKEN_EXPIRY, events, pol->expires, out);
}

/* The API's certificate: known only from polls that saw a handshake (and
 * remembered by the HTTP layer on a reused connection). */
static void tls_step(td_state_t *st, const td_policy_t *pol,
                     const td_poll_t *p, double now, td_step_t *out) {
  static const td_event_t events[3] = {
      TD_EV_TLS_EXPIRY_NEAR, TD_EV_TLS_EXPIRED, TD_EV_TLS_EXPIRY_FAR};
  if (!(p->cert_expires > 0))
    return;
  double left = (p->cert_expires - now) / SECONDS_PER_DAY;
  if (!(left > 0))
    left = 0;
  out->has_tls_timeleft = 1;
  out->tls_timeleft = left * SECONDS_PER_DAY;
  deadline_step(&st->tls_expiry, left, pol->tls_warning_days,
                pol->tls_failure_days, TD_NOTE_TLS_EXPIRY, events,
                p->cert_expires, out);
  /* A reminder speaks of the certificate seen last: a renewed one may
   * still be close to its expiry. */
  st->reminded[TD_NOTE_TLS_EXPIRY].when = p->cert_expires;
}

/* The level a note kind of the account stands at now. */
static td_level_t standing(const td_state_t *st, td_note_kind_t kind) {
  switch (kind) {
  case TD_NOTE_TOKEN_VALID:
    return st->token;
  case TD_NOTE_API_REACHABLE:
    return st->reach;
  case TD_NOTE_TOKEN_EXPIRY:
    return st->expiry;
  case TD_NOTE_RATE_LIMITED:
    return st->rate_limited ? TD_LEVEL_WARNING : TD_LEVEL_OK;
  case TD_NOTE_TLS_EXPIRY:
    return st->tls_expiry;
  case TD_NOTE_TOKEN_READABLE:
    return st->readable;
  case TD_NOTE_POLLING:
    return st->stopped ? TD_LEVEL_FAILURE : TD_LEVEL_OK;
  default: /* the organizations' kinds: td_orgstate's */
    return TD_LEVEL_UNKNOWN;
  }
}

static int raised(const td_step_t *out, size_t upto, td_note_kind_t kind) {
  for (size_t i = 0; i < upto; i++)
    if (out->notes[i].kind == kind)
      return 1;
  return 0;
}

/* A deadline's reminder says how it stands now: the days left, and a
 * level that fell without a note (a certificate renewed into the warning
 * window) as that level. */
static void refresh_deadline(td_level_t level, double expires, double now,
                             const td_event_t events[3], td_note_t *n) {
  double left = (expires - now) / SECONDS_PER_DAY;
  n->number = left > 0 ? left : 0;
  n->severity = level == TD_LEVEL_FAILURE ? TD_SEV_FAILURE : TD_SEV_WARNING;
  n->event = left > 0 ? events[0] : events[1];
}

/* The facts that move while a problem stands: the failed polls, the days
 * left. The rest is what the problem's note said. */
static void refresh(const td_state_t *st, const td_policy_t *pol, double now,
                    td_note_t *n) {
  static const td_event_t token[3] = {TD_EV_EXPIRY_NEAR, TD_EV_EXPIRED,
                                      TD_EV_EXPIRY_FAR};
  static const td_event_t tls[3] = {TD_EV_TLS_EXPIRY_NEAR, TD_EV_TLS_EXPIRED,
                                    TD_EV_TLS_EXPIRY_FAR};
  if (n->kind == TD_NOTE_API_REACHABLE)
    n->failures = st->failures;
  else if (n->kind == TD_NOTE_TOKEN_EXPIRY)
    refresh_deadline(st->expiry, pol->expires, now, token, n);
  else if (n->kind == TD_NOTE_TLS_EXPIRY)
    refresh_deadline(st->tls_expiry, n->when, now, tls, n);
}

/* Starts and ends the reminders from this step's notes, then adds those
 * due: a kind with a note of its own in this step is not reminded. */
static void remind_step(td_state_t *st, const td_policy_t *pol, double now,
                        td_step_t *out) {
  size_t noted = out->n_notes;
  td_note_t *n;
  for (size_t i = 0; i < noted; i++) {
    const td_note_t *m = &out->notes[i];
    if (m->event == TD_EV_TOKEN_NEW_USER || (size_t)m->kind >= TD_NOTE_KINDS)
      continue; /* an event without a state */
    td_verdict_remember(&st->remind[m->kind], m->severity, now);
    st->reminded[m->kind] = *m;
  }
  for (int k = 0; k < TD_NOTE_KINDS; k++) {
    td_remind_t *r = &st->remind[k];
    if (standing(st, (td_note_kind_t)k) < TD_LEVEL_WARNING) {
      td_verdict_forget(r);
      continue;
    }
    if (raised(out, noted, (td_note_kind_t)k) ||
        out->n_notes >= TD_STATE_MAX_NOTES ||
        !td_verdict_remind(r, pol->repeat_after, now))
      continue;
    n = &out->notes[out->n_notes++];
    *n = st->reminded[k];
    n->reminder = 1;
    n->since = r->since;
    n->message[0] = '\0';
    refresh(st, pol, now, n);
  }
}

void td_state_tick(td_state_t *st, const td_policy_t *pol, double now,
                   td_step_t *out) {
  step_clear(out);
  expiry_step(st, pol, now, out);
  remind_step(st, pol, now, out);
}

void td_state_unreadable(td_state_t *st, const td_policy_t *pol,
                         const char *why, double now, td_step_t *out) {
  td_note_t *n;
  step_clear(out);
  out->token_readable = 0;
  if (st->readable != TD_LEVEL_FAILURE &&
      (n = add_note(out, TD_NOTE_TOKEN_READABLE, TD_SEV_FAILURE,
                    TD_EV_TOKEN_UNREADABLE)) != NULL)
    keep(n->text, sizeof(n->text), why);
  st->readable = TD_LEVEL_FAILURE;
  expiry_step(st, pol, now, out);
  /* A reminder says why the token cannot be read now. */
  td_note_t *was = &st->reminded[TD_NOTE_TOKEN_READABLE];
  keep(was->text, sizeof(was->text), why);
  remind_step(st, pol, now, out);
}

void td_state_stopped(td_state_t *st, const char *why, td_step_t *out) {
  td_note_t *n;
  step_clear(out);
  if (!st->stopped && (n = add_note(out, TD_NOTE_POLLING, TD_SEV_FAILURE,
                                    TD_EV_POLLING_STOPPED)) != NULL)
    keep(n->text, sizeof(n->text), why);
  st->stopped = 1;
}

/* A poll was made, so the token could be read. */
static void step_readable(td_state_t *st, td_step_t *out) {
  out->token_readable = 1;
  if (st->readable == TD_LEVEL_FAILURE)
    add_note(out, TD_NOTE_TOKEN_READABLE, TD_SEV_OKAY, TD_EV_TOKEN_READABLE);
  st->readable = TD_LEVEL_OK;
}

/* Whom the token of a poll without a problem belongs to. */
static void step_user(const td_poll_t *p, td_step_t *out) {
  if (out->problem.kind != TD_PROBLEM_NONE || p->info == NULL)
    return;
  keep(out->user, sizeof(out->user),
       p->info->id[0] != '\0' ? p->info->id : p->info->email);
}

void td_state_step(td_state_t *st, const td_policy_t *pol,
                   const td_poll_t *p, double now, td_step_t *out) {
  step_clear(out);
  out->api_reachable = is_reachable(p);
  out->response_code = p->http_status > 0 ? p->http_status : 0;
  out->has_response_time = p->http_status > 0;
  out->response_time = p->response_time;
  out->has_phases = p->http_status > 0;
  memcpy(out->phases, p->phases, sizeof(out->phases));
  out->token_valid = token_verdict(pol, p);
  out->email_verified = out->token_valid == 1 ? p->info->email_verified : -1;
  find_problem(pol, p, &out->problem);
  step_token(st, pol, p, now, out);
  step_reach(st, pol, p, out);
  step_rate_limit(st, p, out);
  expiry_step(st, pol, now, out);
  tls_step(st, pol, p, now, out);
  step_readable(st, out);
  step_user(p, out);
  remind_step(st, pol, now, out);
  out->news = td_verdict_news(&st->problem, &out->problem);
  if (out->problem.kind == TD_PROBLEM_NONE) {
    if (!st->answered && out->news == TD_LOG_NOTHING)
      out->news = TD_LOG_FIRST;
    st->answered = 1;
  }
}
