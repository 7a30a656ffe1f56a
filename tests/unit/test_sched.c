/* test_sched: who goes first, who waits, and whose failure is whose.
 *
 * A small simulator plays each table row: jobs with a behaviour of the
 * server towards them (answer after d seconds, hang after the request,
 * hang in the TLS setup, refuse, ...), td_sched's actions carried out on a
 * virtual monotonic clock, and every poll's outcome written as one letter:
 *   A answered   F failed on its own (its own Timeout included)
 *   T took over the failure of the one that went first (untried)
 *   E its own Timeout ran out while it waited   P paced   H held
 *   O its previous poll was still running        D dropped (no token)
 *
 * Build and run: tools/build && _build/tests/unit/test_sched */
#include "td_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

typedef enum {
  B_OK,         /* ready at once, answers after `answer` seconds */
  B_HANG_REQ,   /* ready at once, never answers */
  B_HANG_SETUP, /* TCP connects, TLS never completes */
  B_REFUSED,
  B_TLS_BAD,      /* the certificate fails verification */
  B_SETUP_RESET,  /* reset during the TLS handshake: its own */
  B_STALL,        /* status and headers, then the body stalls */
  B_RST,          /* HTTP/2: the stream is reset after the request */
  B_NO_TOKEN,     /* the shell has no token: the START is dropped */
  B_REFUSED_ONCE, /* HTTP/2: every other stream refused after the request
                     (a GOAWAY), the next one answered */
} behaviour_t;

typedef struct {
  behaviour_t b;
  double interval, timeout;
  unsigned group;
  double answer; /* B_OK: seconds to the answer */
  int h2;        /* the connection multiplexes */
  double hold;   /* after each answer: Retry-After seconds */
} job_spec_t;

#define MAX_JOBS 300
#define MAX_POLLS 64

typedef struct {
  int active;
  double start, ready_at, end_at;
  int ready_done;
  td_xfer_t x;
} transfer_t;

typedef struct {
  char out[MAX_JOBS][MAX_POLLS + 1]; /* outcome letters per poll */
  int starts[MAX_JOBS];              /* transfers started */
  int sent[MAX_JOBS];                /* requests that reached the server */
  double worst_wait[MAX_JOBS];       /* longest due-to-start delay */
  unsigned from[MAX_JOBS];           /* the last TAKEN/EXPIRED's from */
  int most_running;                  /* transfers running at once, at most */
} result_t;

static void note(result_t *r, unsigned job, char c) {
  size_t n = strlen(r->out[job]);
  if (n < MAX_POLLS)
    r->out[job][n] = c;
}

static void begin(const job_spec_t *j, transfer_t *t, double now, double left) {
  memset(t, 0, sizeof(*t));
  t->active = 1;
  t->start = now;
  t->ready_at = -1;
  t->x.timeout = j->timeout;
  switch (j->b) {
  case B_OK:
    t->ready_at = now + 0.001;
    t->end_at = now + (j->answer < left ? j->answer : left);
    t->x.kind = j->answer < left ? TD_XFER_OK : TD_XFER_TIMEOUT;
    t->x.reached = j->answer < left ? TD_REACHED_STATUS : TD_REACHED_SENT;
    break;
  case B_HANG_REQ:
  case B_STALL:
    t->ready_at = now + 0.001;
    t->end_at = now + left;
    t->x.kind = TD_XFER_TIMEOUT;
    t->x.reached = j->b == B_STALL ? TD_REACHED_STATUS : TD_REACHED_SENT;
    break;
  case B_RST:
    t->ready_at = now + 0.001;
    t->end_at = now + 0.002;
    t->x.kind = TD_XFER_HTTP2;
    t->x.reached = TD_REACHED_SENT;
    break;
  case B_HANG_SETUP:
    t->end_at = now + left;
    t->x.kind = TD_XFER_TIMEOUT;
    t->x.reached = TD_REACHED_TCP;
    break;
  case B_REFUSED:
    t->end_at = now + 0.0005;
    t->x.kind = TD_XFER_REFUSED;
    break;
  case B_TLS_BAD:
    t->end_at = now + 0.002;
    t->x.kind = TD_XFER_TLS_VERIFY;
    t->x.reached = TD_REACHED_TCP;
    break;
  case B_SETUP_RESET:
    t->end_at = now + 0.001;
    t->x.kind = TD_XFER_TLS_HANDSHAKE;
    t->x.reached = TD_REACHED_TCP;
    break;
  case B_REFUSED_ONCE:
    t->ready_at = now + 0.001;
    t->end_at = now + 0.002;
    t->x.kind = TD_XFER_HTTP2;
    t->x.reached = TD_REACHED_SENT;
    break;
  case B_NO_TOKEN:
    break;
  }
}

