/* td_sched: when each transfer runs and who waits for whom. See
 * td_sched.h for the rules. */
#include "td_sched.h"

#include <stdlib.h>
#include <string.h>

td_fate_t td_sched_fate(const td_xfer_t *x) {
  if (x->reached >= TD_REACHED_STATUS)
    return TD_FATE_ANSWERED;
  switch (x->kind) {
  case TD_XFER_OK:
    return TD_FATE_ANSWERED;
  case TD_XFER_NO_HOST:
  case TD_XFER_NO_PROXY_HOST:
  case TD_XFER_NO_INTERFACE:
  case TD_XFER_REFUSED:
  case TD_XFER_TLS_VERIFY:
  case TD_XFER_CA_UNREADABLE:
    /* The group shares host, port, proxy, TLS and network settings. */
    return TD_FATE_SHARED;
  case TD_XFER_TIMEOUT:
    return x->reached < TD_REACHED_SENT ? TD_FATE_SETUP_TIMEOUT : TD_FATE_OWN;
  default:
    return TD_FATE_OWN;
  }
}

/* A failure that cost no connection attempt is retried at every poll. */
static int is_costly(const td_xfer_t *x) {
  switch (x->kind) {
  case TD_XFER_NO_HOST:
  case TD_XFER_NO_PROXY_HOST:
  case TD_XFER_NO_INTERFACE:
  case TD_XFER_REFUSED:
  case TD_XFER_CONNECT_FAILED:
  case TD_XFER_NOT_STARTED:
  case TD_XFER_FILES_LIMIT:
  case TD_XFER_SETUPS_FULL:
    return 0;
  default:
    return 1;
  }
}

/* Seconds the job's transfer may take from its due time. */
static double own_limit(const td_job_t *j) {
  double share = j->conf.interval * TD_POLL_SHARE;
  return j->conf.timeout < share ? j->conf.timeout : share;
}

static double deadline(const td_job_t *j) { return j->due_at + own_limit(j); }

/* When the job's poll must have ended: before it is next due. */
static double end_by(const td_job_t *j) {
  return j->due_at + j->conf.interval * TD_POLL_SHARE;
}

/* The latest a job may start: one waiting for a setup may start as long
 * as its whole own limit still ends by end_by, and never later than
 * others. */
static double wait_deadline(const td_job_t *j) {
  double late = end_by(j) - own_limit(j);
  return j->for_setup && late > deadline(j) ? late : deadline(j);
}

/* Less of its own time left than a transfer can use. */
static int out_of_time(const td_job_t *j, double now) {
  return wait_deadline(j) - now <= TD_SCHED_MIN_LEFT;
}

/* When a job waiting for a stream of a working HTTP/2 connection starts
 * anyway: well before its own time runs out. */
static double patience(const td_job_t *j) {
  return j->due_at + own_limit(j) * TD_SCHED_H2_PATIENCE;
}

/* The group has a working HTTP/2 connection, and no one goes first. */
static int streams_ready(const td_group_t *g) {
  return g->open && g->multiplexed && g->first == TD_SCHED_NONE;
}

static void push(td_sched_t *s, td_act_kind_t kind, unsigned job, unsigned from,
                 double timeout) {
  /* Each job has at most two actions pending (see max_actions): the ring
   * cannot be full here. */
  size_t at = (s->ring_start + s->ring_len) % s->ring_size;
  s->ring[at] = (td_act_t){kind, job, from, timeout};
  s->ring_len++;
}

/* ---- the lists: singly linked through td_job_t.next ---- */

static void list_add(td_sched_t *s, unsigned *head, unsigned *tail,
                     unsigned job) {
  s->jobs[job].next = TD_SCHED_NONE;
  if (*tail == TD_SCHED_NONE)
    *head = job;
  else
    s->jobs[*tail].next = job;
  *tail = job;
}

static unsigned list_take(td_sched_t *s, unsigned *head, unsigned *tail) {
  unsigned job = *head;
  if (job == TD_SCHED_NONE)
    return job;
  *head = s->jobs[job].next;
  if (*head == TD_SCHED_NONE)
    *tail = TD_SCHED_NONE;
  s->jobs[job].next = TD_SCHED_NONE;
  return job;
}

static void list_remove(td_sched_t *s, unsigned *head, unsigned *tail,
                        unsigned job) {
  unsigned prev = TD_SCHED_NONE;
  for (unsigned at = *head; at != TD_SCHED_NONE; at = s->jobs[at].next) {
    if (at != job) {
      prev = at;
      continue;
    }
    if (prev == TD_SCHED_NONE)
      *head = s->jobs[at].next;
    else
      s->jobs[prev].next = s->jobs[at].next;
    if (*tail == job)
      *tail = prev;
    s->jobs[job].next = TD_SCHED_NONE;
    return;
  }
}

