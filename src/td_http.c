/* td_http: libcurl multi/easy handling for the plugin. See td_http.h. */
#ifdef HAVE_CONFIG_H
#include "td_config.h"
#endif
#include "td_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "td_answer.h"
#include "td_time.h"
#include "td_url.h"

/* Debian's system trust store as one file (package ca-certificates). */
#define TD_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

/* Connection setup is spent sparingly, for two reasons measured in
 * issue 10. Parsing the system trust store costs 6 ms and more of CPU per
 * new connection with libcurl's GnuTLS flavour, and a read call that sets
 * up a hundred at once lets the timeouts of the transfers already running
 * expire before they are served; and accounts on one host that all
 * connect at once open one connection each, even to an HTTP/2 server that
 * would carry them all on one.
 *
 * So the accounts sharing a host, port, TLS settings and proxy form a
 * group. While the group has no working connection (at the start, and
 * after a transfer of it got no HTTP answer), and at every poll over
 * HTTP/2, one transfer goes first, the probe; the others wait for it.
 * When it gets an answer, they join (over HTTP/2 on its connection, at
 * most TD_H2_RELEASE at a time); when it gets none, they are reported with
 * its error without trying. Probes join the multi handle at most
 * TD_SETUP_BUDGET per round of td_http_run, so transfers already running
 * are served first. */
#define TD_SETUP_BUDGET 4
#define TD_H2_RELEASE 99 /* nginx allows 128 streams on a connection */

typedef struct td_http_group td_http_group_t;
struct td_http_group {
  char *key;             /* scheme://host:port + TLS settings + proxy */
  int open;              /* the last finished transfer got an answer */
  double cert_expires;   /* earliest expiry of the last chain any of the
                            group's transfers saw, or 0: they share
                            connections, and only a handshake shows it */
  td_http_conn_t *probe; /* the transfer that goes first, or NULL */
  td_http_conn_t *parked; /* transfers waiting for the probe */
  td_http_group_t *next;
};

/* Where a started transfer is. */
enum { TD_IDLE, TD_QUEUED, TD_PARKED, TD_ADDED };

struct td_http {
  CURLM *multi;
  size_t conns;   /* handles made, for the connection cache size */
  size_t running; /* transfers started, not yet reported */
  td_http_conn_t *queue; /* probes waiting for the setup budget */
  td_http_group_t *groups;
};

struct td_http_conn {
  td_http_t *http;
  CURL *easy;
  td_answer_t *answer; /* judges what the transfer delivers */
  void *user;
  double timeout;
  int busy;
  int where;            /* TD_IDLE .. TD_ADDED */
  td_http_group_t *group;
  td_http_conn_t *next; /* in h->queue or group->parked */
  int setup_spent;      /* the last transfer got past connecting, or an
                           answer: it may have cost a TLS setup */
  char curl_error[CURL_ERROR_SIZE];
  char error[TD_ANSWER_MAX_ERROR + 1];
};

td_http_t *td_http_new(void) {
  td_http_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->multi = curl_multi_init();
  /* Accounts on one host with the same TLS settings share an HTTP/2
   * connection (libcurl's default since 7.62; said here to keep it). */
  if (h->multi == NULL || curl_multi_setopt(h->multi, CURLMOPT_PIPELINING,
                                            CURLPIPE_MULTIPLEX) != CURLM_OK) {
    if (h->multi != NULL)
      (void)curl_multi_cleanup(h->multi);
    free(h);
    return NULL;
  }
  return h;
}

void td_http_free(td_http_t *h) {
  if (h == NULL)
    return;
  /* Nothing to do about a failure here: the handle goes either way. */
  (void)curl_multi_cleanup(h->multi);
  while (h->groups != NULL) {
    td_http_group_t *g = h->groups;
    h->groups = g->next;
    free(g->key);
    free(g);
  }
  free(h);
}

