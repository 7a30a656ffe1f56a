/* td_nagios: one step's verdict as a monitoring-plugins status, for
 * telemetrydeck-check: from the core's problem kind and the severity of
 * the token expiry notes, never from raw HTTP codes, so the check and the
 * plugin's notifications read the same verdict. No I/O, no English. */
#ifndef TD_NAGIOS_H
#define TD_NAGIOS_H

#include "td_state.h"
#include "td_verdict.h"

/* The exit codes of the monitoring-plugins convention. */
typedef enum {
  TD_NAGIOS_OK = 0,
  TD_NAGIOS_WARNING = 1,
  TD_NAGIOS_CRITICAL = 2,
  TD_NAGIOS_UNKNOWN = 3,
} td_nagios_t;

/* A poll's problem: none is OK, a rate limit a WARNING, no answer, a
 * server error, a rejected token or another user CRITICAL, an answer that
 * cannot be judged UNKNOWN. */
td_nagios_t td_nagios_problem(td_problem_kind_t kind);

/* A note's severity: FAILURE is CRITICAL, WARNING a WARNING, OKAY OK. */
td_nagios_t td_nagios_severity(td_severity_t sev);

/* The worse of two: CRITICAL, then UNKNOWN, then WARNING, then OK. A
 * check that cannot judge the answer says so even when a lesser warning
 * (an expiry some days away) also stands; only CRITICAL outranks it. */
td_nagios_t td_nagios_worse(td_nagios_t a, td_nagios_t b);

/* A step's status under the default policy (td_nagios_judge). */
td_nagios_t td_nagios_step(const td_step_t *s);

/* What the check's command line adds to the verdict. */
typedef struct {
  td_nagios_t outage;   /* the status of an outage (no answer, a broken
                           transfer, HTTP 5xx); TD_NAGIOS_CRITICAL */
  double time_warning;  /* response time in seconds above which the
                           status is at least WARNING; 0: none */
  double time_critical; /* ... CRITICAL; 0: none */
} td_nagios_policy_t;

/* The defaults: an outage is CRITICAL, no response-time thresholds. */
void td_nagios_policy_init(td_nagios_policy_t *p);

/* An --outage-state word (warning, critical, unknown; any case) as a
 * status. Returns 0, or -1 for another word. */
int td_nagios_parse_state(const char *text, td_nagios_t *out);

/* An answer's time of seconds against the thresholds: CRITICAL above
 * time_critical, else WARNING above time_warning, else OK; *limit (when
 * not NULL) is the threshold it passed, or 0. */
td_nagios_t td_nagios_time(const td_nagios_policy_t *p, double seconds,
                           double *limit);

/* A step's status under the check's policy: its problem's (an outage's
 * as p->outage says), its token and TLS certificate expiry notes, and its
 * response time against the thresholds. */
td_nagios_t td_nagios_judge(const td_step_t *s, const td_nagios_policy_t *p);

#endif /* TD_NAGIOS_H */