static void carry_out(td_sched_t *s, const job_spec_t *spec, transfer_t *tr,
                      result_t *r, const td_act_t *a, double now) {
  switch (a->kind) {
  case TD_ACT_START: {
    double waited = now - s->jobs[a->job].due_at;
    if (waited > r->worst_wait[a->job])
      r->worst_wait[a->job] = waited;
    if (spec[a->job].b == B_NO_TOKEN) {
      td_sched_dropped(s, a->job, now);
      note(r, a->job, 'D');
      return;
    }
    r->starts[a->job]++;
    begin(&spec[a->job], &tr[a->job], now, a->timeout);
    if (spec[a->job].b == B_REFUSED_ONCE && r->starts[a->job] % 2 == 0) {
      tr[a->job].end_at = now + 0.01; /* this time it is answered */
      tr[a->job].x.kind = TD_XFER_OK;
      tr[a->job].x.reached = TD_REACHED_STATUS;
    }
    return;
  }
  case TD_ACT_OVERLAP:
    note(r, a->job, 'O');
    return;
  case TD_ACT_HELD:
    note(r, a->job, 'H');
    return;
  case TD_ACT_PACED:
    note(r, a->job, 'P');
    return;
  case TD_ACT_TAKEN:
    r->from[a->job] = a->from;
    note(r, a->job, 'T');
    return;
  case TD_ACT_EXPIRED:
    r->from[a->job] = a->from;
    note(r, a->job, 'E');
    return;
  }
}

static size_t play_limit; /* td_sched_limit for the next play */

/* Plays n jobs for `seconds` of virtual time. */
static void play(const job_spec_t *spec, size_t n, double seconds,
                 result_t *r) {
  static transfer_t tr[MAX_JOBS];
  td_job_conf_t conf[MAX_JOBS];
  size_t groups = 1;
  memset(r, 0, sizeof(*r));
  memset(tr, 0, sizeof(tr));
  for (size_t i = 0; i < n; i++) {
    conf[i] =
        (td_job_conf_t){spec[i].interval, spec[i].timeout, 3, spec[i].group};
    if (spec[i].group + 1 > groups)
      groups = spec[i].group + 1;
  }
  td_sched_t s;
  if (td_sched_init(&s, conf, n, groups, 0) != 0) {
    tap_ok(0, "td_sched_init");
    return;
  }
  td_sched_limit(&s, play_limit);
  td_act_t *acts = calloc(td_sched_max_actions(&s), sizeof(*acts));
  double now = 0;
  while (now < seconds) {
    for (size_t i = 0; i < n; i++) {
      transfer_t *t = &tr[i];
      if (t->active && !t->ready_done && t->ready_at >= 0 &&
          t->ready_at <= now) {
        t->ready_done = 1;
        r->sent[i]++;
        td_sched_ready(&s, (unsigned)i, spec[i].h2, now);
      }
      if (t->active && t->end_at <= now) {
        t->active = 0;
        if (td_sched_finished(&s, (unsigned)i, &t->x, now))
          note(r, (unsigned)i, t->x.kind == TD_XFER_OK ? 'A' : 'F');
        if (t->x.kind == TD_XFER_OK && spec[i].hold > 0)
          td_sched_hold(&s, (unsigned)i, spec[i].hold, now);
      }
    }
    size_t k = td_sched_step(&s, now, acts, td_sched_max_actions(&s));
    for (size_t a = 0; a < k; a++)
      carry_out(&s, spec, tr, r, &acts[a], now);
    int running = 0;
    for (size_t i = 0; i < n; i++)
      running += tr[i].active;
    if (running > r->most_running)
      r->most_running = running;
    double next = td_sched_next(&s);
    for (size_t i = 0; i < n; i++) {
      if (tr[i].active && !tr[i].ready_done && tr[i].ready_at >= 0 &&
          tr[i].ready_at < next)
        next = tr[i].ready_at;
      if (tr[i].active && tr[i].end_at < next)
        next = tr[i].end_at;
    }
    now = next > now ? next : now;
    if (k == 0 && next <= now && td_sched_next(&s) > now) {
      /* Only transfer events at this instant: they were handled. */
      now += 1e-9;
    }
  }
  free(acts);
  td_sched_free(&s);
}

static result_t r;

static void play_limited(const job_spec_t *spec, size_t n, double seconds,
                         size_t limit) {
  play_limit = limit;
  play(spec, n, seconds, &r);
  play_limit = 0;
}

static int count(const char *s, char c) {
  int k = 0;
  for (; *s; s++)
    k += *s == c;
  return k;
}

static int only(const char *s, const char *letters) {
  return s[0] != '\0' && strspn(s, letters) == strlen(s);
}

/* ---- the rows ---- */

static void hanging_token_first_healthy_beside(double interval,
                                               double seconds) {
  job_spec_t jobs[] = {
      {.b = B_HANG_REQ, .interval = interval, .timeout = interval},
      {.b = B_OK, .interval = interval, .timeout = interval, .answer = 0.05},
  };
  play(jobs, 2, seconds, &r);
  tap_ok(only(r.out[1], "A"),
         "Interval %g, a hanging token first: the "
         "healthy one answers every poll (%s)",
         interval, r.out[1]);
  tap_is_int(r.sent[1], (long long)strlen(r.out[1]),
             "Interval %g: every healthy poll sent its request", interval);
  tap_ok(only(r.out[0], "FP"),
         "the hanging one fails on its own, then is "
         "paced (%s)",
         r.out[0]);
}

static void timeouts_are_each_ones_own(void) {
  job_spec_t jobs[] = {
      {.b = B_OK, .interval = 5, .timeout = 1, .answer = 2},
      {.b = B_OK, .interval = 5, .timeout = 4, .answer = 2},
  };
  play(jobs, 2, 20, &r);
  tap_ok(only(r.out[0], "FP"),
         "Timeout 1 against 2 s answers: its own "
         "timeouts, then paced (%s)",
         r.out[0]);
  tap_ok(only(r.out[1], "A"), "Timeout 4 beside it: every poll answered (%s)",
         r.out[1]);
}

