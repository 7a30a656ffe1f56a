/* td_orgstate: the organizations' state machine. See td_orgstate.h. */
#include "td_orgstate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void td_orgstate_init(td_orgstate_t *st) { memset(st, 0, sizeof(*st)); }

static const td_org_level_t *find(const td_orgstate_t *st,
                                  const char *ident) {
  for (size_t i = 0; i < st->count; i++)
    if (strcmp(st->orgs[i].ident, ident) == 0)
      return &st->orgs[i];
  return NULL;
}

static td_note_t *add_note(td_orgstate_step_t *out, td_note_kind_t kind,
                           td_severity_t sev, td_event_t ev,
                           const char *ident) {
  if (out->n_notes >= sizeof(out->notes) / sizeof(out->notes[0]))
    return NULL;
  td_note_t *n = td_verdict_note(&out->notes[out->n_notes++], kind, sev, ev);
  snprintf(n->instance, sizeof(n->instance), "%s", ident);
  return n;
}

int td_orgstate_scale_parse(const char *text, td_usage_scale_t *scale) {
  if (text != NULL && strcasecmp(text, "fraction") == 0)
    *scale = TD_USAGE_FRACTION;
  else if (text != NULL && strcasecmp(text, "percent") == 0)
    *scale = TD_USAGE_PERCENT;
  else
    return -1;
  return 0;
}

/* The organization's usage in percent, read in scale; 0 when it has none
 * (or none that fits a double once scaled). */
static int usage_in_percent(const td_org_t *org, td_usage_scale_t scale,
                            double *percent) {
  double v = scale == TD_USAGE_FRACTION ? org->usage_percent * 100.0
                                        : org->usage_percent;
  if (!org->has_usage || !isfinite(v))
    return 0;
  *percent = v;
  return 1;
}

/* Which scale this organization's usage contradicts, if any. */
static td_scale_doubt_t scale_doubt(td_usage_scale_t scale, double percent,
                                    int restricted) {
  if (scale == TD_USAGE_PERCENT && restricted == 1 &&
      percent < TD_ORGSTATE_RESTRICTED_FLOOR)
    return TD_SCALE_LOOKS_FRACTION;
  if (scale == TD_USAGE_FRACTION && restricted == 0 &&
      percent > TD_ORGSTATE_UNRESTRICTED_CEILING)
    return TD_SCALE_LOOKS_PERCENT;
  return TD_SCALE_PLAUSIBLE;
}

static void scale_check(td_orgstate_t *st, td_usage_scale_t scale,
                        const char *ident, double percent, int restricted,
                        td_orgstate_step_t *out) {
  td_scale_doubt_t d = scale_doubt(scale, percent, restricted);
  if (st->scale_doubted || d == TD_SCALE_PLAUSIBLE)
    return;
  st->scale_doubted = 1;
  out->scale.doubt = d;
  out->scale.scale = scale;
  out->scale.usage_percent = percent;
  snprintf(out->scale.ident, sizeof(out->scale.ident), "%s", ident);
}

static void usage_step(td_org_level_t *now, td_level_t before, double limit,
                       double usage, td_orgstate_step_t *out) {
  td_note_t *n = NULL;
  now->usage = usage >= limit ? TD_LEVEL_WARNING : TD_LEVEL_OK;
  if (now->usage == TD_LEVEL_WARNING && before != TD_LEVEL_WARNING)
    n = add_note(out, TD_NOTE_ORG_USAGE, TD_SEV_WARNING,
                 TD_EV_ORG_USAGE_HIGH, now->ident);
  else if (now->usage == TD_LEVEL_OK && before == TD_LEVEL_WARNING)
    n = add_note(out, TD_NOTE_ORG_USAGE, TD_SEV_OKAY, TD_EV_ORG_USAGE_OK,
                 now->ident);
  if (n != NULL) {
    n->number = usage;
    n->limit = limit;
  }
}

static void restricted_step(td_org_level_t *now, td_level_t before,
                            const td_org_t *org, td_orgstate_step_t *out) {
  if (org->restricted < 0)
    return;
  now->restricted = org->restricted ? TD_LEVEL_FAILURE : TD_LEVEL_OK;
  if (now->restricted == TD_LEVEL_FAILURE && before != TD_LEVEL_FAILURE)
    add_note(out, TD_NOTE_ORG_RESTRICTED, TD_SEV_FAILURE,
             TD_EV_ORG_RESTRICTED, now->ident);
  else if (now->restricted == TD_LEVEL_OK && before == TD_LEVEL_FAILURE)
    add_note(out, TD_NOTE_ORG_RESTRICTED, TD_SEV_OKAY,
             TD_EV_ORG_UNRESTRICTED, now->ident);
}

/* Why an organizations answer cannot be used, or NONE. */
static void find_problem(const td_poll_t *p, td_problem_t *pr) {
  memset(pr, 0, sizeof(*pr));
  pr->http_status = p->http_status;
  pr->body = TD_JSON_OK; /* only an unusable body's own fault counts */
  if (p->error != NULL && p->error[0] != '\0') {
    pr->kind = p->http_status > 0 ? TD_PROBLEM_BROKE_OFF
                                  : TD_PROBLEM_NO_ANSWER;
    snprintf(pr->text, sizeof(pr->text), "%s", p->error);
    pr->text[td_text_cut(pr->text, strlen(pr->text))] = '\0';
  } else if (p->http_status != 200) {
    pr->kind = TD_PROBLEM_UNEXPECTED;
  } else if (p->body != TD_JSON_OK || p->orgs == NULL) {
    pr->kind = TD_PROBLEM_UNUSABLE_BODY;
    pr->body = p->body;
  }
}

