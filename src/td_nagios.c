/* td_nagios: verdicts as monitoring-plugins statuses. See td_nagios.h. */
#include "td_nagios.h"

#include <strings.h>

td_nagios_t td_nagios_problem(td_problem_kind_t kind) {
  switch (kind) {
  case TD_PROBLEM_NONE:
    return TD_NAGIOS_OK;
  case TD_PROBLEM_RATE_LIMITED:
    return TD_NAGIOS_WARNING;
  case TD_PROBLEM_BROKE_OFF:
  case TD_PROBLEM_NO_ANSWER:
  case TD_PROBLEM_SERVER_ERROR:
  case TD_PROBLEM_REJECTED:
  case TD_PROBLEM_PAID_PLAN:
  case TD_PROBLEM_FORBIDDEN:
  case TD_PROBLEM_OTHER_USER:
    return TD_NAGIOS_CRITICAL;
  case TD_PROBLEM_UNUSABLE_BODY:
  case TD_PROBLEM_NO_ID:
  case TD_PROBLEM_UNEXPECTED:
    return TD_NAGIOS_UNKNOWN;
  }
  return TD_NAGIOS_UNKNOWN;
}

td_nagios_t td_nagios_severity(td_severity_t sev) {
  switch (sev) {
  case TD_SEV_FAILURE:
    return TD_NAGIOS_CRITICAL;
  case TD_SEV_WARNING:
    return TD_NAGIOS_WARNING;
  case TD_SEV_OKAY:
    return TD_NAGIOS_OK;
  }
  return TD_NAGIOS_UNKNOWN;
}

static int rank(td_nagios_t s) {
  switch (s) {
  case TD_NAGIOS_CRITICAL:
    return 3;
  case TD_NAGIOS_UNKNOWN:
    return 2;
  case TD_NAGIOS_WARNING:
    return 1;
  case TD_NAGIOS_OK:
    return 0;
  }
  return 2;
}

td_nagios_t td_nagios_worse(td_nagios_t a, td_nagios_t b) {
  return rank(b) > rank(a) ? b : a;
}

void td_nagios_policy_init(td_nagios_policy_t *p) {
  *p = (td_nagios_policy_t){.outage = TD_NAGIOS_CRITICAL};
}

int td_nagios_parse_state(const char *text, td_nagios_t *out) {
  static const struct {
    const char *word;
    td_nagios_t st;
  } words[] = {{"warning", TD_NAGIOS_WARNING},
               {"critical", TD_NAGIOS_CRITICAL},
               {"unknown", TD_NAGIOS_UNKNOWN}};
  for (size_t i = 0; text != NULL && i < sizeof(words) / sizeof(words[0]); i++)
    if (strcasecmp(text, words[i].word) == 0) {
      *out = words[i].st;
      return 0;
    }
  return -1;
}

/* No answer, or none worth the name: the API is down, not the token. */
static int is_outage(td_problem_kind_t kind) {
  return kind == TD_PROBLEM_BROKE_OFF || kind == TD_PROBLEM_NO_ANSWER ||
         kind == TD_PROBLEM_SERVER_ERROR;
}

td_nagios_t td_nagios_time(const td_nagios_policy_t *p, double seconds,
                           double *limit) {
  td_nagios_t st = TD_NAGIOS_OK;
  double passed = 0;
  if (p->time_critical > 0 && seconds > p->time_critical) {
    st = TD_NAGIOS_CRITICAL;
    passed = p->time_critical;
  } else if (p->time_warning > 0 && seconds > p->time_warning) {
    st = TD_NAGIOS_WARNING;
    passed = p->time_warning;
  }
  if (limit != NULL)
    *limit = passed;
  return st;
}

td_nagios_t td_nagios_judge(const td_step_t *s, const td_nagios_policy_t *p) {
  td_nagios_t st = is_outage(s->problem.kind)
                       ? p->outage
                       : td_nagios_problem(s->problem.kind);
  /* The core's own reading of reachability, whatever the problem's kind
   * (a poll with neither a status nor an error text is UNEXPECTED). */
  if (!s->api_reachable)
    st = td_nagios_worse(st, p->outage);
  for (size_t i = 0; i < s->n_notes && i < TD_STATE_MAX_NOTES; i++)
    if (s->notes[i].kind == TD_NOTE_TOKEN_EXPIRY ||
        s->notes[i].kind == TD_NOTE_TLS_EXPIRY)
      st = td_nagios_worse(st, td_nagios_severity(s->notes[i].severity));
  if (s->has_response_time)
    st = td_nagios_worse(st, td_nagios_time(p, s->response_time, NULL));
  return st;
}

td_nagios_t td_nagios_step(const td_step_t *s) {
  td_nagios_policy_t p;
  td_nagios_policy_init(&p);
  return td_nagios_judge(s, &p);
}