static void organizations_never_go_first(void) {
  /* The shell puts organizations jobs in groups of their own. */
  job_spec_t jobs[] = {
      {.b = B_HANG_REQ, .interval = 2, .timeout = 2, .group = 1},
      {.b = B_OK, .interval = 2, .timeout = 2, .answer = 0.01, .group = 0},
      {.b = B_OK, .interval = 2, .timeout = 2, .answer = 0.01, .group = 0},
  };
  play(jobs, 3, 10, &r);
  tap_ok(only(r.out[1], "A") && only(r.out[2], "A"),
         "a hanging organizations poll: users/info answered (%s, %s)", r.out[1],
         r.out[2]);
}

static void http2_first_stream(behaviour_t first, const char *what) {
  job_spec_t jobs[4] = {{.b = first, .interval = 2, .timeout = 2, .h2 = 1}};
  for (int i = 1; i < 4; i++)
    jobs[i] = (job_spec_t){
        .b = B_OK, .interval = 2, .timeout = 2, .answer = 0.02, .h2 = 1};
  play(jobs, 4, 12, &r);
  int healthy = 1;
  for (int i = 1; i < 4; i++)
    healthy &= only(r.out[i], "A");
  tap_ok(healthy,
         "HTTP/2, the first stream %s: 3 healthy streams answer "
         "every poll (%s %s %s)",
         what, r.out[1], r.out[2], r.out[3]);
}

static void same_failure_taken_over(behaviour_t b, const char *what) {
  job_spec_t jobs[100];
  for (int i = 0; i < 100; i++)
    jobs[i] = (job_spec_t){.b = b, .interval = 2, .timeout = 1};
  play(jobs, 100, 1.9, &r);
  int tried = 0, taken = 0;
  for (int i = 0; i < 100; i++) {
    tried += r.starts[i];
    taken += count(r.out[i], 'T');
  }
  tap_is_int(tried, 1, "%s, 100 accounts: one attempt in the first round",
             what);
  tap_is_int(taken, 99, "%s: 99 take its failure over", what);
}

static void hanging_host_cost_over_rounds(void) {
  job_spec_t jobs[100];
  for (int i = 0; i < 100; i++)
    jobs[i] = (job_spec_t){.b = B_HANG_SETUP, .interval = 2, .timeout = 1};
  play(jobs, 100, 40, &r);
  int tried = 0;
  for (int i = 0; i < 100; i++)
    tried += r.starts[i];
  tap_ok(tried <= 20,
         "a host that never speaks TLS: %d attempts in 20 "
         "rounds of 100 accounts (at most one a round)",
         tried);
  tap_ok(strlen(r.out[99]) == 20, "every poll is still reported (%zu)",
         strlen(r.out[99]));
}

static void longer_timeout_is_not_taken_over(void) {
  job_spec_t jobs[] = {
      {.b = B_HANG_SETUP, .interval = 5, .timeout = 1},
      {.b = B_HANG_SETUP, .interval = 5, .timeout = 4},
  };
  play(jobs, 2, 4.9, &r);
  tap_is_str(r.out[1], "F",
             "a setup timeout of 1 s is not taken over by "
             "Timeout 4: it tries itself");
  tap_is_int(r.starts[1], 1, "and its request is started");
}

static void shorter_timeout_expires_on_its_own(void) {
  job_spec_t jobs[] = {
      {.b = B_HANG_SETUP, .interval = 5, .timeout = 4},
      {.b = B_HANG_SETUP, .interval = 5, .timeout = 1},
  };
  play(jobs, 2, 1.5, &r);
  tap_is_str(r.out[1], "E",
             "behind a setup of Timeout 4, Timeout 1 ends at "
             "its own 1 s");
  tap_is_int(r.from[1], 0, "naming the one it waited for");
}

static void own_setup_failure_is_not_taken_over(void) {
  job_spec_t jobs[3];
  for (int i = 0; i < 3; i++)
    jobs[i] = (job_spec_t){.b = B_SETUP_RESET, .interval = 2, .timeout = 1};
  play(jobs, 3, 1.9, &r);
  tap_ok(r.starts[0] == 1 && r.starts[1] == 1 && r.starts[2] == 1,
         "a handshake reset is no one else's: each tries (%d %d %d)",
         r.starts[0], r.starts[1], r.starts[2]);
}

static void open_http1_connection_waits_for_no_one(void) {
  job_spec_t jobs[] = {
      {.b = B_HANG_REQ, .interval = 2, .timeout = 2},
      {.b = B_OK, .interval = 2, .timeout = 2, .answer = 0.01},
  };
  play(jobs, 2, 20, &r);
  tap_ok(r.worst_wait[1] < 0.01,
         "over HTTP/1.1 a healthy account waits "
         "%.4f s at most",
         r.worst_wait[1]);
}

static void pacing_spaces_silent_attempts(void) {
  job_spec_t jobs[] = {{.b = B_HANG_SETUP, .interval = 2, .timeout = 1}};
  play(jobs, 1, 60, &r);
  tap_ok(strncmp(r.out[0], "FFF", 3) == 0 && count(r.out[0], 'P') > 10,
         "UnreachableAfter 3: three tries, then paced (%s)", r.out[0]);
  tap_is_int((long long)strlen(r.out[0]), 30, "every poll is reported");
}