/* The body goes to the answer, chunk by chunk; a short count ends the
 * transfer when the answer refuses more. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  td_http_conn_t *c = arg;
  size_t len = size * nmemb;
  return td_answer_body(c->answer, data, len) == 0 ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
  td_http_conn_t *c = arg;
  size_t len = size * nmemb;
  return td_answer_header(c->answer, data, len, (double)time(NULL)) == 0
             ? len
             : 0;
}

typedef struct {
  CURLoption opt;
  enum { OPT_LONG, OPT_STR, OPT_PTR } kind;
  long lval;
  const void *pval;
} opt_t;

/* Applies a table of options, stopping at the first refusal. */
static int apply(CURL *e, const opt_t *opts, size_t n, const char **why) {
  for (size_t i = 0; i < n; i++) {
    CURLcode rc;
    if (opts[i].kind == OPT_LONG)
      rc = curl_easy_setopt(e, opts[i].opt, opts[i].lval);
    else
      rc = curl_easy_setopt(e, opts[i].opt, opts[i].pval);
    if (rc != CURLE_OK) {
      *why = curl_easy_strerror(rc);
      return -1;
    }
  }
  return 0;
}

static int configure(td_http_conn_t *c, const td_http_opts_t *o,
                     const char **why) {
  long timeout_ms = (long)(o->timeout * 1000.0);
  const char *proxy = td_url_proxy_setting(o->url, o->proxy);
  const opt_t opts[] = {
      {CURLOPT_URL, OPT_STR, 0, o->url},
      {CURLOPT_PROTOCOLS_STR, OPT_STR, 0, "http,https"},
      {CURLOPT_REDIR_PROTOCOLS_STR, OPT_STR, 0, "http,https"},
      {CURLOPT_FOLLOWLOCATION, OPT_LONG, 0L, NULL},
      {CURLOPT_NOSIGNAL, OPT_LONG, 1L, NULL},
      {CURLOPT_SSL_VERIFYPEER, OPT_LONG, o->verify_peer ? 1L : 0L, NULL},
      {CURLOPT_SSL_VERIFYHOST, OPT_LONG, o->verify_host ? 2L : 0L, NULL},
      /* TLS 1.0 and 1.1 are broken; the token never travels over them. */
      {CURLOPT_SSLVERSION, OPT_LONG, (long)CURL_SSLVERSION_TLSv1_2, NULL},
      {CURLOPT_TIMEOUT_MS, OPT_LONG, timeout_ms > 0 ? timeout_ms : 1L, NULL},
      {CURLOPT_CONNECTTIMEOUT_MS, OPT_LONG, timeout_ms > 0 ? timeout_ms : 1L,
       NULL},
      {CURLOPT_HTTPAUTH, OPT_LONG, (long)CURLAUTH_BEARER, NULL},
      {CURLOPT_USERAGENT, OPT_STR, 0,
       "collectd-telemetrydeck/" PACKAGE_VERSION},
      {CURLOPT_TCP_KEEPALIVE, OPT_LONG, 1L, NULL},
      {CURLOPT_WRITEFUNCTION, OPT_PTR, 0, (const void *)on_body},
      {CURLOPT_WRITEDATA, OPT_PTR, 0, c},
      {CURLOPT_HEADERFUNCTION, OPT_PTR, 0, (const void *)on_header},
      {CURLOPT_HEADERDATA, OPT_PTR, 0, c},
      /* A proxy's CONNECT answer is not the API's answer. */
      {CURLOPT_SUPPRESS_CONNECT_HEADERS, OPT_LONG, 1L, NULL},
      {CURLOPT_ERRORBUFFER, OPT_PTR, 0, c->curl_error},
      {CURLOPT_PRIVATE, OPT_PTR, 0, c},
      {CURLOPT_CERTINFO, OPT_LONG, 1L, NULL},
  };
  if (apply(c->easy, opts, sizeof(opts) / sizeof(opts[0]), why) != 0)
    return -1;
  if (proxy != NULL) {
    const opt_t px[] = {{CURLOPT_PROXY, OPT_STR, 0, proxy}};
    if (apply(c->easy, px, 1, why) != 0)
      return -1;
  }
  if (o->ca_cert != NULL) {
    /* CACert replaces the system store: without clearing CAPATH, GnuTLS
     * builds would still trust (and re-read at every handshake) the
     * certificates in /etc/ssl/certs. */
    const opt_t ca[] = {{CURLOPT_CAINFO, OPT_STR, 0, o->ca_cert},
                        {CURLOPT_CAPATH, OPT_STR, 0, NULL}};
    return apply(c->easy, ca, 2, why);
  }
  /* The system store as one bundle file. libcurl's GnuTLS flavour on
   * Debian has no default bundle, only the CA directory, and reads every
   * file in it at each new connection: 24 ms of CPU in bench/run against
   * 6 ms for the bundle alone, which holds the same certificates
   * (update-ca-certificates writes both). */
  char *libcurls = NULL;
  const char *bundle = TD_SYSTEM_BUNDLE;
  if (curl_easy_getinfo(c->easy, CURLINFO_CAINFO, &libcurls) == CURLE_OK &&
      libcurls != NULL)
    bundle = libcurls;
  if (access(bundle, R_OK) == 0) {
    const opt_t one[] = {{CURLOPT_CAINFO, OPT_STR, 0, bundle},
                         {CURLOPT_CAPATH, OPT_STR, 0, NULL}};
    return apply(c->easy, one, 2, why);
  }
  return 0;
}

