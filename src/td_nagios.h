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

/* The worse of two: CRITICAL, then WARNING, then UNKNOWN, then OK. */
td_nagios_t td_nagios_worse(td_nagios_t a, td_nagios_t b);

/* A step's status: its problem's, CRITICAL when the core found the API
 * unreachable, made worse by its token expiry notes (the API's
 * certificate sets no status). */
td_nagios_t td_nagios_step(const td_step_t *s);

#endif /* TD_NAGIOS_H */
