/* td_http: the libcurl side of the plugin. Owns one multi handle that runs
 * every transfer in parallel, and one easy handle per account (two with
 * organizations), kept between polls so the connection and TLS session
 * survive. libcurl glue only: headers and body go straight into td_answer,
 * which judges them; how a transfer ended goes out as td_xfer_t facts;
 * when to start which transfer is td_sched's. Never logs, never knows
 * collectd. */
#ifndef TD_HTTP_H
#define TD_HTTP_H

#include <stddef.h>

#include "td_poll.h"
#include "td_xfer.h"

typedef struct td_http td_http_t;
typedef struct td_http_conn td_http_conn_t;

/* Which addresses a host name may resolve to (CURLOPT_IPRESOLVE). */
typedef enum {
  TD_HTTP_FAMILY_ANY = 0,
  TD_HTTP_FAMILY_IPV4,
  TD_HTTP_FAMILY_IPV6,
} td_http_family_t;

typedef struct {
  const char *url;
  const char *ca_cert; /* NULL: the system trust store */
  int verify_peer;
  int verify_host;
  double timeout;      /* the account's Timeout, seconds: its failures are
                          worded with it (each start gives the limit) */
  const char *proxy;   /* Proxy: NULL not given, "" none, else its URL */
  int organizations;   /* 1: the body is an organizations list (td_orgs),
                          0: a users/info answer (td_extract) */
  int shape;           /* 1: also record the answer's shape (poll->shape) */
  td_http_family_t family;
  const char *interface; /* CURLOPT_INTERFACE as given, or NULL */
  const char *resolve;   /* one CURLOPT_RESOLVE entry, HOST:PORT:ADDRESS
                            as td_settings checked it, or NULL */
  long max_life;         /* seconds: a connection older than this is not
                            reused, but set up afresh with a handshake that
                            shows the server's certificate of the day
                            (CURLOPT_MAXLIFETIME_CONN); 0: libcurl's (no
                            limit) */
} td_http_opts_t;

/* What td_http_run reports, and how failures are worded. ready: the
 * transfer's connection is set up (or reused) and its request about to go;
 * multiplexed: 1 when the group's last answer came over HTTP/2, 0 over
 * HTTP/1.1, -1 when none came yet. done: the transfer ended; the poll, x and
 * everything they point to are valid only during the call. Neither may call
 * into td_http. */
typedef struct {
  void (*ready)(td_http_conn_t *c, int multiplexed, void *user);
  void (*done)(td_http_conn_t *c, const td_poll_t *poll, const td_xfer_t *x,
               void *user);
  /* Words a failed transfer for the poll's error text (td_words_xfer):
   * td_http itself words nothing. */
  void (*words)(const td_xfer_t *x, char *dst, size_t size);
} td_http_events_t;

/* Returns the shared multi handle, or NULL when libcurl cannot make one.
 * curl_global_init is the caller's (the plugin's init) job. */
td_http_t *td_http_new(void);
void td_http_free(td_http_t *h);

/* Makes td_http_run return at once; any thread may call it. 0, or -1. */
int td_http_wakeup(td_http_t *h);

/* libcurl keeps at most n connections open (idle ones beyond it are
 * closed, oldest first); set after the last td_http_conn_new. */
int td_http_max_connections(td_http_t *h, size_t n);

/* Makes an account's handle with every option set, and keeps copies of
 * o's strings to set them again at every start. Returns NULL and a
 * constant reason in *why when libcurl refuses an option. */
td_http_conn_t *td_http_conn_new(td_http_t *h, const td_http_opts_t *o,
                                 void *user, const char **why);
void td_http_conn_free(td_http_conn_t *c);
void *td_http_conn_user(const td_http_conn_t *c);

/* The index of the handle's group (0 .. td_http_groups - 1): handles
 * whose transfers may share a connection (scheme, host, port, TLS
 * settings, proxy, address family, interface, resolve entry, connection
 * lifetime, and the kind of answer). */
unsigned td_http_conn_group(const td_http_conn_t *c);
unsigned td_http_groups(const td_http_t *h);

/* How the handle's last transfer (or last report) ended. */
const td_xfer_t *td_http_conn_last(const td_http_conn_t *c);

/* Sets the bearer token for the next polls. The conn keeps its own copy
 * (wiped when replaced or freed) and hands it to each transfer's handle,
 * whose copy goes with the handle; the caller wipes its own. Returns 0, or
 * -1 out of memory. */
int td_http_set_token(td_http_conn_t *c, const char *token);

/* Starts a transfer that may take at most seconds. Returns 0, 1 when the
 * previous one is still running (nothing started), or -1 when libcurl
 * refused. */
int td_http_start(td_http_conn_t *c, double seconds);

/* Reports, through ev->done, a poll that was not tried, ended as x says
 * (the failure it took over, or its own last one). */
void td_http_report(td_http_conn_t *c, const td_xfer_t *x,
                    const td_http_events_t *ev, void *user);

/* Number of transfers started and not yet reported. */
size_t td_http_running(const td_http_t *h);

/* One round: waits for I/O at most max_wait_ms (less when one of
 * libcurl's own timers is due, or td_http_wakeup is called), drives the
 * transfers and reports what became ready or ended. Returns 0, or -1
 * when the multi handle failed (a fault of the plugin). */
int td_http_run(td_http_t *h, long max_wait_ms, const td_http_events_t *ev,
                void *user);

/* libcurl's own constant text for why td_http_run returned -1 (say
 * "Unrecoverable error in select/poll": poll(2) refused, e.g. more
 * sockets than RLIMIT_NOFILE allows). */
const char *td_http_failure(const td_http_t *h);

#endif /* TD_HTTP_H */
