/* td_orgstate: the organizations' state machine. See td_orgstate.h. */
#include "td_orgstate.h"

#include <stdio.h>
#include <string.h>

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

static void usage_step(td_org_level_t *now, td_level_t before, double limit,
                       const td_org_t *org, td_orgstate_step_t *out) {
  td_note_t *n = NULL;
  if (!org->has_usage)
    return;
  now->usage = org->usage_percent >= limit ? TD_LEVEL_WARNING : TD_LEVEL_OK;
  if (now->usage == TD_LEVEL_WARNING && before != TD_LEVEL_WARNING)
    n = add_note(out, TD_NOTE_ORG_USAGE, TD_SEV_WARNING,
                 TD_EV_ORG_USAGE_HIGH, now->ident);
  else if (now->usage == TD_LEVEL_OK && before == TD_LEVEL_WARNING)
    n = add_note(out, TD_NOTE_ORG_USAGE, TD_SEV_OKAY, TD_EV_ORG_USAGE_OK,
                 now->ident);
  if (n != NULL) {
    n->number = org->usage_percent;
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
                      const td_poll_t *poll, td_orgstate_step_t *out) {
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
    memcpy(now->ident, idents[i], sizeof(now->ident));
    now->usage = before ? before->usage : TD_LEVEL_UNKNOWN;
    now->restricted = before ? before->restricted : TD_LEVEL_UNKNOWN;
    usage_step(now, before ? before->usage : TD_LEVEL_UNKNOWN,
               usage_warning_percent, org, out);
    restricted_step(now, before ? before->restricted : TD_LEVEL_UNKNOWN, org,
                    out);
    size_t k = out->count++;
    memcpy(out->orgs[k].ident, now->ident, sizeof(now->ident));
    out->orgs[k].has_usage = org->has_usage;
    out->orgs[k].usage_percent = org->usage_percent;
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