/* ---- going first, waiting, starting ---- */

/* A stream of a working HTTP/2 connection needs no file of its own. */
static int needs_file(const td_sched_t *s, const td_job_t *j) {
  const td_group_t *g = &s->groups[j->conf.group];
  return !(g->open && g->multiplexed == 1);
}

static void run(td_sched_t *s, unsigned job, double now) {
  td_job_t *j = &s->jobs[job];
  double left = deadline(j) - now;
  if (j->for_setup) {
    double own = own_limit(j), until = end_by(j) - now;
    left = own < until ? own : until;
    j->for_setup = 0;
  }
  if (j->where != TD_JOB_RUNNING) { /* not a second try of its stream */
    s->groups[j->conf.group].running++;
    j->holds_file = needs_file(s, j);
    s->running += (size_t)j->holds_file;
    j->in_setup = j->holds_file;
    j->setup_until = now + TD_SCHED_SETUP_HOLD;
    s->setting_up += (size_t)j->in_setup;
  }
  j->where = TD_JOB_RUNNING;
  j->overlap_said = 0;
  push(s, TD_ACT_START, job, TD_SCHED_NONE, left);
}

/* No file or no setup is free for one more transfer that needs them. */
static int files_full(const td_sched_t *s) {
  return s->max_running > 0 && s->running >= s->max_running;
}

static int bounded(const td_sched_t *s) {
  return files_full(s) || s->setting_up >= TD_SCHED_SETUPS;
}

static void expire(td_sched_t *s, unsigned job, double now);

/* Runs the job, or queues it for a free file when the bound is reached;
 * with no time of its own left, it has expired. */
static void start(td_sched_t *s, unsigned job, double now) {
  td_job_t *j = &s->jobs[job];
  if (j->where != TD_JOB_RUNNING && out_of_time(j, now)) {
    expire(s, job, now);
    return;
  }
  if (j->where != TD_JOB_RUNNING && bounded(s) && needs_file(s, j)) {
    j->for_setup = !files_full(s);
    /* Every place is held until now + TD_SCHED_SETUP_HOLD at the most. */
    if (j->for_setup && now + TD_SCHED_SETUP_HOLD < s->next_check)
      s->next_check = now + TD_SCHED_SETUP_HOLD;
    j->where = TD_JOB_FILES;
    s->groups[j->conf.group].filed++;
    list_add(s, &s->files_head, &s->files_tail, job);
    return;
  }
  run(s, job, now);
}

/* Takes a job out of the files queue. */
static void unfile(td_sched_t *s, unsigned job) {
  list_remove(s, &s->files_head, &s->files_tail, job);
  s->groups[s->jobs[job].conf.group].filed--;
}

/* A job leaves the files queue: it runs, or it has expired there. */
static void leave_files(td_sched_t *s, unsigned job, double now) {
  if (out_of_time(&s->jobs[job], now)) {
    expire(s, job, now);
    return;
  }
  unfile(s, job);
  run(s, job, now);
}

/* The oldest jobs waiting for a file or a setup run as far as both
 * bounds allow, those with time left. */
static void unqueue(td_sched_t *s, double now) {
  unsigned job;
  while (!bounded(s) && (job = s->files_head) != TD_SCHED_NONE)
    leave_files(s, job, now);
}

/* The job's transfer no longer sets up a connection. */
static void setup_done(td_sched_t *s, td_job_t *j) {
  s->setting_up -= (size_t)j->in_setup;
  j->in_setup = 0;
}

/* A transfer ended: the queue moves. */
static void left_running(td_sched_t *s, td_job_t *j, double now) {
  j->where = TD_JOB_IDLE;
  s->groups[j->conf.group].running--;
  s->running -= (size_t)j->holds_file;
  j->holds_file = 0;
  setup_done(s, j);
  unqueue(s, now);
}

static void go_first(td_sched_t *s, unsigned job) {
  td_job_t *j = &s->jobs[job];
  s->groups[j->conf.group].first = job;
  j->where = TD_JOB_QUEUED;
  list_add(s, &s->queue_head, &s->queue_tail, job);
}

/* The next waiting job of g goes first, if there is one. */
static void next_first(td_sched_t *s, td_group_t *g) {
  g->first = TD_SCHED_NONE;
  unsigned job = list_take(s, &g->wait_head, &g->wait_tail);
  if (job != TD_SCHED_NONE)
    go_first(s, job);
}