void td_orgstate_step(td_orgstate_t *st, double usage_warning_percent,
                      td_usage_scale_t scale, const td_poll_t *poll,
                      td_orgstate_step_t *out) {
  char idents[TD_ORGS_MAX][TD_ORGS_MAX_IDENT + 1];
  td_org_level_t next[TD_ORGS_MAX];
  size_t kept = 0;
  memset(out, 0, sizeof(*out));
  find_problem(poll, &out->problem);
  out->news = td_verdict_news(&st->problem, &out->problem);
  if (out->problem.kind != TD_PROBLEM_NONE)
    return;
  const td_org_list_t *list = poll->orgs;
  out->dropped = list->dropped;
  out->duplicates = td_orgs_identify(list, idents);
  for (size_t i = 0; i < list->count && i < TD_ORGS_MAX; i++) {
    if (idents[i][0] == '\0')
      continue;
    const td_org_t *org = &list->orgs[i];
    const td_org_level_t *before = find(st, idents[i]);
    td_org_level_t *now = &next[kept++];
    if (before != NULL)
      *now = *before; /* its levels and reminder clocks */
    else
      *now = (td_org_level_t){.usage = TD_LEVEL_UNKNOWN,
                              .restricted = TD_LEVEL_UNKNOWN};
    memcpy(now->ident, idents[i], sizeof(now->ident));
    double usage = 0;
    int has_usage = usage_in_percent(org, scale, &usage);
    if (has_usage) {
      usage_step(now, before ? before->usage : TD_LEVEL_UNKNOWN,
                 usage_warning_percent, usage, out);
      scale_check(st, scale, now->ident, usage, org->restricted, out);
    }
    restricted_step(now, before ? before->restricted : TD_LEVEL_UNKNOWN, org,
                    out);
    size_t k = out->count++;
    memcpy(out->orgs[k].ident, now->ident, sizeof(now->ident));
    out->orgs[k].has_usage = has_usage;
    out->orgs[k].usage_percent = usage;
    out->orgs[k].restricted = org->restricted;
  }
  memcpy(st->orgs, next, kept * sizeof(next[0]));
  st->count = kept;
  char counts[64] = "";
  if (out->dropped > 0 || out->duplicates > 0)
    snprintf(counts, sizeof(counts), "%zu|%zu", out->dropped,
             out->duplicates);
  out->log_left_out = td_text_once(&st->left_out, counts);
}

static td_org_level_t *find_level(td_orgstate_t *st, const char *ident) {
  for (size_t i = 0; i < st->count; i++)
    if (strcmp(st->orgs[i].ident, ident) == 0)
      return &st->orgs[i];
  return NULL;
}

static int noted(const td_orgstate_step_t *out, size_t upto,
                 td_note_kind_t kind, const char *ident) {
  for (size_t i = 0; i < upto; i++)
    if (out->notes[i].kind == kind &&
        strcmp(out->notes[i].instance, ident) == 0)
      return 1;
  return 0;
}

/* A reminder of kind for the organization, if one is due. */
static td_note_t *remind_one(td_orgstate_step_t *out, size_t upto,
                             td_remind_t *r, td_note_kind_t kind,
                             td_severity_t sev, td_event_t ev,
                             const char *ident, double repeat, double now) {
  td_note_t *n;
  if (noted(out, upto, kind, ident) ||
      out->n_notes >= sizeof(out->notes) / sizeof(out->notes[0]) ||
      !td_verdict_remind(r, repeat, now) ||
      (n = add_note(out, kind, sev, ev, ident)) == NULL)
    return NULL;
  n->reminder = 1;
  n->since = r->since;
  return n;
}

void td_orgstate_remind(td_orgstate_t *st, double usage_warning_percent,
                        double repeat, double now, td_orgstate_step_t *out) {
  size_t upto = out->n_notes;
  for (size_t i = 0; i < upto; i++) {
    const td_note_t *m = &out->notes[i];
    td_org_level_t *o = find_level(st, m->instance);
    if (o != NULL)
      td_verdict_remember(m->kind == TD_NOTE_ORG_USAGE ? &o->usage_remind
                                                       : &o->restricted_remind,
                          m->severity, now);
  }
  for (size_t i = 0; i < out->count; i++) {
    td_org_level_t *o = find_level(st, out->orgs[i].ident);
    td_note_t *n;
    if (o == NULL)
      continue;
    if (o->usage == TD_LEVEL_WARNING && out->orgs[i].has_usage &&
        (n = remind_one(out, upto, &o->usage_remind, TD_NOTE_ORG_USAGE,
                        TD_SEV_WARNING, TD_EV_ORG_USAGE_HIGH, o->ident, repeat,
                        now)) != NULL) {
      n->number = out->orgs[i].usage_percent;
      n->limit = usage_warning_percent;
    }
    if (o->restricted == TD_LEVEL_FAILURE)
      remind_one(out, upto, &o->restricted_remind, TD_NOTE_ORG_RESTRICTED,
                 TD_SEV_FAILURE, TD_EV_ORG_RESTRICTED, o->ident, repeat, now);
  }
}
