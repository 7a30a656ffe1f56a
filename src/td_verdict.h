/* td_verdict: what the state machines conclude, as data: severities,
 * levels, notification kinds and events with their facts, and a poll's
 * problem, with the one rule for logging a problem once until it changes.
 * No English: td_words turns verdicts into words. */
#ifndef TD_VERDICT_H
#define TD_VERDICT_H

#include "td_json.h"
#include "td_orgs.h"
#include "td_text.h"

#define TD_VERDICT_MAX_TEXT 255  /* bytes of a worded message or log line */
#define TD_VERDICT_MAX_ERROR 127 /* bytes of a transport error kept */
#define TD_VERDICT_MAX_REASON 100 /* bytes of the API's reason kept */

/* Severities, numbered as collectd numbers them. */
typedef enum {
  TD_SEV_FAILURE = 1,
  TD_SEV_WARNING = 2,
  TD_SEV_OKAY = 4,
} td_severity_t;

/* Level of a watched condition; UNKNOWN until the first poll tells. */
typedef enum {
  TD_LEVEL_UNKNOWN = 0,
  TD_LEVEL_OK,
  TD_LEVEL_WARNING,
  TD_LEVEL_FAILURE,
} td_level_t;

/* What a notification is about: its collectd type and type instance. */
typedef enum {
  TD_NOTE_TOKEN_VALID,    /* bool-token_valid */
  TD_NOTE_API_REACHABLE,  /* bool-api_reachable */
  TD_NOTE_TOKEN_EXPIRY,   /* timeleft-token */
  TD_NOTE_RATE_LIMITED,   /* bool-rate_limited */
  TD_NOTE_TLS_EXPIRY,     /* timeleft-tls_certificate */
  TD_NOTE_ORG_USAGE,      /* gauge-usage_percent-ORG */
  TD_NOTE_ORG_RESTRICTED, /* bool-restricted_mode-ORG */
  TD_NOTE_TOKEN_READABLE, /* bool-token_readable */
  TD_NOTE_POLLING,        /* bool-polling: the plugin stopped polling */
  TD_NOTE_KINDS
} td_note_kind_t;

/* What happened, with the facts a message needs in td_note_t. */
typedef enum {
  TD_EV_TOKEN_REJECTED,   /* status, text = reason; cause */
  TD_EV_TOKEN_OTHER_USER, /* works, but not for ExpectUser */
  TD_EV_TOKEN_ACCEPTED,   /* accepted again */
  TD_EV_TOKEN_NEW_USER,   /* belongs to another user than at the last poll */
  TD_EV_UNREACHABLE,      /* failures; text = last error, or status */
  TD_EV_REACHABLE,        /* status, failures */
  TD_EV_RATE_LIMITED,     /* number = the wait in seconds, 0: none given */
  TD_EV_RATE_LIMIT_OVER,
  TD_EV_EXPIRY_NEAR,     /* number = days left, when = the date */
  TD_EV_EXPIRED,         /* when = the date */
  TD_EV_EXPIRY_FAR,      /* no longer close */
  TD_EV_TLS_EXPIRY_NEAR, /* number = days left, when = the date */
  TD_EV_TLS_EXPIRED,     /* when */
  TD_EV_TLS_EXPIRY_FAR,  /* when */
  TD_EV_ORG_USAGE_HIGH,  /* number = usage %, limit = the warning % */
  TD_EV_ORG_USAGE_OK,    /* number, limit */
  TD_EV_ORG_RESTRICTED,
  TD_EV_ORG_UNRESTRICTED,
  TD_EV_TOKEN_UNREADABLE, /* text = why, in td_words' words */
  TD_EV_TOKEN_READABLE,
  TD_EV_POLLING_STOPPED, /* text = libcurl's words for its multi's failure */
} td_event_t;

/* Why a token was rejected, as far as the status and the policy can
 * tell. A 401 is revoked or expired; a 402 or a 403 is neither: the token
 * is known, but the plan or its permissions do not allow the request. */
