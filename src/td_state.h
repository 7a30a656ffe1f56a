/* td_state: the per-account poll state machine. It turns one finished poll
 * (td_poll_t), the previous state and the time into the values to
 * dispatch and the verdicts: which notifications are due, of what kind,
 * with which facts, and whether the poll's problem is new. It words
 * nothing (td_words does) and reads no clock (now is an argument): no
 * I/O, no collectd, no curl. */
#ifndef TD_STATE_H
#define TD_STATE_H

#include <stddef.h>

#include "td_extract.h"
#include "td_poll.h"
#include "td_text.h"
#include "td_verdict.h"

#define TD_STATE_MAX_WAIT 86400.0 /* longest Retry-After honoured, s */
#define TD_STATE_MAX_NOTES 8      /* notifications one poll can raise: token
                                     (2 with a user change), reachability,
                                     rate limit, token and TLS expiry */

/* The account's settings the state machine (and its wording) needs. */
typedef struct {
  const char *account;      /* name, for td_words; NULL or "": none */
  int has_expiry;           /* TokenExpires was given */
  double expires;           /* epoch seconds */
  double warning_days;      /* ExpiryWarningDays */
  double failure_days;      /* ExpiryFailureDays */
  unsigned unreachable_after; /* UnreachableAfter, at least 1 */
  const char *expect_user;  /* ExpectUser: an id or an e-mail; NULL: any */
  double tls_warning_days;  /* TLSExpiryWarningDays */
  double tls_failure_days;  /* TLSExpiryFailureDays */
  double usage_warning_percent; /* UsageWarningPercent */
  td_usage_scale_t usage_scale; /* UsageScale */
  double repeat_after; /* RepeatNotificationsAfter, seconds; 0: never */
} td_policy_t;

/* What one poll produces. A value is dispatched only when its has_ flag
 * (or, for the 0/1 values, a value >= 0) says so. */
typedef struct {
  int api_reachable;  /* 0 or 1, every poll */
  int token_valid;    /* 1, 0, or -1: not dispatched */
  int email_verified; /* 1, 0, or -1: not dispatched */
  int token_readable; /* 1, 0 (the token could not be read: no poll), or
                         -1: not dispatched */
  int response_code;  /* every poll; 0 without an answer */
  int has_response_time;
  double response_time;
  int has_phases;     /* the poll got an answer: phases are dispatched */
  double phases[TD_PHASES];
  int has_timeleft;
  double timeleft;    /* seconds until TokenExpires, >= 0 */
  int has_tls_timeleft;
  double tls_timeleft; /* seconds until the API's certificate expires */
  size_t n_notes;
  td_note_t notes[TD_STATE_MAX_NOTES];
  double hold;          /* seconds no poll may follow (a 429's
                           Retry-After, at most TD_STATE_MAX_WAIT); 0 */
  td_problem_t problem; /* what went wrong with this poll (or NONE) */
  td_log_t news;        /* whether the problem is to be logged now */
  char user[TD_EXTRACT_MAX_STRING + 1]; /* whom the token belongs to (the
                                           id, else the e-mail), or "" */
  /* Filled by td_words_step, not by td_state: */
  int log_is_problem;   /* 1: warning-worthy; 0: a recovery (info) */
  char log[TD_VERDICT_MAX_TEXT + 1]; /* "" when nothing new to log */
} td_step_t;

/* Everything remembered between polls of one account. */
typedef struct {
  td_level_t token;
  td_level_t reach;
  td_level_t expiry;
  td_level_t tls_expiry;
  td_level_t readable; /* FAILURE while the token cannot be read */
  int stopped;         /* the plugin stopped polling the account */
  int answered;        /* a poll without a problem was seen */
  int rate_limited;   /* a rate-limit WARNING is outstanding */
  unsigned failures;  /* consecutive failed polls */
  td_text_once_t problem; /* the last problem logged, as a key */
  char last_id[TD_EXTRACT_MAX_STRING + 1]; /* account id at the last 200 */
  /* Per note kind, its standing problem's reminder clock and the note
   * that reported it (the organizations' kinds stay unused: td_orgstate
   * reminds of those). */
  td_remind_t remind[TD_NOTE_KINDS];
  td_note_t reminded[TD_NOTE_KINDS];
} td_state_t;

void td_state_init(td_state_t *st);

/* Advances the state by one finished poll at time now (epoch seconds) and
 * fills *out. Never fails: every input, however odd, maps to an output.
 * With pol->repeat_after, a WARNING or FAILURE of the account that still
 * stands, with no new note of its kind, comes again as a reminder (note
 * .reminder 1) once repeat_after seconds have passed since its note or
 * its last reminder; an OKAY is never repeated. */
void td_state_step(td_state_t *st, const td_policy_t *pol,
                   const td_poll_t *poll, double now, td_step_t *out);

/* The account could not be polled because its token cannot be read (why:
 * td_words' words for it): token_readable 0, a FAILURE when that is new,
 * and the time-only part. The next td_state_step sends the OKAY. */
void td_state_unreadable(td_state_t *st, const td_policy_t *pol,
                         const char *why, double now, td_step_t *out);

/* The plugin can poll the account no more (why: libcurl's text for its
 * multi handle's failure): one FAILURE, the first time only, and nothing
 * else; no OKAY follows, as no poll does. */
void td_state_stopped(td_state_t *st, const char *why, td_step_t *out);

/* The time-only part, for an account that is not polled this round (it
 * waits out a Retry-After, which td_sched holds): fills the timeleft
 * value and expiry notes, and the reminders due. */
void td_state_tick(td_state_t *st, const td_policy_t *pol, double now,
                   td_step_t *out);

#endif /* TD_STATE_H */