static void retry_after_holds(void) {
  job_spec_t jobs[] = {
      {.b = B_OK, .interval = 2, .timeout = 1, .answer = 0.01, .hold = 3},
  };
  play(jobs, 1, 7.9, &r);
  tap_is_str(r.out[0], "AHAH", "a Retry-After of 3 s holds the next poll");
}

static void no_token_first_does_not_hold_others(void) {
  job_spec_t jobs[] = {
      {.b = B_NO_TOKEN, .interval = 2, .timeout = 1},
      {.b = B_OK, .interval = 2, .timeout = 1, .answer = 0.01},
  };
  play(jobs, 2, 5.9, &r);
  tap_is_str(r.out[0], "DDD", "no token: dropped at every poll");
  tap_is_str(r.out[1], "AAA", "the account behind it answers");
}

static void many_http2_streams(void) {
  static job_spec_t jobs[250];
  for (int i = 0; i < 250; i++)
    jobs[i] = (job_spec_t){
        .b = B_OK, .interval = 5, .timeout = 4, .answer = 0.01, .h2 = 1};
  play(jobs, 250, 9.9, &r);
  int answered = 0;
  for (int i = 0; i < 250; i++)
    answered += count(r.out[i], 'A');
  tap_is_int(answered, 500,
             "250 accounts over HTTP/2 in waves: every poll "
             "answered");
}

static double worst_wait(size_t from, size_t to) {
  double worst = 0;
  for (size_t i = from; i < to; i++)
    if (r.worst_wait[i] > worst)
      worst = r.worst_wait[i];
  return worst;
}

/* 250 accounts due at once over one HTTP/2 connection: never more streams
 * at once than one connection takes, so libcurl opens no second one, and
 * no poll waits long for a free stream. */
static void http2_streams_fit_one_connection(void) {
  static job_spec_t jobs[250];
  for (int i = 0; i < 250; i++)
    jobs[i] = (job_spec_t){
        .b = B_OK, .interval = 5, .timeout = 4, .answer = 0.05, .h2 = 1};
  play(jobs, 250, 14.9, &r);
  int answered = 0;
  for (int i = 0; i < 250; i++)
    answered += count(r.out[i], 'A');
  tap_is_int(answered, 750, "250 accounts over HTTP/2: every poll answered");
  tap_ok(r.most_running <= TD_SCHED_H2_STREAMS,
         "at most %d streams at once (%d)", TD_SCHED_H2_STREAMS,
         r.most_running);
  tap_ok(worst_wait(0, 250) <= 0.2,
         "no poll waited more than 0.2 s for a stream (%.3f s)",
         worst_wait(0, 250));
}

/* 120 streams that never answer fill the connection's share; the 10
 * healthy accounts of the group wait at most TD_SCHED_H2_PATIENCE of their
 * own time (1.8 s here). */
static void stalled_streams_hold_no_one_long(void) {
  static job_spec_t jobs[130];
  for (int i = 0; i < 130; i++)
    jobs[i] = (job_spec_t){.b = i < 120 ? B_HANG_REQ : B_OK,
                           .interval = 2,
                           .timeout = 1.8,
                           .answer = 0.01,
                           .h2 = 1};
  play(jobs, 130, 9.9, &r);
  int answered = 0;
  for (int i = 120; i < 130; i++)
    answered += count(r.out[i], 'A');
  tap_is_int(answered, 50,
             "10 healthy accounts beside 120 stalled streams: "
             "every poll answered");
  tap_ok(worst_wait(120, 130) <= 1.8 * TD_SCHED_H2_PATIENCE + 0.01,
         "each waited at most %.2f s for a stream (%.3f s)",
         1.8 * TD_SCHED_H2_PATIENCE, worst_wait(120, 130));
  tap_ok(count(r.out[0], 'F') >= 4 && count(r.out[0], 'A') == 0,
         "a stalled one fails on its own (%s)", r.out[0]);
}

