/* td_sched: when each transfer runs and who waits for whom. Owns, for
 * every job (an account's users/info poll, or its organizations poll), its
 * next due time, its Retry-After hold, its pacing and its place in its
 * group; for every group (jobs whose transfers can share a connection),
 * which job goes first while no working connection is known. The time is
 * monotonic seconds, passed in. Never does I/O, never words anything: the
 * shell carries out the actions it returns and reports what each
 * transfer reached.
 *
 * The rules, in order, for a job that falls due:
 *  1. its previous transfer still runs: OVERLAP (once until it starts);
 *  2. a Retry-After holds it: HELD;
 *  3. pacing says its API has been silent: PACED (its last failure again);
 *  4. else it enters its group: it STARTs at once when the group has a
 *     working HTTP/1.1 connection, or a working HTTP/2 one with fewer
 *     than TD_SCHED_H2_STREAMS of the group's transfers running; else it
 *     goes first when no connection works (at most TD_SCHED_SETUP_BUDGET
 *     firsts start per step), or waits.
 * A waiting job starts as soon as the first one's connection is ready
 * (all of them over HTTP/1.1, up to TD_SCHED_H2_STREAMS running over
 * HTTP/2), and over HTTP/2 as soon as a running transfer of its group
 * ends, or when it has waited TD_SCHED_H2_PATIENCE of its own time for
 * that: streams that stall delay no one longer, and
 * libcurl then puts it on the connection up to the server's own stream
 * limit, or opens another. When the first one fails before its
 * connection is ready, a waiting job takes over its failure (TAKEN) only
 * when that failure would certainly have been its own: a refused
 * connection, an unknown host or a failed certificate check at once, a
 * setup timeout only when its own Timeout is not longer. Otherwise the
 * next waiting job goes first. A waiting job whose own Timeout runs out
 * while the first one is still setting up is EXPIRED: its own timeout.
 *
 * With a bound on transfers at once (td_sched_limit: what the open-file
 * limit leaves), a job that would start beyond it waits for a running one
 * to end, oldest first; EXPIRED from TD_SCHED_FILES when its own time runs
 * out meanwhile.
 *
 * At most TD_SCHED_SETUPS transfers set up a connection at once (from
 * their start until their connection is ready, they end, or
 * TD_SCHED_SETUP_HOLD has passed; streams of a working HTTP/2 connection
 * set none up): a job beyond waits in the same queue, oldest first, until
 * one is ready. The bound paces handshakes, which take the CPU; a server
 * that hangs, or is far, takes none and holds a place no longer. 10,000 TLS
 * handshakes started together each took longer than a Timeout on one thread,
 * all failed, and the next round did the same (issue 20); in turn they take
 * what the CPU takes. Such a job waits as long as it can still end before it is
 * next due (its Timeout before its next due time), then runs with its whole
 * Timeout; EXPIRED from TD_SCHED_SETUPS_FULL when that time has gone. */
#ifndef TD_SCHED_H
#define TD_SCHED_H

#include <stddef.h>

#include "td_defaults.h"
#include "td_pace.h"
#include "td_xfer.h"

#define TD_SCHED_SETUP_BUDGET 4 /* first transfers started per step */
/* A group's transfers running at once over HTTP/2, below nginx's 128
 * streams per connection: libcurl then needs no second connection. */
#define TD_SCHED_H2_STREAMS 99
/* The share of its own time a job waits at most for one of those to end:
 * a fixed bound would be shorter than a stream's round trip to a far or
 * slow server, and waiting would then save nothing. */
#define TD_SCHED_H2_PATIENCE 0.25
#define TD_SCHED_MIN_LEFT 0.001 /* seconds: less own time left is none */
#define TD_SCHED_NONE ((unsigned)-1)
#define TD_SCHED_FILES ((unsigned)-2) /* EXPIRED waiting for a free file */
/* Connection setups (TCP and TLS) at once: enough to keep a far server's
 * round trips busy, few enough that each handshake ends in milliseconds. */
#ifndef TD_SCHED_SETUPS /* a test may set a smaller one */
#define TD_SCHED_SETUPS 64
#endif
#define TD_SCHED_SETUPS_FULL ((unsigned)-3) /* EXPIRED waiting for a setup */
#define TD_SCHED_SETUP_HOLD 0.1 /* seconds a setup holds its place at most */

typedef enum {
  TD_ACT_START,   /* start the job's transfer with `timeout` seconds */
  TD_ACT_OVERLAP, /* due while its transfer still runs; said once */
  TD_ACT_HELD,    /* due while a Retry-After holds it: time-only step */
  TD_ACT_PACED,   /* due while paced: its last failure again, untried */
  TD_ACT_TAKEN,   /* failed with the failure of job `from`, untried */
  TD_ACT_EXPIRED, /* its own `timeout` ran out waiting for `from` (itself
                     when it waited for the setup budget) */
} td_act_kind_t;

typedef struct {
  td_act_kind_t kind;
  unsigned job;
  unsigned from;  /* TAKEN, EXPIRED (or TD_SCHED_FILES); else TD_SCHED_NONE */
  double timeout; /* START: seconds the transfer may take; EXPIRED: the
                     job's own Timeout that ran out */
} td_act_t;

/* What a finished transfer means for the jobs waiting behind it. */
typedef enum {
  TD_FATE_ANSWERED,      /* an HTTP status came */
  TD_FATE_SHARED,        /* every job of the group would fail alike:
                            refused, unknown host, certificate refused */
  TD_FATE_SETUP_TIMEOUT, /* its Timeout ran out before the connection
                            was ready */
  TD_FATE_OWN,           /* anything else: its own */
} td_fate_t;