static void enter(td_sched_t *s, unsigned job, double now) {
  td_job_t *j = &s->jobs[job];
  td_group_t *g = &s->groups[j->conf.group];
  j->due_at = now;
  j->retried = 0;
  if ((g->open && !g->multiplexed) ||
      (streams_ready(g) && g->running < TD_SCHED_H2_STREAMS))
    start(s, job, now);
  else if (g->first == TD_SCHED_NONE && !g->open)
    go_first(s, job);
  else {
    j->where = TD_JOB_WAITING;
    list_add(s, &g->wait_head, &g->wait_tail, job);
    if (streams_ready(g) && patience(j) < s->next_check)
      s->next_check = patience(j);
  }
}

/* Waiting jobs of g start as far as its connection allows: all of them
 * behind a working HTTP/1.1 connection (each opens its own), up to
 * TD_SCHED_H2_STREAMS running behind an HTTP/2 one (streams on it); with
 * no working connection, the next one goes first. */
static void admit(td_sched_t *s, td_group_t *g, double now) {
  unsigned job;
  if (g->first != TD_SCHED_NONE)
    return; /* they wait for its connection */
  if (!g->open) {
    next_first(s, g);
    return;
  }
  while ((!g->multiplexed || g->running + g->filed < TD_SCHED_H2_STREAMS) &&
         (job = list_take(s, &g->wait_head, &g->wait_tail)) != TD_SCHED_NONE)
    start(s, job, now);
}

/* g's connection turned out to be HTTP/2: its jobs waiting for a file
 * need none, and run as streams. */
static void unfile_streams(td_sched_t *s, td_group_t *g, double now) {
  unsigned at = s->files_head;
  while (g->filed > 0 && at != TD_SCHED_NONE) {
    unsigned job = at;
    at = s->jobs[at].next;
    if (&s->groups[s->jobs[job].conf.group] == g)
      leave_files(s, job, now);
  }
}

/* The first job's connection is ready: those it leaves waiting for a
 * stream now wait at most their patience (the clock's next check). */
static void release(td_sched_t *s, td_group_t *g, double now) {
  g->first = TD_SCHED_NONE;
  admit(s, g, now);
  for (unsigned at = g->wait_head; at != TD_SCHED_NONE; at = s->jobs[at].next)
    if (patience(&s->jobs[at]) < s->next_check)
      s->next_check = patience(&s->jobs[at]);
}

/* Records a poll that got no answer (or one) for pacing; at is the time
 * the poll fell due, so that the next attempt falls on a due time. */
static void record(td_job_t *j, int answered) {
  td_pace_record(&j->pace, answered, j->due_at, j->conf.interval,
                 j->conf.unreachable_after);
}

/* A waiting job fails with the failure of the one that went first. */
static void take_over(td_sched_t *s, unsigned job, unsigned from) {
  td_job_t *j = &s->jobs[job];
  j->where = TD_JOB_IDLE;
  j->costly = s->jobs[from].costly;
  record(j, !j->costly);
  push(s, TD_ACT_TAKEN, job, from, 0);
}

/* The first job of g failed before its connection was ready. */
static void first_failed(td_sched_t *s, td_group_t *g, unsigned from,
                         td_fate_t fate) {
  unsigned head = TD_SCHED_NONE, tail = TD_SCHED_NONE, job;
  double limit = own_limit(&s->jobs[from]);
  g->first = TD_SCHED_NONE;
  while ((job = list_take(s, &g->wait_head, &g->wait_tail)) != TD_SCHED_NONE)
    if (fate == TD_FATE_SHARED ||
        (fate == TD_FATE_SETUP_TIMEOUT && own_limit(&s->jobs[job]) <= limit))
      take_over(s, job, from);
    else
      list_add(s, &head, &tail, job);
  g->wait_head = head;
  g->wait_tail = tail;
  next_first(s, g);
}

/* ---- the clock ---- */

static void due(td_sched_t *s, unsigned job, double now) {
  td_job_t *j = &s->jobs[job];
  j->next_due += j->conf.interval;
  if (j->next_due <= now)
    j->next_due = now + j->conf.interval; /* fell behind: skip, no burst */
  if (j->where != TD_JOB_IDLE) {
    if (!j->overlap_said)
      push(s, TD_ACT_OVERLAP, job, TD_SCHED_NONE, 0);
    j->overlap_said = 1;
  } else if (now < j->hold_until) {
    push(s, TD_ACT_HELD, job, TD_SCHED_NONE, 0);
  } else if (!td_pace_may_try(&j->pace, now, j->conf.interval / 20)) {
    td_pace_skipped(&j->pace);
    push(s, TD_ACT_PACED, job, TD_SCHED_NONE, 0);
  } else {
    enter(s, job, now);
  }
}

