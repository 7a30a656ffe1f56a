/* td_http: the libcurl side of the plugin. Owns one multi handle that runs
 * every account's transfer in parallel, and one easy handle per account,
 * kept between polls so the connection and TLS session survive. Only runs
 * transfers: headers and body go straight from libcurl into td_answer,
 * which judges them. Never logs, never knows collectd. */
#ifndef TD_HTTP_H
#define TD_HTTP_H

#include <stddef.h>

#include "td_poll.h"

typedef struct td_http td_http_t;
typedef struct td_http_conn td_http_conn_t;

typedef struct {
  const char *url;
  const char *ca_cert; /* NULL: the system trust store */
  int verify_peer;
  int verify_host;
  double timeout;      /* seconds for the whole request */
  const char *proxy;   /* Proxy: NULL not given, "" none, else its URL */
  int organizations;   /* 1: the body is an organizations list (td_orgs),
                          0: a users/info answer (td_extract) */
} td_http_opts_t;

/* Called once for every finished transfer, from td_http_run. The poll and
 * everything it points to are valid only during the call. */
typedef void (*td_http_done_fn)(td_http_conn_t *c, const td_poll_t *poll,
                                void *user);

/* Returns the shared multi handle, or NULL when libcurl cannot make one.
 * curl_global_init is the caller's (the plugin's init) job. */
td_http_t *td_http_new(void);
void td_http_free(td_http_t *h);

/* Makes an account's handle with every option set once. Returns NULL and
 * a constant reason in *why when libcurl refuses an option. */
td_http_conn_t *td_http_conn_new(td_http_t *h, const td_http_opts_t *o,
                                 void *user, const char **why);
void td_http_conn_free(td_http_conn_t *c);
void *td_http_conn_user(const td_http_conn_t *c);

/* For the poll just reported: 1 when its transfer got as far as a
 * connection (so a retry may cost a TLS setup), 0 when it was refused,
 * found no host, or was not tried (it waited for another account of its
 * host, which got no answer). */
int td_http_conn_tried(const td_http_conn_t *c);

/* Sets the bearer token for the next polls. libcurl keeps its own copy;
 * the caller wipes its own. Returns 0, or -1 when libcurl refused it. */
int td_http_set_token(td_http_conn_t *c, const char *token);

/* Starts a poll. Returns 0, 1 when this account's previous poll is still
 * running (nothing started), or -1 when libcurl refused. */
int td_http_start(td_http_conn_t *c);

/* Number of transfers started and not yet reported. */
size_t td_http_running(const td_http_t *h);

/* Drives the transfers for at most max_wait_ms, reporting each one that
 * finishes through done. Returns when none is running or time is up:
 * 0, or -1 when the multi handle failed (a fault of the plugin). */
int td_http_run(td_http_t *h, long max_wait_ms, td_http_done_fn done,
                void *user);

#endif /* TD_HTTP_H */
