/* td_state: the per-account poll state machine. It turns one finished poll
 * (status, error, extracted body), the previous state and the time into the
 * values to dispatch, the notifications to send and the log line to write.
 * Pure: no clock is read (now is an argument), no I/O, no collectd, no curl. */
#ifndef TD_STATE_H
#define TD_STATE_H

#include <stddef.h>

#include "td_extract.h"
#include "td_orgs.h"

#define TD_STATE_MAX_MESSAGE 255  /* bytes of a notification message */
#define TD_STATE_MAX_LOG 255      /* bytes of a log line */
#define TD_STATE_MAX_ERROR 127    /* bytes of a transport error text */
#define TD_STATE_MAX_REASON 100   /* bytes of the API's reason quoted */
#define TD_STATE_MAX_NOTES 8      /* notifications one poll can raise: token
                                     (2 with a user change), reachability,
                                     rate limit, token and TLS expiry */
#define TD_STATE_MAX_WAIT 86400.0 /* longest Retry-After honoured, s */

/* Severities, numbered as collectd numbers them. */
typedef enum {
  TD_SEV_FAILURE = 1,
  TD_SEV_WARNING = 2,
  TD_SEV_OKAY = 4,
} td_severity_t;

/* What a notification is about: its collectd type and type instance. */
typedef enum {
  TD_NOTE_TOKEN_VALID,   /* bool-token_valid */
  TD_NOTE_API_REACHABLE, /* bool-api_reachable */
  TD_NOTE_TOKEN_EXPIRY,  /* timeleft-token */
  TD_NOTE_RATE_LIMITED,  /* bool-rate_limited */
  TD_NOTE_TLS_EXPIRY,    /* timeleft-tls_certificate */
  TD_NOTE_ORG_USAGE,     /* gauge-usage_percent-ORG */
  TD_NOTE_ORG_RESTRICTED, /* bool-restricted_mode-ORG */
} td_note_kind_t;

/* The phases of one request, each on its own (not cumulative), seconds. */
typedef enum {
  TD_PHASE_DNS,
  TD_PHASE_CONNECT,
  TD_PHASE_TLS,
  TD_PHASE_TTFB,
  TD_PHASE_TRANSFER,
  TD_PHASES
} td_phase_t;

/* libcurl's cumulative marks, seconds from the start of the request. */
typedef enum {
  TD_MARK_NAMELOOKUP,
  TD_MARK_CONNECT,
  TD_MARK_APPCONNECT,
  TD_MARK_PRETRANSFER,
  TD_MARK_STARTTRANSFER,
  TD_MARK_TOTAL,
  TD_MARKS
} td_mark_t;

/* Level of a watched condition; UNKNOWN until the first poll tells. */
typedef enum {
  TD_LEVEL_UNKNOWN = 0,
  TD_LEVEL_OK,
  TD_LEVEL_WARNING,
  TD_LEVEL_FAILURE,
} td_level_t;

/* The account's settings the state machine needs. */
typedef struct {
  const char *account;      /* name, used in messages */
  int has_expiry;           /* TokenExpires was given */
  double expires;           /* epoch seconds */
  double warning_days;      /* ExpiryWarningDays */
  double failure_days;      /* ExpiryFailureDays */
  unsigned unreachable_after; /* UnreachableAfter, at least 1 */
  const char *expect_user;  /* ExpectUser: an id or an e-mail; NULL: any */
  double tls_warning_days;  /* TLSExpiryWarningDays */
  double tls_failure_days;  /* TLSExpiryFailureDays */
  double usage_warning_percent; /* UsageWarningPercent */
} td_policy_t;

/* One finished poll, as the HTTP layer saw it. */
typedef struct {
  int http_status;      /* 0 when no HTTP answer came */
  const char *error;    /* why the transfer failed; NULL or "" when it did not */
  double response_time; /* seconds, whole request; used when http_status > 0 */
  td_extract_status_t body; /* td_extract_finish's verdict on the body */
  const td_account_info_t *info; /* the extracted fields; may be NULL */
  double retry_after;   /* seconds a 429 asked to wait; < 0 when not given */
  double cert_expires;  /* earliest expiry in the server's chain, epoch
                           seconds, as last seen; <= 0 when unknown */
  double phases[TD_PHASES]; /* td_phases_split; used when http_status > 0 */
  const td_org_list_t *orgs; /* an organizations poll's list, else NULL */
} td_poll_t;