/* A job waiting (behind a first, for the setup budget or for a file)
 * past its own limit. */
static void expire(td_sched_t *s, unsigned job, double now) {
  td_job_t *j = &s->jobs[job];
  td_group_t *g = &s->groups[j->conf.group];
  unsigned from = job;
  int filed = j->where == TD_JOB_FILES;
  if (j->where == TD_JOB_WAITING) {
    list_remove(s, &g->wait_head, &g->wait_tail, job);
    if (g->first != TD_SCHED_NONE)
      from = g->first;
  } else if (filed) {
    unfile(s, job);
    from = j->for_setup ? TD_SCHED_SETUPS_FULL : TD_SCHED_FILES;
    j->for_setup = 0;
    if (g->first == job)
      next_first(s, g);
  } else {
    list_remove(s, &s->queue_head, &s->queue_tail, job);
    next_first(s, g);
  }
  j->where = TD_JOB_IDLE;
  /* One that waited for a file or a setup never tried the API: no
   * silence to pace. */
  j->costly = !filed;
  record(j, filed);
  push(s, TD_ACT_EXPIRED, job, from, j->conf.timeout);
  if (filed)
    admit(s, g, now); /* its place among the group's 99 streams is free */
}

static int is_waiting(const td_job_t *j) {
  return j->where == TD_JOB_WAITING || j->where == TD_JOB_QUEUED ||
         j->where == TD_JOB_FILES;
}

/* A job waiting for a stream: it has waited long enough. */
static void impatient(td_sched_t *s, unsigned job, double now) {
  td_group_t *g = &s->groups[s->jobs[job].conf.group];
  list_remove(s, &g->wait_head, &g->wait_tail, job);
  start(s, job, now);
}

static void scan(td_sched_t *s, double now) {
  double next = now + 86400.0 * 366;
  /* A place frees by now + TD_SCHED_SETUP_HOLD at the latest, one held
   * since earlier sooner. */
  double place = now + TD_SCHED_SETUP_HOLD;
  int held = 0;
  for (unsigned i = 0; i < s->n_jobs; i++) {
    td_job_t *j = &s->jobs[i];
    if (j->in_setup && j->setup_until <= now) {
      setup_done(s, j);
      held = 1;
    } else if (j->in_setup && j->setup_until < place) {
      place = j->setup_until;
    }
    int for_stream =
        j->where == TD_JOB_WAITING && streams_ready(&s->groups[j->conf.group]);
    if (for_stream && patience(j) <= now)
      impatient(s, i, now);
    if (is_waiting(j) && out_of_time(j, now))
      expire(s, i, now);
    if (j->next_due <= now)
      due(s, i, now);
    if (j->next_due < next)
      next = j->next_due;
    if (is_waiting(j) && wait_deadline(j) < next)
      next = wait_deadline(j);
    if (j->where == TD_JOB_WAITING &&
        streams_ready(&s->groups[j->conf.group]) && patience(j) < next)
      next = patience(j);
  }
  if (held)
    unqueue(s, now);
  if (s->files_head != TD_SCHED_NONE && place < next)
    next = place; /* jobs wait for a setup: look again when one frees */
  s->next_check = next;
}

/* ---- the interface ---- */

int td_sched_init(td_sched_t *s, const td_job_conf_t *jobs, size_t n,
                  size_t n_groups, double now) {
  memset(s, 0, sizeof(*s));
  if (n == 0 || n_groups == 0 || n > TD_SCHED_NONE / 4)
    return -1;
  s->jobs = calloc(n, sizeof(*s->jobs));
  s->groups = calloc(n_groups, sizeof(*s->groups));
  s->ring_size = 2 * n;
  s->ring = calloc(s->ring_size, sizeof(*s->ring));
  if (s->jobs == NULL || s->groups == NULL || s->ring == NULL) {
    td_sched_free(s);
    return -1;
  }
  s->n_jobs = n;
  s->n_groups = n_groups;
  s->queue_head = s->queue_tail = TD_SCHED_NONE;
  s->files_head = s->files_tail = TD_SCHED_NONE;
  for (size_t g = 0; g < n_groups; g++)
    s->groups[g] = (td_group_t){.first = TD_SCHED_NONE,
                                .wait_head = TD_SCHED_NONE,
                                .wait_tail = TD_SCHED_NONE};
  for (size_t i = 0; i < n; i++) {
    if (!(jobs[i].interval > 0) || !(jobs[i].timeout > 0) ||
        jobs[i].group >= n_groups) {
      td_sched_free(s);
      return -1;
    }
    s->jobs[i].conf = jobs[i];
    s->jobs[i].next_due = now;
    s->jobs[i].next = TD_SCHED_NONE;
    td_pace_init(&s->jobs[i].pace);
  }
  s->next_check = now;
  return 0;
}