static void files_budget_table(void) {
  static const struct {
    unsigned long limit;
    size_t want;
  } rows[] = {{1024, 384}, {4096, 1920}, {512, 128}, {300, 75},
              {100, 25},   {3, 1},       {1, 1},     {0, 1}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    tap_is_int((long long)td_sched_files_budget(rows[i].limit),
               (long long)rows[i].want, "an open-file limit of %lu leaves %zu",
               rows[i].limit, rows[i].want);
  static const struct {
    unsigned long limit;
    size_t connections, bound;
  } bounds[] = {{1024, 100, 0},    {1024, 768, 0}, {1024, 769, 384},
                {1024, 1500, 384}, {300, 60, 0},   {300, 100, 75},
                {100, 20, 0},      {100, 100, 25}, {0, 2, 1}};
  for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
    tap_is_int(
        (long long)td_sched_files_bound(bounds[i].limit, bounds[i].connections),
        (long long)bounds[i].bound,
        "a limit of %lu, %zu connections: at most %zu at once (0: no "
        "bound)",
        bounds[i].limit, bounds[i].connections, bounds[i].bound);
}

/* Plays the jobs with at most `limit` transfers at once. */
static void play_limited(const job_spec_t *spec, size_t n, double seconds,
                         size_t limit);

/* What the open-file limit leaves: 20 HTTP/1.1 accounts whose answers
 * take 0.5 s, at most 10 transfers at once: every poll answered. */
static void file_limit_spreads_transfers(void) {
  static job_spec_t jobs[20];
  for (int i = 0; i < 20; i++)
    jobs[i] =
        (job_spec_t){.b = B_OK, .interval = 2, .timeout = 1.8, .answer = 0.5};
  play_limited(jobs, 20, 5.9, 10);
  int answered = 0;
  for (int i = 0; i < 20; i++)
    answered += count(r.out[i], 'A');
  tap_is_int(answered, 60,
             "20 accounts, 10 transfers at once: every poll "
             "answered");
  tap_ok(r.most_running <= 10, "at most 10 at once (%d)", r.most_running);
}

/* At most 4 at once and 20 accounts: 12 answered in the first second
 * and a half, the 4 started at 1.5 s time out on their own, and the last
 * 4 expire waiting, from TD_SCHED_FILES. */
static void file_limit_too_low_expires_the_rest(void) {
  static job_spec_t jobs[20];
  for (int i = 0; i < 20; i++)
    jobs[i] =
        (job_spec_t){.b = B_OK, .interval = 2, .timeout = 1.8, .answer = 0.5};
  play_limited(jobs, 20, 1.95, 4);
  int a = 0, f = 0, e = 0, from_files = 0;
  for (int i = 0; i < 20; i++) {
    a += count(r.out[i], 'A');
    f += count(r.out[i], 'F');
    e += count(r.out[i], 'E');
    from_files += r.out[i][0] == 'E' && r.from[i] == TD_SCHED_FILES;
  }
  tap_ok(a == 12 && f == 4 && e == 4,
         "12 answered, 4 out of time, 4 expired (%d, %d, %d)", a, f, e);
  tap_is_int(from_files, 4, "each expired waiting for a free file");
  tap_ok(r.most_running <= 4, "at most 4 at once (%d)", r.most_running);
}

static void refused_stream_is_sent_again_once(void) {
  job_spec_t jobs[] = {
      {.b = B_REFUSED_ONCE, .interval = 2, .timeout = 1, .h2 = 1},
      {.b = B_RST, .interval = 2, .timeout = 1, .h2 = 1},
  };
  play(jobs, 2, 5.9, &r);
  tap_is_str(r.out[0], "AAA",
             "a stream a GOAWAY refused is sent again at "
             "once, and answered");
  tap_is_int(r.starts[0], 6, "once per poll");
  tap_is_str(r.out[1], "FFF", "a stream reset every time fails on its own");
  tap_is_int(r.starts[1], 6, "after one more try per poll, not more");
}

static void fate_table(void) {
  static const struct {
    td_xfer_kind_t kind;
    td_reached_t reached;
    td_fate_t want;
  } rows[] = {
      {TD_XFER_OK, TD_REACHED_STATUS, TD_FATE_ANSWERED},
      {TD_XFER_TIMEOUT, TD_REACHED_STATUS, TD_FATE_ANSWERED},
      {TD_XFER_REFUSED, TD_REACHED_NOTHING, TD_FATE_SHARED},
      {TD_XFER_NO_HOST, TD_REACHED_NOTHING, TD_FATE_SHARED},
      {TD_XFER_NO_INTERFACE, TD_REACHED_NOTHING, TD_FATE_SHARED},
      {TD_XFER_TLS_VERIFY, TD_REACHED_TCP, TD_FATE_SHARED},
      {TD_XFER_TIMEOUT, TD_REACHED_NOTHING, TD_FATE_SETUP_TIMEOUT},
      {TD_XFER_TIMEOUT, TD_REACHED_TCP, TD_FATE_SETUP_TIMEOUT},
      {TD_XFER_TIMEOUT, TD_REACHED_SENT, TD_FATE_OWN},
      {TD_XFER_TLS_HANDSHAKE, TD_REACHED_TCP, TD_FATE_OWN},
      {TD_XFER_RESET, TD_REACHED_SENT, TD_FATE_OWN},
      {TD_XFER_HTTP2, TD_REACHED_SENT, TD_FATE_OWN},
      {TD_XFER_CONNECT_FAILED, TD_REACHED_NOTHING, TD_FATE_OWN},
      {TD_XFER_FILES_LIMIT, TD_REACHED_NOTHING, TD_FATE_OWN},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    td_xfer_t x = {.kind = rows[i].kind, .reached = rows[i].reached};
    tap_is_int(td_sched_fate(&x), rows[i].want, "fate of row %zu", i);
  }
}

/* ---- the files bound meets the stream bound, and time that runs out ---- */

/* A job kept from the API by the files bound never tried it: its expiries
 * are not the API's silence, so they do not pace it (a real EMFILE,
 * TD_XFER_FILES_LIMIT, is not costly either). */
static void files_expiry_does_not_pace(void) {
  job_spec_t jobs[] = {
      /* answers its status, then its body stalls: never paced, and it
       * holds the only file for 1.8 s of every 2 */
      {.b = B_STALL, .interval = 2, .timeout = 1.8, .group = 1},
      {.b = B_OK, .interval = 2, .timeout = 1.8, .answer = 0.01},
  };
  play_limited(jobs, 2, 19.9, 1);
  tap_ok(count(r.out[1], 'P') == 0,
         "expired waiting for a file, never paced (%s)", r.out[1]);
}

/* The next first gets less than TD_SCHED_MIN_LEFT of its own time: no
 * time left is none, as left_running and the HTTP/2 retry say. */
static void next_first_without_time_is_expired(void) {
  td_sched_t s;
  td_job_conf_t conf[] = {{4, 2.0, 3, 0}, {4, 1.0, 3, 0}};
  td_act_t acts[8];
  tap_ok(td_sched_init(&s, conf, 2, 1, 0) == 0, "init");
  size_t n = td_sched_step(&s, 0, acts, 8);
  tap_ok(n == 1 && acts[0].kind == TD_ACT_START && acts[0].job == 0,
         "job 0 goes first");
  /* its own handshake reset, 0.5 ms before job 1's own time runs out */
  td_xfer_t x = {.kind = TD_XFER_TLS_HANDSHAKE, .reached = TD_REACHED_TCP};
  td_sched_finished(&s, 0, &x, 0.9995);
  n = td_sched_step(&s, 0.9995, acts, 8);
  tap_ok(n == 1 && !(acts[0].kind == TD_ACT_START &&
                     acts[0].timeout <= TD_SCHED_MIN_LEFT),
         "job 1 is not started with %.4f s (kind %d)",
         n ? acts[0].timeout : -1.0, n ? (int)acts[0].kind : -1);
  td_sched_free(&s);
}

/* A job queued for a file while its group's protocol was unknown (-1)
 * needs none once the group is known to be HTTP/2: it starts as a stream
 * instead of expiring behind stalled transfers. */
static void files_queue_left_when_http2_known(void) {
  td_sched_t s;
  td_job_conf_t conf[] = {
      {2, 1.8, 3, 1}, {2, 1.8, 3, 0}, {2, 1.8, 3, 0}, {2, 1.8, 3, 0}};
  td_act_t acts[16];
  size_t n;
  int j3_started = 0, j3_expired = 0;
  tap_ok(td_sched_init(&s, conf, 4, 2, 0) == 0, "init");
  td_sched_limit(&s, 2);
  n = td_sched_step(&s, 0, acts, 16); /* START 0 and 1 */
  td_sched_ready(&s, 0, 0, 0.001);    /* HTTP/1.1, stalls */
  td_sched_ready(&s, 1, -1, 0.001);   /* 2 and 3 queue for a file */
  td_xfer_t ok = {.kind = TD_XFER_OK, .reached = TD_REACHED_STATUS};
  td_sched_finished(&s, 1, &ok, 0.01); /* 2 runs, 3 waits */
  n = td_sched_step(&s, 0.01, acts, 16);
  td_sched_ready(&s, 2, 1, 0.011); /* the group is HTTP/2; 2 stalls */
  for (double t = 0.011; t < 1.9; t += 0.05) {
    n = td_sched_step(&s, t, acts, 16);
    for (size_t i = 0; i < n; i++) {
      j3_started += acts[i].job == 3 && acts[i].kind == TD_ACT_START;
      j3_expired += acts[i].job == 3 && acts[i].kind == TD_ACT_EXPIRED;
    }
  }
  tap_ok(j3_started && !j3_expired,
         "job 3 starts as a stream (started %d, expired %d)", j3_started,
         j3_expired);
  td_sched_free(&s);
}

/* 250 accounts on one host, at most 10 transfers at once, HTTP/2 not yet
 * known at the first ready (-1): once it is, the files queue empties all
 * at once as streams, past TD_SCHED_H2_STREAMS. */
static void files_queue_keeps_to_the_stream_bound(void) {
  static td_job_conf_t conf[250];
  static td_act_t acts[500];
  td_sched_t s;
  size_t n;
  for (int i = 0; i < 250; i++)
    conf[i] = (td_job_conf_t){5, 4, 3, 0};
  tap_ok(td_sched_init(&s, conf, 250, 1, 0) == 0, "init");
  td_sched_limit(&s, 10);
  n = td_sched_step(&s, 0, acts, 500); /* job 0 goes first */
  td_sched_ready(&s, 0, -1, 0.001);    /* 9 more run, 240 queue for files */
  n = td_sched_step(&s, 0.001, acts, 500);
  td_xfer_t ok = {.kind = TD_XFER_OK, .reached = TD_REACHED_STATUS};
  td_sched_ready(&s, 1, 1, 0.002); /* an answer showed HTTP/2 */
  td_sched_finished(&s, 0, &ok, 0.003);
  n = td_sched_step(&s, 0.003, acts, 500);
  tap_ok(s.groups[0].running <= TD_SCHED_H2_STREAMS,
         "at most %d of the group's transfers at once (%u; %zu started)",
         TD_SCHED_H2_STREAMS, s.groups[0].running, n);
  td_sched_free(&s);
}

/* The same, one step on: the shell starts that first with libcurl's least
 * Timeout (1 ms, td_http_start), its setup "times out", and a job that
 * just fell due, with 0.45 s of its own left, takes that failure over. */
static void no_setup_timeout_from_no_time(void) {
  td_sched_t s;
  td_job_conf_t conf[] = {{4, 2.0, 3, 0}, {4, 1.0, 3, 0}, {0.5, 1.0, 3, 0}};
  td_act_t acts[16];
  size_t n;
  int taken = 0;
  tap_ok(td_sched_init(&s, conf, 3, 1, 0) == 0, "init");
  for (double t = 0; t < 0.99; t += 0.05)
    n = td_sched_step(&s, t, acts, 16); /* 0 goes first, 1 and 2 wait */
  td_xfer_t reset = {.kind = TD_XFER_TLS_HANDSHAKE, .reached = TD_REACHED_TCP};
  td_sched_finished(&s, 0, &reset, 0.9995);
  n = td_sched_step(&s, 0.9995, acts, 16); /* START 1 with 0.5 ms */
  n = td_sched_step(&s, 1.0, acts, 16);    /* 2 falls due, waits behind 1 */
  td_xfer_t late = {.kind = TD_XFER_TIMEOUT, .reached = TD_REACHED_NOTHING};
  td_sched_finished(&s, 1, &late, 1.001); /* the 1 ms transfer */
  n = td_sched_step(&s, 1.001, acts, 16);
  for (size_t i = 0; i < n; i++)
    taken += acts[i].job == 2 && acts[i].kind == TD_ACT_TAKEN;
  tap_ok(!taken, "a job with 0.45 s left takes over no 1 ms setup timeout");
  td_sched_free(&s);
}

/* ---- connection setups at once (TD_SCHED_SETUPS) ----
 * n HTTP/1.1 jobs on one host, Interval iv, Timeout to; each transfer's
 * connection is ready ready_after seconds after its start (or never, < 0,
 * and then it times out); the first one's after 1 ms, and answered. Steps every
 * 1 ms; returns what happened. */
typedef struct {
  size_t started, expired, from_setups, worst_setups, late_end, short_start;
  double last_start;
} setups_t;

static setups_t play_setups(size_t n, double iv, double to,
                            double ready_after) {
  static td_job_conf_t conf[1000];
  static td_act_t acts[2000];
  static double began[1000], ends[1000];
  static int ready[1000];
  setups_t got = {0};
  td_sched_t s;
  for (size_t i = 0; i < n; i++) {
    conf[i] = (td_job_conf_t){iv, to, 3, 0};
    began[i] = -1;
    ready[i] = 0;
  }
  if (td_sched_init(&s, conf, n, 1, 0) != 0)
    return got;
  double own = to < iv * TD_POLL_SHARE ? to : iv * TD_POLL_SHARE;
  for (double t = 0; t < iv * TD_POLL_SHARE + 0.01; t += 0.001) {
    size_t k = td_sched_step(&s, t, acts, 2000);
    for (size_t a = 0; a < k; a++) {
      unsigned j = acts[a].job;
      if (acts[a].kind == TD_ACT_START && began[j] < 0) {
        got.started++;
        began[j] = t;
        ends[j] = t + acts[a].timeout;
        got.last_start = t;
        got.late_end +=
            ends[j] > iv * TD_POLL_SHARE + 0.002; /* one step late */
        got.short_start +=
            acts[a].timeout < own - 0.1 && iv * TD_POLL_SHARE > 2 * to;
      } else if (acts[a].kind == TD_ACT_EXPIRED) {
        got.expired++;
        got.from_setups += acts[a].from == TD_SCHED_SETUPS_FULL;
      }
    }
    if (s.setting_up > got.worst_setups)
      got.worst_setups = s.setting_up;
    for (size_t i = 0; i < n; i++) {
      if (began[i] < 0 || s.jobs[i].where != TD_JOB_RUNNING)
        continue;
      /* The first one's connection works: the host is open. */
      double after = i == 0 ? 0.001 : ready_after;
      if (!ready[i] && after >= 0 && t >= began[i] + after) {
        ready[i] = 1;
        td_sched_ready(&s, (unsigned)i, 0, t);
      } else if (ready[i] && t >= began[i] + after + 0.002) {
        td_xfer_t ok = {.kind = TD_XFER_OK, .reached = TD_REACHED_STATUS};
        td_sched_finished(&s, (unsigned)i, &ok, t);
      } else if (t >= ends[i]) {
        td_xfer_t late = {.kind = TD_XFER_TIMEOUT, .reached = TD_REACHED_TCP};
        td_sched_finished(&s, (unsigned)i, &late, t);
      }
    }
  }
  td_sched_free(&s);
  return got;
}

static void setups_are_taken_in_turn(void) {
  /* 1,000 accounts on one HTTP/1.1 host, handshakes of 5 ms: before, all
   * 999 behind the first started together; now 64 at a time, and all
   * within the first half second, each with its whole Timeout. */
  setups_t got = play_setups(1000, 60, 10, 0.005);
  tap_is_int((long long)got.started, 1000,
             "1,000 handshakes of 5 ms: all start");
  tap_ok(got.worst_setups <= TD_SCHED_SETUPS,
         "never more than %d setting up (%zu)", TD_SCHED_SETUPS,
         got.worst_setups);
  tap_ok(got.last_start < 0.5, "the last starts within 0.5 s (%.3f)",
         got.last_start);
  tap_is_int((long long)(got.expired + got.short_start), 0,
             "none expires, none starts with less than its Timeout");
}

static void hanging_setups_hold_their_places_briefly(void) {
  /* Handshakes that never end (a host that accepts TCP and says
   * nothing): each holds its place TD_SCHED_SETUP_HOLD at most, so 400
   * start within 0.7 s (64 every 0.1 s), each with its whole Timeout,
   * and none waits past its time. */
  setups_t got = play_setups(400, 60, 10, -1);
  tap_is_int((long long)got.started, 400,
             "400 hanging handshakes at Interval 60: all start");
  tap_ok(got.last_start < 0.7, "the last within 0.7 s (%.3f)", got.last_start);
  tap_is_int((long long)(got.expired + got.late_end + got.short_start), 0,
             "none expires, none runs past Interval x 0.9, none with less "
             "than its Timeout");
  got = play_setups(100, 10, 10, -1);
  tap_ok(got.started == 100 && got.expired == 0 && got.late_end == 0,
         "at Interval 10 as well (%zu started, %zu expired, %zu late)",
         got.started, got.expired, got.late_end);
}

static void setup_wait_expires_when_time_is_gone(void) {
  /* With places that do not free (no time passes between the steps
   * beyond each one's Timeout: Interval 10, Timeout 10, and a clock
   * that jumps), a job that waited for a setup past 9 s expires from
   * TD_SCHED_SETUPS_FULL, its poll unpaced. */
  static td_job_conf_t conf[TD_SCHED_SETUPS + 2];
  static td_act_t acts[2 * (TD_SCHED_SETUPS + 2)];
  td_sched_t s;
  size_t n = TD_SCHED_SETUPS + 2, k, expired = 0, from_setups = 0;
  for (size_t i = 0; i < n; i++)
    conf[i] = (td_job_conf_t){10, 10, 3, 0};
  tap_ok(td_sched_init(&s, conf, n, 1, 0) == 0, "init");
  k = td_sched_step(&s, 0, acts, 2 * n);     /* job 0 goes first */
  td_sched_ready(&s, 0, 0, 0.001);           /* HTTP/1.1: 64 start */
  k = td_sched_step(&s, 0.001, acts, 2 * n); /* job 65 waits */
  k = td_sched_step(&s, 9.5, acts, 2 * n);
  for (size_t i = 0; i < k; i++) {
    expired += acts[i].kind == TD_ACT_EXPIRED;
    from_setups += acts[i].from == TD_SCHED_SETUPS_FULL;
  }
  tap_ok(expired == 1 && from_setups == 1,
         "the one left waiting expires from the setups (%zu, %zu)", expired,
         from_setups);
  tap_ok(td_pace_may_try(&s.jobs[n - 1].pace, 10, 0.5),
         "and is not paced: it never tried the API");
  td_sched_free(&s);
}

static void hanging_hosts_hold_a_healthy_neighbour_briefly(void) {
  /* 100 hosts that hang, each its own group, and one healthy account of
   * another host behind them: it starts within 0.25 s, not after the
   * hanging ones' Timeout. */
  static td_job_conf_t conf[101];
  static td_act_t acts[202];
  td_sched_t s;
  double healthy = -1;
  for (unsigned i = 0; i < 101; i++)
    conf[i] = (td_job_conf_t){60, 10, 3, i};
  tap_ok(td_sched_init(&s, conf, 101, 101, 0) == 0, "init");
  for (double t = 0; t < 1 && healthy < 0; t += 0.001) {
    size_t k = td_sched_step(&s, t, acts, 202);
    for (size_t a = 0; a < k; a++)
      if (acts[a].kind == TD_ACT_START && acts[a].job == 100)
        healthy = t;
  }
  tap_ok(healthy >= 0 && healthy < 0.25,
         "behind 100 hanging hosts, a healthy one starts at %.3f s", healthy);
  td_sched_free(&s);
}

int main(void) {
  fate_table();
  hanging_token_first_healthy_beside(2, 20);
  hanging_token_first_healthy_beside(30, 250);
  hanging_token_first_healthy_beside(60, 250);
  timeouts_are_each_ones_own();
  organizations_never_go_first();
  http2_first_stream(B_HANG_REQ, "never answered");
  http2_first_stream(B_RST, "reset");
  http2_first_stream(B_STALL, "stalled after its headers");
  same_failure_taken_over(B_REFUSED, "refused");
  same_failure_taken_over(B_TLS_BAD, "a certificate that fails");
  same_failure_taken_over(B_HANG_SETUP, "a TLS setup that times out");
  hanging_host_cost_over_rounds();
  longer_timeout_is_not_taken_over();
  shorter_timeout_expires_on_its_own();
  own_setup_failure_is_not_taken_over();
  open_http1_connection_waits_for_no_one();
  pacing_spaces_silent_attempts();
  retry_after_holds();
  no_token_first_does_not_hold_others();
  many_http2_streams();
  http2_streams_fit_one_connection();
  stalled_streams_hold_no_one_long();
  refused_stream_is_sent_again_once();
  files_budget_table();
  file_limit_spreads_transfers();
  file_limit_too_low_expires_the_rest();
  files_expiry_does_not_pace();
  next_first_without_time_is_expired();
  files_queue_left_when_http2_known();
  files_queue_keeps_to_the_stream_bound();
  no_setup_timeout_from_no_time();
  setups_are_taken_in_turn();
  hanging_setups_hold_their_places_briefly();
  setup_wait_expires_when_time_is_gone();
  hanging_hosts_hold_a_healthy_neighbour_briefly();
  return tap_done();
}
