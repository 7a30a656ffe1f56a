/* td_pace: spacing out the connection attempts of an account whose API
 * does not answer. See td_pace.h. */
#include "td_pace.h"

void td_pace_init(td_pace_t *p) {
  p->silent = 0;
  p->gap = 0;
  p->next_try = 0;
}

int td_pace_may_try(const td_pace_t *p, double now, double slack) {
  return now + slack >= p->next_try;
}

double td_pace_record(td_pace_t *p, int answered, double now, double interval,
                      unsigned after) {
  if (answered) {
    td_pace_init(p);
    return 0;
  }
  if (p->silent < ~0u)
    p->silent++;
  if (p->silent < (after > 0 ? after : 1)) {
    p->next_try = 0;
    return 0;
  }
  double cap = interval > TD_PACE_MAX_GAP ? interval : TD_PACE_MAX_GAP;
  p->gap = p->gap > 0 ? p->gap * 2 : interval * 2;
  if (p->gap > cap)
    p->gap = cap;
  p->next_try = now + p->gap;
  return p->gap;
}

void td_pace_skipped(td_pace_t *p) {
  if (p->silent < ~0u)
    p->silent++;
}