void td_sched_free(td_sched_t *s) {
  free(s->jobs);
  free(s->groups);
  free(s->ring);
  memset(s, 0, sizeof(*s));
}

size_t td_sched_files_budget(unsigned long limit) {
  unsigned long kept =
      limit < 2 * TD_SCHED_FILES_KEPT ? limit / 2 : TD_SCHED_FILES_KEPT;
  return (limit - kept) / 2 > 0 ? (size_t)((limit - kept) / 2) : 1;
}

unsigned long td_sched_files_want(size_t connections) {
  return (unsigned long)connections + TD_SCHED_FILES_KEPT;
}

size_t td_sched_files_bound(unsigned long limit, size_t connections) {
  size_t budget = td_sched_files_budget(limit);
  return limit >= td_sched_files_want(connections) || budget >= connections
             ? 0
             : budget;
}

void td_sched_limit(td_sched_t *s, size_t max_running) {
  s->max_running = max_running;
}

size_t td_sched_max_actions(const td_sched_t *s) { return s->ring_size; }

size_t td_sched_step(td_sched_t *s, double now, td_act_t *acts, size_t cap) {
  if (now >= s->next_check)
    scan(s, now);
  for (int n = 0; n < TD_SCHED_SETUP_BUDGET; n++) {
    unsigned job = list_take(s, &s->queue_head, &s->queue_tail);
    if (job == TD_SCHED_NONE)
      break;
    start(s, job, now);
  }
  size_t n = 0;
  for (; n < cap && s->ring_len > 0; n++) {
    acts[n] = s->ring[s->ring_start];
    s->ring_start = (s->ring_start + 1) % s->ring_size;
    s->ring_len--;
  }
  return n;
}

double td_sched_next(const td_sched_t *s) {
  /* Queued firsts and undelivered actions are for the next step now. */
  if (s->queue_head != TD_SCHED_NONE || s->ring_len > 0)
    return 0;
  return s->next_check;
}

void td_sched_ready(td_sched_t *s, unsigned job, int multiplexed, double now) {
  td_group_t *g = &s->groups[s->jobs[job].conf.group];
  setup_done(s, &s->jobs[job]);
  unqueue(s, now);
  int became_http2 = multiplexed == 1 && !(g->open && g->multiplexed == 1);
  g->multiplexed = multiplexed;
  g->open = 1;
  if (became_http2 && g->filed > 0)
    unfile_streams(s, g, now);
  if (g->first == job)
    release(s, g, now);
  else
    admit(s, g, now); /* HTTP/1.1 after all: no one waits for a stream */
}

int td_sched_finished(td_sched_t *s, unsigned job, const td_xfer_t *x,
                      double now) {
  td_job_t *j = &s->jobs[job];
  td_group_t *g = &s->groups[j->conf.group];
  td_fate_t fate = td_sched_fate(x);
  if (x->kind == TD_XFER_HTTP2 && x->reached == TD_REACHED_SENT &&
      !j->retried && !out_of_time(j, now)) {
    j->retried = 1;
    start(s, job, now);
    return 0;
  }
  left_running(s, j, now);
  j->costly = fate != TD_FATE_ANSWERED && is_costly(x);
  record(j, fate == TD_FATE_ANSWERED || !j->costly);
  if (x->reached < TD_REACHED_SENT)
    g->open = 0; /* this connection could not be set up */
  if (g->first == job) {
    if (x->reached >= TD_REACHED_SENT)
      release(s, g, now); /* ready was not reported */
    else
      first_failed(s, g, job, fate);
  } else {
    admit(s, g, now); /* a stream is free, or the connection is gone */
  }
  return 1;
}

void td_sched_dropped(td_sched_t *s, unsigned job, double now) {
  td_job_t *j = &s->jobs[job];
  td_group_t *g = &s->groups[j->conf.group];
  left_running(s, j, now);
  if (g->first == job)
    next_first(s, g);
  else
    admit(s, g, now);
}

void td_sched_hold(td_sched_t *s, unsigned job, double seconds, double now) {
  s->jobs[job].hold_until = seconds > 0 ? now + seconds : 0;
}