typedef struct {
  td_note_kind_t kind;
  td_severity_t severity;
  char instance[TD_ORGS_MAX_NAME + 1]; /* "" or the organization: the type
                                          instance is then KIND-instance */
  char message[TD_STATE_MAX_MESSAGE + 1];
} td_note_t;

/* What one poll produces. A value is dispatched only when its has_ flag
 * (or, for the 0/1 values, a value >= 0) says so. */
typedef struct {
  int api_reachable;  /* 0 or 1, every poll */
  int token_valid;    /* 1, 0, or -1: not dispatched */
  int email_verified; /* 1, 0, or -1: not dispatched */
  int response_code;  /* every poll; 0 without an answer */
  int has_response_time;
  double response_time;
  int has_timeleft;
  double timeleft_days;
  int has_tls_timeleft;
  double tls_timeleft_days;
  size_t n_notes;
  td_note_t notes[TD_STATE_MAX_NOTES];
  int log_is_problem; /* 1: warning-worthy; 0: a recovery (info) */
  char log[TD_STATE_MAX_LOG + 1]; /* "" when nothing new to log */
} td_step_t;

/* Everything remembered between polls of one account. */
typedef struct {
  td_level_t token;
  td_level_t reach;
  td_level_t expiry;
  td_level_t tls_expiry;
  int rate_limited;   /* a rate-limit WARNING is outstanding */
  unsigned failures;  /* consecutive failed polls */
  double not_before;  /* no poll before this epoch second (Retry-After) */
  char last_problem[TD_STATE_MAX_LOG + 1];
  char last_id[TD_EXTRACT_MAX_STRING + 1]; /* account id at the last 200 */
} td_state_t;

void td_state_init(td_state_t *st);

/* Advances the state by one finished poll at time now (epoch seconds) and
 * fills *out. Never fails: every input, however odd, maps to an output. */
void td_state_step(td_state_t *st, const td_policy_t *pol,
                   const td_poll_t *poll, double now, td_step_t *out);

/* The time-only part, for an account that is not polled this round (it
 * waits out a Retry-After): fills the timeleft value and expiry notes. */
void td_state_tick(td_state_t *st, const td_policy_t *pol, double now,
                   td_step_t *out);

/* 1 when the account may be polled at time now. */
int td_state_may_poll(const td_state_t *st, double now);

/* Organizations, polled on their own interval. */
typedef struct {
  char ident[TD_ORGS_MAX_NAME + 1]; /* td_orgs_identifier of the name */
  td_level_t usage;
  td_level_t restricted;
} td_org_state_t;

typedef struct {
  size_t count;
  td_org_state_t orgs[TD_ORGS_MAX];
} td_orgs_state_t;

typedef struct {
  size_t count;
  struct {
    char ident[TD_ORGS_MAX_NAME + 1];
    int has_usage;
    double usage_percent;
    int restricted; /* 1, 0, or -1: not dispatched */
  } orgs[TD_ORGS_MAX];
  size_t n_notes;
  td_note_t notes[2 * TD_ORGS_MAX];
} td_orgs_step_t;

/* Advances the organizations' state by one complete answer: a WARNING
 * when an organization's usage reaches usage_warning_percent (OKAY below),
 * a FAILURE when it enters restricted mode (OKAY when it leaves). Two
 * organizations with the same identifier: the first one counts. An
 * organization missing from the answer is forgotten. */
void td_state_orgs_step(td_orgs_state_t *st, const td_policy_t *pol,
                        const td_org_list_t *list, td_orgs_step_t *out);

/* Splits libcurl's cumulative marks into separate phases. Phases that did
 * not happen (no new connection: no DNS, connect or TLS) are 0; so is any
 * phase the marks would make negative. */
void td_phases_split(const double marks[TD_MARKS], double phases[TD_PHASES]);

/* collectd type and type instance of a notification kind. */
const char *td_note_type(td_note_kind_t kind);
const char *td_note_type_instance(td_note_kind_t kind);

/* Copies text into dst (size bytes with the NUL), every control byte
 * turned into a space and the result cut at max bytes on a UTF-8
 * boundary. For text that came from the network. */
void td_state_sanitize(char *dst, size_t size, const char *text, size_t max);

#endif /* TD_STATE_H */