typedef enum {
  TD_CAUSE_UNKNOWN,   /* 401 without TokenExpires */
  TD_CAUSE_REVOKED,   /* 401 before TokenExpires */
  TD_CAUSE_EXPIRED,   /* 401 once TokenExpires has passed */
  TD_CAUSE_PAID_PLAN, /* 402: personal access tokens need a paid plan */
  TD_CAUSE_FORBIDDEN, /* 403: not allowed (permissions or plan) */
} td_cause_t;

typedef struct {
  td_note_kind_t kind;
  td_severity_t severity;
  td_event_t event;
  char instance[TD_ORGS_MAX_IDENT + 1]; /* "" or the organization: the
                                           type instance is KIND-instance */
  int http_status;
  unsigned failures;
  td_cause_t cause;
  double number;
  double limit;
  double when;  /* a date, epoch seconds */
  char text[TD_VERDICT_MAX_ERROR + 1]; /* reason or error, not cleaned */
  int reminder; /* 1: the note of a problem that still stands, again */
  double since; /* a reminder's: when its problem's note went out */
  char message[TD_VERDICT_MAX_TEXT + 1]; /* filled by td_words */
} td_note_t;

/* A standing problem's reminder clock: when the note that reported it
 * went out and when the last reminder did. A zeroed one stands for
 * nothing. */
typedef struct {
  int stands;
  double since; /* epoch seconds */
  double last;  /* epoch seconds */
} td_remind_t;

/* What went wrong with one poll. */
typedef enum {
  TD_PROBLEM_NONE,
  TD_PROBLEM_BROKE_OFF,     /* an answer began, then the transfer failed */
  TD_PROBLEM_NO_ANSWER,     /* text = the transport error */
  TD_PROBLEM_SERVER_ERROR,  /* HTTP 5xx */
  TD_PROBLEM_REJECTED,      /* HTTP 401, text = reason */
  TD_PROBLEM_PAID_PLAN,     /* HTTP 402, text = reason */
  TD_PROBLEM_FORBIDDEN,     /* HTTP 403, text = reason */
  TD_PROBLEM_RATE_LIMITED,  /* HTTP 429 */
  TD_PROBLEM_UNUSABLE_BODY, /* HTTP 200, body = why */
  TD_PROBLEM_NO_ID,         /* HTTP 200 without an account id */
  TD_PROBLEM_OTHER_USER,    /* HTTP 200 for another user than ExpectUser */
  TD_PROBLEM_UNEXPECTED,    /* any other status, text = reason */
} td_problem_kind_t;

typedef struct {
  td_problem_kind_t kind;
  int http_status;
  td_json_status_t body;
  char text[TD_VERDICT_MAX_ERROR + 1]; /* reason or error, not cleaned */
} td_problem_t;

/* Whether a poll's problem is to be logged: once until it changes. */
typedef enum {
  TD_LOG_NOTHING,   /* the same as at the last poll */
  TD_LOG_PROBLEM,   /* a new problem */
  TD_LOG_RECOVERED, /* the problem is over */
  TD_LOG_FIRST,     /* the account's first poll without a problem */
} td_log_t;

/* Clears *n and gives it its kind, severity and event. Returns n. */
td_note_t *td_verdict_note(td_note_t *n, td_note_kind_t kind,
                           td_severity_t sev, td_event_t ev);

/* Whether pr is news: TD_LOG_PROBLEM the first time a problem is seen (or
 * when it differs from the last one), TD_LOG_RECOVERED at the first poll
 * without one after a problem, else TD_LOG_NOTHING. last remembers. */
td_log_t td_verdict_news(td_text_once_t *last, const td_problem_t *pr);

/* Hears a note of the problem r watches, raised at now with severity
 * sev: a WARNING or a FAILURE (re)starts r from now, an OKAY ends it. */
void td_verdict_remember(td_remind_t *r, td_severity_t sev, double now);

/* Forgets r: no reminder follows until a note starts one again. */
void td_verdict_forget(td_remind_t *r);

/* 1 when a reminder of r is due at now: a problem stands, repeat (seconds,
 * 0: never) is on and at least repeat seconds have passed since its note
 * or its last reminder; r then counts now as its last reminder. A clock
 * set back restarts the count from now. */
int td_verdict_remind(td_remind_t *r, double repeat, double now);

#endif /* TD_VERDICT_H */