static void list_push(td_http_conn_t **head, td_http_conn_t *c) {
  c->next = NULL;
  while (*head != NULL)
    head = &(*head)->next;
  *head = c;
}

static td_http_conn_t *list_pop(td_http_conn_t **head) {
  td_http_conn_t *c = *head;
  if (c != NULL)
    *head = c->next;
  return c;
}

static void list_remove(td_http_conn_t **head, td_http_conn_t *c) {
  while (*head != NULL && *head != c)
    head = &(*head)->next;
  if (*head == c)
    *head = c->next;
}

/* The group of accounts that may share connections with these options:
 * libcurl reuses a connection only for the same scheme, host and port,
 * the same TLS settings and the same proxy. Returns NULL when out of
 * memory. */
static td_http_group_t *group_of(td_http_t *h, const td_http_opts_t *o) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  td_http_group_t *g = NULL;
  if (u == NULL ||
      curl_url_set(u, CURLUPART_URL, o->url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
          CURLUE_OK)
    goto out;
  const char *ca = o->ca_cert != NULL ? o->ca_cert : "";
  const char *proxy = td_url_proxy_setting(o->url, o->proxy);
  if (proxy == NULL)
    proxy = "(environment)";
  size_t size = strlen(scheme) + strlen(host) + strlen(port) + strlen(ca) +
                strlen(proxy) + 16;
  char *key = malloc(size);
  if (key == NULL)
    goto out;
  snprintf(key, size, "%s://%s:%s %d%d %s %s", scheme, host, port,
           o->verify_peer != 0, o->verify_host != 0, ca, proxy);
  for (g = h->groups; g != NULL; g = g->next)
    if (strcasecmp(g->key, key) == 0)
      break;
  if (g != NULL) {
    free(key);
    goto out;
  }
  if ((g = calloc(1, sizeof(*g))) == NULL) {
    free(key);
    goto out;
  }
  g->key = key;
  g->next = h->groups;
  h->groups = g;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return g;
}

