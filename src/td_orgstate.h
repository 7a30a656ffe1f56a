/* td_orgstate: the organizations' state machine. Turns one organizations
 * poll into values per organization and verdicts: usage at or above
 * UsageWarningPercent, restricted mode, and what is worth a log line once
 * until it changes (an unusable answer, organizations left out). Words
 * nothing, reads no clock; no I/O, no collectd, no curl. */
#ifndef TD_ORGSTATE_H
#define TD_ORGSTATE_H

#include <stddef.h>

#include "td_orgs.h"
#include "td_poll.h"
#include "td_text.h"
#include "td_verdict.h"

typedef struct {
  char ident[TD_ORGS_MAX_IDENT + 1];
  td_level_t usage;
  td_level_t restricted;
} td_org_level_t;

typedef struct {
  size_t count;
  td_org_level_t orgs[TD_ORGS_MAX];
  td_text_once_t problem; /* the last problem logged, as a key */
  td_text_once_t left_out; /* the last "left out" counts logged */
} td_orgstate_t;

typedef struct {
  size_t count;
  struct {
    char ident[TD_ORGS_MAX_IDENT + 1];
    int has_usage;
    double usage_percent;
    int restricted; /* 1, 0, or -1: not dispatched */
  } orgs[TD_ORGS_MAX];
  size_t n_notes;
  td_note_t notes[2 * TD_ORGS_MAX];
  td_problem_t problem; /* NONE, or why the answer is unusable */
  td_log_t news;        /* whether the problem is to be logged now */
  size_t dropped;       /* beyond TD_ORGS_MAX, not reported */
  size_t duplicates;    /* listed twice, counted once */
  int log_left_out;     /* 1: say now that organizations were left out */
} td_orgstate_step_t;

void td_orgstate_init(td_orgstate_t *st);

/* Advances the state by one organizations poll. An unusable poll (no
 * answer, a status other than 200, a broken body) changes no level and
 * sets problem. Otherwise: a WARNING when an organization's usage reaches
 * usage_warning_percent (OKAY below), a FAILURE when it enters restricted
 * mode (OKAY when it leaves); an organization missing from the answer is
 * forgotten. */
void td_orgstate_step(td_orgstate_t *st, double usage_warning_percent,
                      const td_poll_t *poll, td_orgstate_step_t *out);

#endif /* TD_ORGSTATE_H */
