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
  td_remind_t usage_remind; /* the reminder clocks of each */
  td_remind_t restricted_remind;
} td_org_level_t;

/* The self-check of UsageScale: an answer the scale makes implausible.
 * A restricted organization should have reached its limit; an
 * unrestricted one is unlikely to be far past it. */
#define TD_ORGSTATE_RESTRICTED_FLOOR 10.0       /* %, read as percent */
#define TD_ORGSTATE_UNRESTRICTED_CEILING 1000.0 /* %, read as fraction */

typedef enum {
  TD_SCALE_PLAUSIBLE = 0,
  TD_SCALE_LOOKS_FRACTION, /* UsageScale percent, but a restricted
                              organization below the floor */
  TD_SCALE_LOOKS_PERCENT,  /* UsageScale fraction, but an unrestricted
                              organization above the ceiling */
} td_scale_doubt_t;

typedef struct {
  size_t count;
  td_org_level_t orgs[TD_ORGS_MAX];
  td_text_once_t problem; /* the last problem logged, as a key */
  td_text_once_t left_out; /* the last "left out" counts logged */
  int scale_doubted;       /* the self-check spoke: it speaks once */
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
  struct {
    td_scale_doubt_t doubt; /* not PLAUSIBLE: say it now (once per state) */
    td_usage_scale_t scale; /* the scale the answer contradicts */
    char ident[TD_ORGS_MAX_IDENT + 1]; /* the organization that shows it */
    double usage_percent;              /* its usage, read in that scale */
  } scale;
} td_orgstate_step_t;

void td_orgstate_init(td_orgstate_t *st);

/* Advances the state by one organizations poll. An unusable poll (no
 * answer, a status other than 200, a broken body) changes no level and
 * sets problem. Otherwise: usagePercentage read in scale and given in
 * percent; a WARNING when an organization's usage reaches
 * usage_warning_percent (OKAY below), a FAILURE when it enters restricted
 * mode (OKAY when it leaves); an organization missing from the answer is
 * forgotten; and the first organization the scale makes implausible, the
 * first time one does, in out->scale. */
void td_orgstate_step(td_orgstate_t *st, double usage_warning_percent,
                      td_usage_scale_t scale, const td_poll_t *poll,
                      td_orgstate_step_t *out);

/* The reminders of an organizations step just taken at now: its notes
 * start or end them; then a WARNING or FAILURE that still stands for an
 * organization the answer lists, with no new note, comes again (note
 * .reminder 1, its facts from this answer) once repeat seconds (0: never)
 * have passed since its note or its last reminder. usage_warning_percent
 * is td_orgstate_step's. */
void td_orgstate_remind(td_orgstate_t *st, double usage_warning_percent,
                        double repeat, double now, td_orgstate_step_t *out);

/* "fraction" or "percent", without regard to case, into *scale. Returns
 * 0, or -1 for any other text. */
int td_orgstate_scale_parse(const char *text, td_usage_scale_t *scale);

#endif /* TD_ORGSTATE_H */