td_http_conn_t *td_http_conn_new(td_http_t *h, const td_http_opts_t *o,
                                 void *user, const char **why) {
  td_http_conn_t *c = calloc(1, sizeof(*c));
  *why = "out of memory";
  if (c == NULL)
    return NULL;
  c->http = h;
  c->user = user;
  c->timeout = o->timeout;
  c->easy = curl_easy_init();
  c->answer = td_answer_new(o->organizations ? TD_ANSWER_ORGS
                                             : TD_ANSWER_USER);
  if (c->easy == NULL || c->answer == NULL || configure(c, o, why) != 0) {
    td_http_conn_free(c);
    return NULL;
  }
  if ((c->group = group_of(h, o)) == NULL) {
    *why = "out of memory";
    td_http_conn_free(c);
    return NULL;
  }
  h->conns++;
  /* Keep one cached connection per account between polls. */
  CURLMcode mc =
      curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->conns + 4);
  if (mc != CURLM_OK) {
    *why = curl_multi_strerror(mc);
    td_http_conn_free(c);
    return NULL;
  }
  return c;
}

void td_http_conn_free(td_http_conn_t *c) {
  if (c == NULL)
    return;
  td_http_t *h = c->http;
  td_http_group_t *g = c->group;
  if (c->where == TD_QUEUED)
    list_remove(&h->queue, c);
  else if (c->where == TD_PARKED)
    list_remove(&g->parked, c);
  else if (c->where == TD_ADDED)
    /* Removal fails only for a handle the multi does not hold; the
     * handle is cleaned up below either way. */
    (void)curl_multi_remove_handle(h->multi, c->easy);
  if (c->where != TD_IDLE)
    h->running--;
  if (g != NULL && g->probe == c) {
    /* The next waiting transfer goes first instead. */
    g->probe = list_pop(&g->parked);
    if (g->probe != NULL) {
      g->probe->where = TD_QUEUED;
      list_push(&h->queue, g->probe);
    }
  }
  if (c->easy != NULL) {
    /* Drop libcurl's copy of the token before the handle goes. */
    (void)curl_easy_setopt(c->easy, CURLOPT_XOAUTH2_BEARER, NULL);
    curl_easy_cleanup(c->easy);
    c->http->conns--;
  }
  td_answer_free(c->answer);
  free(c);
}

void *td_http_conn_user(const td_http_conn_t *c) { return c->user; }

int td_http_conn_tried(const td_http_conn_t *c) { return c->setup_spent; }

int td_http_set_token(td_http_conn_t *c, const char *token) {
  return curl_easy_setopt(c->easy, CURLOPT_XOAUTH2_BEARER, token) == CURLE_OK
             ? 0
             : -1;
}

int td_http_start(td_http_conn_t *c) {
  if (c->busy)
    return 1;
  if (td_answer_begin(c->answer) != TD_JSON_OK)
    return -1;
  c->curl_error[0] = '\0';
  c->error[0] = '\0';
  td_http_t *h = c->http;
  td_http_group_t *g = c->group;
  if (g->open) {
    if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK)
      return -1;
    c->where = TD_ADDED;
  } else if (g->probe == NULL) {
    g->probe = c;
    c->where = TD_QUEUED;
    list_push(&h->queue, c);
  } else {
    c->where = TD_PARKED;
    list_push(&g->parked, c);
  }
  c->busy = 1;
  h->running++;
  return 0;
}

size_t td_http_running(const td_http_t *h) { return h->running; }

/* Why verification failed, from the chain libcurl saw. GnuTLS's message
 * says only that it failed; the dates and names say why. */