/* A job's settings, fixed at start. */
typedef struct {
  double interval;            /* seconds between polls, > 0 */
  double timeout;             /* its own Timeout, seconds, > 0 */
  unsigned unreachable_after; /* UnreachableAfter, for pacing */
  unsigned group;             /* < the number of groups */
} td_job_conf_t;

typedef enum {
  TD_JOB_IDLE,
  TD_JOB_WAITING, /* behind its group's first transfer */
  TD_JOB_QUEUED,  /* goes first; waits for the setup budget */
  TD_JOB_FILES,   /* waits for a transfer to end (td_sched_limit) or a
                     setup to be done (TD_SCHED_SETUPS) */
  TD_JOB_RUNNING,
} td_job_where_t;

typedef struct {
  td_job_conf_t conf;
  td_job_where_t where;
  double next_due;    /* when it is next due */
  double due_at;      /* when its current poll fell due */
  double hold_until;  /* no poll before this (Retry-After) */
  int overlap_said;   /* OVERLAP returned since its last start */
  int retried;        /* its poll was started again once */
  int costly;         /* its last failure cost a connection attempt */
  int holds_file;     /* its transfer counts against td_sched_limit */
  int in_setup;       /* its transfer sets up a connection (TD_SCHED_SETUPS) */
  double setup_until; /* and holds its place until then */
  int for_setup;      /* it waits in the files queue for a setup */
  td_pace_t pace;
  unsigned next; /* in its group's waiting list or the queue */
} td_job_t;

typedef struct {
  int open;         /* an HTTP/1.1 connection is known to work */
  int multiplexed;  /* its last answer came over HTTP/2 (1), HTTP/1.1 (0),
                       none yet (-1: streams are bounded as for HTTP/2,
                       files as for HTTP/1.1) */
  unsigned first;   /* the job that goes first, or TD_SCHED_NONE */
  unsigned running; /* its jobs in TD_JOB_RUNNING */
  unsigned filed;   /* its jobs in TD_JOB_FILES: they count
                       against TD_SCHED_H2_STREAMS too */
  unsigned wait_head, wait_tail; /* waiting jobs, oldest first */
} td_group_t;

typedef struct {
  td_job_t *jobs;
  size_t n_jobs;
  td_group_t *groups;
  size_t n_groups;
  unsigned queue_head, queue_tail; /* firsts waiting for the budget */
  unsigned files_head, files_tail; /* jobs waiting for a free file */
  size_t running;                  /* transfers running that may need
                                      a file: not streams of a working
                                      HTTP/2 connection */
  size_t max_running;              /* at most at once; 0: no bound */
  size_t setting_up;               /* transfers with in_setup */
  td_act_t *ring;                  /* actions decided, not yet returned */
  size_t ring_size, ring_start, ring_len;
  double next_check; /* no job is due or expires before this */
} td_sched_t;

/* Classifies a finished transfer for the jobs behind it. */
td_fate_t td_sched_fate(const td_xfer_t *x);

/* Sets up n jobs in n_groups groups, every job due at now. Returns 0, or
 * -1 when out of memory or a job's settings are out of range. */
int td_sched_init(td_sched_t *s, const td_job_conf_t *jobs, size_t n,
                  size_t n_groups, double now);
void td_sched_free(td_sched_t *s);

/* Files the daemon keeps for itself and other plugins (log, csv, sockets)
 * out of its open-file limit; half of a limit below twice this. */
#define TD_SCHED_FILES_KEPT 256

/* Connections an open-file limit leaves room for (at least 1): two files
 * each, its socket and, while its TLS is set up, the CA file. */
size_t td_sched_files_budget(unsigned long limit);

/* The open files that kept connections need, the daemon's own included. */
unsigned long td_sched_files_want(size_t connections);

/* The bound on transfers at once (td_sched_limit) that an open-file limit
 * sets for so many kept connections: 0 when it leaves room for them all,
 * else td_sched_files_budget. */
size_t td_sched_files_bound(unsigned long limit, size_t connections);

/* At most max_running transfers at once from now on (0: no bound). */
void td_sched_limit(td_sched_t *s, size_t max_running);

/* The most actions one td_sched_step can return. */
size_t td_sched_max_actions(const td_sched_t *s);

/* Everything to do at now, into acts (cap of them; the rest wait for the
 * next step). Returns how many. */
size_t td_sched_step(td_sched_t *s, double now, td_act_t *acts, size_t cap);

/* When td_sched_step next has something to do by the clock alone. */
double td_sched_next(const td_sched_t *s);

/* The job's connection is ready and its request sent; multiplexed: its
 * group's last answer came over HTTP/2 (1), HTTP/1.1 (0), none yet (-1).
 * Jobs waiting behind it may start. */
void td_sched_ready(td_sched_t *s, unsigned job, int multiplexed, double now);

/* The job's transfer ended as x says. Returns 1 when its poll ended, or 0
 * when the poll goes on: an HTTP/2 stream that failed after its request
 * went and before any status (one a GOAWAY refused, which libcurl does not
 * always send again) is started again once, at once, within the job's
 * own time (a START follows); nothing is to be reported then. */
int td_sched_finished(td_sched_t *s, unsigned job, const td_xfer_t *x,
                      double now);

/* A START the shell could not carry out (no usable token, libcurl
 * refused): the job is idle again and the next waiting job may go first. */
void td_sched_dropped(td_sched_t *s, unsigned job, double now);

/* Holds the job for seconds (a Retry-After) from now. */
void td_sched_hold(td_sched_t *s, unsigned job, double seconds, double now);

#endif /* TD_SCHED_H */
