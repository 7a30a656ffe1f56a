/* test_pace: when an account whose API gives no answer tries again.
 *
 * Build and run by hand, from the top of the tree:
 *   cc -Wall -Wextra -Werror -Isrc -Itests/unit src/td_pace.c \
 *      tests/unit/test_pace.c -o /tmp/test_pace && /tmp/test_pace */
#include "td_pace.h"

#include "tap.h"

/* Runs polls every `interval` seconds from t = 1000 against an API that
 * answers from poll `answers_from` on (0: never) and writes into tried[i]
 * whether poll i opened a connection. Returns the polls reported. */
static int run(double interval, unsigned after, int polls, int answers_from,
               int *tried) {
  td_pace_t p;
  td_pace_init(&p);
  for (int i = 0; i < polls; i++) {
    double now = 1000 + i * interval;
    tried[i] = td_pace_may_try(&p, now, interval / 20);
    if (tried[i])
      td_pace_record(&p, answers_from > 0 && i >= answers_from, now, interval,
                     after);
    else
      td_pace_skipped(&p);
  }
  return polls;
}

static void test_unpaced_until_unreachable_after(void) {
  int tried[8];
  run(2, 3, 8, 0, tried);
  /* Polls 0, 1, 2 try (the third is the one that warns); then waits of
   * 2 and 4 intervals. */
  int want[8] = {1, 1, 1, 0, 1, 0, 0, 0};
  for (int i = 0; i < 8; i++)
    tap_is_int(tried[i], want[i], "UnreachableAfter 3, poll %d tried", i);
  int tried2[4];
  run(2, 1, 4, 0, tried2);
  tap_is_int(tried2[1], 0, "UnreachableAfter 1: the second poll waits");
  tap_is_int(tried2[2], 1, "UnreachableAfter 1: the third poll tries");
}

static void test_gap_is_capped(void) {
  td_pace_t p;
  td_pace_init(&p);
  double gap = 0, now = 0;
  for (int i = 0; i < 20; i++) {
    gap = td_pace_record(&p, 0, now, 2, 3);
    now += gap > 0 ? gap : 2;
  }
  tap_is_double(gap, TD_PACE_MAX_GAP, 1e-9, "gaps stop at TD_PACE_MAX_GAP");
  tap_is_int(td_pace_may_try(&p, now - 1, 0.1), 0, "not before the gap ends");
  tap_is_int(td_pace_may_try(&p, now, 0.1), 1, "at the gap's end");
  tap_is_int(td_pace_may_try(&p, now - 0.05, 0.1), 1, "a tick within slack");
}

static void test_long_interval_never_paced(void) {
  int tried[10];
  run(60, 3, 10, 0, tried);
  int all = 1;
  for (int i = 0; i < 10; i++)
    all &= tried[i];
  tap_ok(all, "Interval 60 (longer than the largest gap): every poll tries");
}

static void test_an_answer_resets(void) {
  td_pace_t p;
  td_pace_init(&p);
  for (int i = 0; i < 6; i++)
    td_pace_record(&p, 0, 1000 + i * 2, 2, 3);
  tap_is_double(td_pace_record(&p, 1, 1012, 2, 3), 0, 1e-9,
                "an answer: no wait");
  tap_is_int(td_pace_may_try(&p, 1014, 0.1), 1, "the next poll tries");
  tap_is_int((int)p.silent, 0, "the count starts again");
  /* Failing again after an answer: UnreachableAfter polls before pacing. */
  td_pace_record(&p, 0, 1014, 2, 3);
  tap_is_int(td_pace_may_try(&p, 1016, 0.1), 1, "one failure: still unpaced");
}

static void test_recovery_seen_within_the_cap(void) {
  /* The API answers again from poll 40 (80 s in); the first attempt after
   * that comes at most TD_PACE_MAX_GAP later. */
  int tried[80];
  run(2, 3, 80, 40, tried);
  int first = -1;
  for (int i = 40; i < 80 && first < 0; i++)
    if (tried[i])
      first = i;
  tap_ok(first >= 40 && (first - 40) * 2 <= TD_PACE_MAX_GAP,
         "recovery tried within %g s (poll %d)", TD_PACE_MAX_GAP, first);
  int all = 1;
  for (int i = first; i < 80; i++)
    all &= tried[i];
  tap_ok(all, "every poll tries once it answered");
}

/* The clock is monotonic (td_sched's): a next attempt far ahead is waited
 * for, there is no "clock went back" case any more. */
static void test_next_attempt_is_waited_for(void) {
  td_pace_t p;
  td_pace_init(&p);
  for (int i = 0; i < 5; i++)
    td_pace_record(&p, 0, 5000 + i * 2, 2, 3);
  tap_is_int(td_pace_may_try(&p, 5020, 0.1), 0,
             "before the next attempt: wait");
  tap_is_int(td_pace_may_try(&p, 5024, 0.1), 1, "at it: try");
}

int main(void) {
  test_unpaced_until_unreachable_after();
  test_gap_is_capped();
  test_long_interval_never_paced();
  test_an_answer_resets();
  test_recovery_seen_within_the_cap();
  test_next_attempt_is_waited_for();
  return tap_done();
}