static const char *tls_reason(td_http_conn_t *c) {
  struct curl_certinfo *ci = NULL;
  double now = (double)time(NULL), when;
  int expired = 0, early = 0, self_signed = 0;
  if (strstr(c->curl_error, "does not match target host name") != NULL)
    return "the certificate is for another name";
  if (curl_easy_getinfo(c->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK ||
      ci == NULL || ci->num_of_certs <= 0)
    return "the certificate is not trusted";
  for (int i = 0; i < ci->num_of_certs; i++) {
    const char *subject = NULL, *issuer = NULL;
    for (struct curl_slist *s = ci->certinfo[i]; s != NULL; s = s->next) {
      if (strncmp(s->data, "Expire Date:", 12) == 0 &&
          td_time_parse_utc(s->data + 12, &when) == 0 && when < now)
        expired = 1;
      else if (strncmp(s->data, "Start Date:", 11) == 0 &&
               td_time_parse_utc(s->data + 11, &when) == 0 && when > now)
        early = 1;
      else if (strncmp(s->data, "Subject:", 8) == 0)
        subject = s->data + 8;
      else if (strncmp(s->data, "Issuer:", 7) == 0)
        issuer = s->data + 7;
    }
    if (i == ci->num_of_certs - 1 && subject != NULL && issuer != NULL)
      self_signed = strcmp(subject, issuer) == 0;
  }
  if (expired)
    return "the certificate has expired";
  if (early)
    return "the certificate is not valid yet";
  if (self_signed)
    return "the certificate is self-signed and not trusted";
  return "the certificate's issuer is not trusted";
}

/* 1 when an answer's status line came and no byte of its body did. */
static int headers_too_large(td_http_conn_t *c) {
  long status = 0;
  curl_off_t body = 0;
  return strstr(c->curl_error, "header") != NULL ||
         (curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status) ==
              CURLE_OK &&
          status > 0 &&
          curl_easy_getinfo(c->easy, CURLINFO_SIZE_DOWNLOAD_T, &body) ==
              CURLE_OK &&
          body == 0);
}

/* Words for a failed transfer: what an operator can act on. */
static void describe_error(td_http_conn_t *c, CURLcode rc) {
  long os_errno = 0;
  if (curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
    os_errno = 0;
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
    snprintf(c->error, sizeof(c->error), "could not resolve the host");
    break;
  case CURLE_COULDNT_CONNECT:
    snprintf(c->error, sizeof(c->error), "%s",
             os_errno == ECONNREFUSED ? "connection refused"
             : os_errno != 0          ? strerror((int)os_errno)
                                      : "could not connect");
    break;
  case CURLE_OPERATION_TIMEDOUT:
    snprintf(c->error, sizeof(c->error), "timeout after %g s", c->timeout);
    break;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    snprintf(c->error, sizeof(c->error), "TLS verification failed: %s",
             rc == CURLE_SSL_CACERT_BADFILE ? "CACert cannot be read"
                                            : tls_reason(c));
    break;
  case CURLE_SSL_CONNECT_ERROR:
    /* GnuTLS's own words (constant texts) say why, for instance that no
     * TLS version both sides accept (TLS 1.2 is our minimum). */
    snprintf(c->error, sizeof(c->error), "TLS handshake failed (%.96s)",
             c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc));
    break;
  case CURLE_OUT_OF_MEMORY:
    /* libcurl refuses a header line or a header block beyond its own
     * bound (100 KiB) with this code, after the status line and before
     * any body; a real shortage of memory would rarely fall just there. */
    snprintf(c->error, sizeof(c->error), "%s",
             headers_too_large(c) ? "the answer's headers are too large"
                                  : curl_easy_strerror(rc));
    break;
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    /* libcurl's words, not CURLINFO_OS_ERRNO: that may hold a later errno
     * (EPIPE from closing after a reset) or none at all. */
    if (strstr(c->curl_error, "reset by peer") != NULL)
      snprintf(c->error, sizeof(c->error), "connection reset by the server");
    else if (strstr(c->curl_error, "non-properly terminated") != NULL)
      snprintf(c->error, sizeof(c->error),
               "connection closed before the answer was complete");
    else
      snprintf(c->error, sizeof(c->error), "connection broken (%.96s)",
               c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc));
    break;
  case CURLE_PARTIAL_FILE:
    snprintf(c->error, sizeof(c->error),
             "the answer was shorter than announced");
    break;
  case CURLE_GOT_NOTHING:
    snprintf(c->error, sizeof(c->error),
             "the server closed the connection without answering");
    break;
  default:
    snprintf(c->error, sizeof(c->error), "%s", curl_easy_strerror(rc));
  }
}

