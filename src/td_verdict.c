/* td_verdict: notes and "once until it changes". See td_verdict.h. */
#include "td_verdict.h"

#include <stdio.h>
#include <string.h>

td_note_t *td_verdict_note(td_note_t *n, td_note_kind_t kind,
                           td_severity_t sev, td_event_t ev) {
  memset(n, 0, sizeof(*n));
  n->kind = kind;
  n->severity = sev;
  n->event = ev;
  return n;
}

td_log_t td_verdict_news(td_text_once_t *last, const td_problem_t *pr) {
  char key[TD_TEXT_ONCE_MAX + 1] = "";
  /* The key is the whole verdict: the same problem with another status,
   * body fault or text is another problem. */
  if (pr->kind != TD_PROBLEM_NONE)
    snprintf(key, sizeof(key), "%d|%d|%d|%s", (int)pr->kind, pr->http_status,
             (int)pr->body, pr->text);
  int had = last->last[0] != '\0';
  if (td_text_once(last, key))
    return TD_LOG_PROBLEM;
  return key[0] == '\0' && had ? TD_LOG_RECOVERED : TD_LOG_NOTHING;
}

void td_verdict_remember(td_remind_t *r, td_severity_t sev, double now) {
  if (sev == TD_SEV_OKAY) {
    td_verdict_forget(r);
    return;
  }
  r->stands = 1;
  r->since = now;
  r->last = now;
}

void td_verdict_forget(td_remind_t *r) { memset(r, 0, sizeof(*r)); }

int td_verdict_remind(td_remind_t *r, double repeat, double now) {
  if (!r->stands || !(repeat > 0))
    return 0;
  if (now < r->last)
    r->last = now;
  if (now - r->last < repeat)
    return 0;
  r->last = now;
  return 1;
}
