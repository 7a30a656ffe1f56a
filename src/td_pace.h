/* td_pace: when a job that gets no HTTP answer may try a new connection
 * again. Owns the count of polls in a row without any answer and the time
 * of the next attempt. Never does I/O, never reads a clock (the caller
 * passes a monotonic now, so the clock never goes back), never decides
 * what is reported. */
#ifndef TD_PACE_H
#define TD_PACE_H

/* Longest wait between two attempts, seconds, unless the interval itself
 * is longer: a recovered API is seen at most this long (plus one
 * interval) after it answers again. */
#define TD_PACE_MAX_GAP 30.0

typedef struct {
  unsigned silent; /* polls in a row that got no HTTP answer */
  double gap;      /* seconds between the last two attempts; 0: unpaced */
  double next_try; /* monotonic seconds; 0: at once */
} td_pace_t;

void td_pace_init(td_pace_t *p);

/* 1 when a poll due at now may open a connection, 0 when it should be
 * reported as failed without trying. slack: how early a tick may come. */
int td_pace_may_try(const td_pace_t *p, double now, double slack);

/* Records an attempt made at now. answered: any HTTP status came back.
 * Until `after` polls in a row went unanswered (UnreachableAfter) every
 * poll tries; after that the k-th further attempt waits 2^k intervals,
 * at most TD_PACE_MAX_GAP (or one interval, if longer). Returns the
 * seconds until the next attempt (0: the next poll). */
double td_pace_record(td_pace_t *p, int answered, double now, double interval,
                      unsigned after);

/* Records a poll skipped because of pacing (it counts as unanswered). */
void td_pace_skipped(td_pace_t *p);

#endif /* TD_PACE_H */