/* Remembers the earliest "Expire Date:" of the chain libcurl saw, when
 * this transfer made a handshake; a reused connection shows none. */
static void read_cert_expiry(td_http_conn_t *c) {
  struct curl_certinfo *ci = NULL;
  static const char key[] = "Expire Date:";
  if (curl_easy_getinfo(c->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK ||
      ci == NULL || ci->num_of_certs <= 0)
    return;
  double earliest = 0;
  for (int i = 0; i < ci->num_of_certs; i++)
    for (struct curl_slist *s = ci->certinfo[i]; s != NULL; s = s->next) {
      double when;
      if (strncmp(s->data, key, sizeof(key) - 1) == 0 &&
          td_time_parse_utc(s->data + sizeof(key) - 1, &when) == 0 &&
          (earliest == 0 || when < earliest))
        earliest = when;
    }
  if (earliest != 0)
    c->group->cert_expires = earliest;
}

/* libcurl's cumulative times of this transfer, in seconds; 0 for a mark
 * libcurl cannot give. */
static void read_marks(td_http_conn_t *c, double marks[TD_MARKS]) {
  static const CURLINFO infos[TD_MARKS] = {
      [TD_MARK_NAMELOOKUP] = CURLINFO_NAMELOOKUP_TIME_T,
      [TD_MARK_CONNECT] = CURLINFO_CONNECT_TIME_T,
      [TD_MARK_APPCONNECT] = CURLINFO_APPCONNECT_TIME_T,
      [TD_MARK_PRETRANSFER] = CURLINFO_PRETRANSFER_TIME_T,
      [TD_MARK_STARTTRANSFER] = CURLINFO_STARTTRANSFER_TIME_T,
      [TD_MARK_TOTAL] = CURLINFO_TOTAL_TIME_T,
  };
  for (int i = 0; i < TD_MARKS; i++) {
    curl_off_t us = 0;
    if (curl_easy_getinfo(c->easy, infos[i], &us) != CURLE_OK)
      us = 0;
    marks[i] = (double)us / 1e6;
  }
}

/* Hands the finished transfer to the answer and reports the poll.
 * Returns 1 when an HTTP answer came, else 0. */
static int finish(td_http_conn_t *c, CURLcode rc, td_http_done_fn done,
                  void *user) {
  long status = 0;
  td_answer_end_t end = {.how = TD_END_OK};
  if (curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
    status = 0;
  read_marks(c, end.marks);
  read_cert_expiry(c);
  end.http_status = (int)status;
  end.cert_expires = c->group->cert_expires;
  if (rc == CURLE_WRITE_ERROR) {
    end.how = TD_END_STOPPED; /* only our callbacks make this happen */
  } else if (rc != CURLE_OK) {
    describe_error(c, rc);
    end.how = TD_END_FAILED;
    end.error = c->error;
  }
  /* Pacing (td_pace) spares only failures that cost a connection. */
  c->setup_spent = rc != CURLE_COULDNT_CONNECT &&
                   rc != CURLE_COULDNT_RESOLVE_HOST &&
                   rc != CURLE_COULDNT_RESOLVE_PROXY;
  td_poll_t poll;
  td_answer_finish(c->answer, &end, &poll);
  done(c, &poll, user);
  return status > 0;
}

/* Reports a transfer that was not tried, with the error of the one that
 * went first for its group. */
static void report_untried(td_http_conn_t *c, const char *error,
                           td_http_done_fn done, void *user) {
  td_answer_end_t end = {.how = TD_END_FAILED,
                         .error = error,
                         .cert_expires = c->group->cert_expires};
  td_poll_t poll;
  c->setup_spent = 0;
  td_answer_finish(c->answer, &end, &poll);
  done(c, &poll, user);
}

/* After a transfer of c's group finished: whether the group has a working
 * connection now, and, when c went first, what becomes of the others. */
static void settle(td_http_t *h, td_http_conn_t *c, int answered,
                   td_http_done_fn done, void *user) {
  td_http_group_t *g = c->group;
  /* Over HTTP/2 every poll's transfers wait for one that goes first: when
   * the server has closed the shared connection (nginx does after 1,000
   * requests), transfers started together would each open their own. */
  long version = 0;
  if (!answered ||
      curl_easy_getinfo(c->easy, CURLINFO_HTTP_VERSION, &version) != CURLE_OK)
    version = 0;
  g->open = answered && version < CURL_HTTP_VERSION_2_0;
  if (g->probe != c)
    return;
  g->probe = NULL;
  /* libcurl 7.88 puts about a hundred streams on one connection and opens
   * another for each further transfer started at the same moment: over
   * HTTP/2 the answer releases one wave, then the next goes first. */
  int wave = answered && version >= CURL_HTTP_VERSION_2_0 ? TD_H2_RELEASE : -1;
  td_http_conn_t *p;
  while (wave != 0 && (p = list_pop(&g->parked)) != NULL) {
    if (wave > 0)
      wave--;
    if (answered && curl_multi_add_handle(h->multi, p->easy) == CURLM_OK) {
      p->where = TD_ADDED;
      continue;
    }
    p->where = TD_IDLE;
    p->busy = 0;
    h->running--;
    report_untried(p, answered ? "libcurl could not start the transfer"
                               : c->error,
                   done, user);
  }
  if (g->parked != NULL) {
    g->probe = list_pop(&g->parked);
    g->probe->where = TD_QUEUED;
    list_push(&h->queue, g->probe);
  }
}

/* Adds at most TD_SETUP_BUDGET queued probes to the multi handle. One
 * libcurl refuses is reported as failed. */
static void add_queued(td_http_t *h, td_http_done_fn done, void *user) {
  for (int n = 0; n < TD_SETUP_BUDGET && h->queue != NULL; n++) {
    td_http_conn_t *c = list_pop(&h->queue);
    if (curl_multi_add_handle(h->multi, c->easy) == CURLM_OK) {
      c->where = TD_ADDED;
      continue;
    }
    c->where = TD_IDLE;
    c->busy = 0;
    h->running--;
    snprintf(c->error, sizeof(c->error), "libcurl could not start the "
                                         "transfer");
    report_untried(c, c->error, done, user);
    settle(h, c, 0, done, user);
  }
}

/* Reports every transfer libcurl says is done. */
static int collect(td_http_t *h, td_http_done_fn done, void *user) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE)
      continue;
    td_http_conn_t *c = NULL;
    CURLcode rc = m->data.result;
    /* Every handle we add carries its conn: without it there is nothing
     * to report to, and the handle is not ours. */
    if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c) !=
            CURLE_OK ||
        c == NULL)
      continue;
    if (curl_multi_remove_handle(h->multi, c->easy) != CURLM_OK)
      return -1;
    c->where = TD_IDLE;
    c->busy = 0;
    h->running--;
    settle(h, c, finish(c, rc, done, user), done, user);
  }
  return 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int td_http_run(td_http_t *h, long max_wait_ms, td_http_done_fn done,
                void *user) {
  long deadline = now_ms() + max_wait_ms;
  for (;;) {
    int still = 0;
    add_queued(h, done, user);
    if (curl_multi_perform(h->multi, &still) != CURLM_OK)
      return -1;
    if (collect(h, done, user) != 0)
      return -1;
    long left = deadline - now_ms();
    if (h->running == 0 || left <= 0)
      return 0;
    /* Queued transfers wait for the next round, not for I/O. */
    long wait = h->queue != NULL ? 1 : left < 1000 ? left : 1000;
    if (curl_multi_poll(h->multi, NULL, 0, (int)(wait < left ? wait : left),
                        NULL) != CURLM_OK)
      return -1;
  }
}
