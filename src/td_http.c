/* td_http: libcurl multi/easy handling for the plugin. See td_http.h. */
#ifdef HAVE_CONFIG_H
#include "td_config.h"
#endif
#include "td_http.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "td_answer.h"
#include "td_chain.h"
#include "td_url.h"

/* Debian's system trust store as one file (package ca-certificates). */
#define TD_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* Seconds libcurl's OpenSSL flavour keeps a parsed trust store: a store
 * changed on disk (update-ca-certificates, a renewed CACert) is trusted
 * within the hour, for one parse an hour. */
#define TD_HTTP_CA_CACHE 3600L

/* Bytes of libcurl's receive buffer, which every handle holds from its
 * first transfer on (libcurl's default is 16 KiB): an answer of users/info
 * is well under it, and at 10,000 accounts the default alone is 160 MiB
 * (docs/performance.md, issue 20). */
#define TD_HTTP_BUFFER 4096L

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

/* Transfers whose connections libcurl can share: the same scheme, host,
 * port, TLS settings, proxy, network options and connection lifetime
 * (and the same kind of answer). Only a
 * handshake shows the server's chain, so the group keeps the last one any
 * of its transfers saw, and whether its connection was HTTP/2. */
typedef struct td_http_group td_http_group_t;
struct td_http_group {
  char *key;
  unsigned index;      /* 0, 1, ... in the order groups were made */
  int multiplexed;     /* the last answer came over HTTP/2; -1: no answer
                          yet */
  double cert_expires; /* epoch seconds, or 0 */
  CURLSH *share;       /* the group's own connections and host cache, or NULL:
                          the multi handle's */
  td_http_group_t *next;
};

struct td_http {
  CURLM *multi;
  size_t conns;   /* conns made, for the connection cache size */
  size_t running; /* transfers started, not yet reported */
  unsigned n_groups;
  td_http_group_t *groups;
  int multi_life_set;         /* a group uses the multi's connection cache, */
  long multi_life;            /* and this is its connection lifetime */
  const td_http_events_t *ev; /* during td_http_run */
  void *ev_user;
  const char *failure;    /* libcurl's text of the multi's failure, or NULL */
  td_chain_lib_t tls_lib; /* the TLS library under this libcurl */
};

struct td_http_conn {
  td_http_t *http;
  CURL *easy; /* during a transfer only (see make_handle), else NULL */
  /* What configure() sets, kept to set it again at every start (see
   * td_http_start); the strings are the conn's own copies. */
  td_http_opts_t opts;
  char *url, *ca_cert, *proxy;
  char *token;         /* the conn's copy, wiped when replaced or freed */
  td_answer_t *answer; /* judges what the transfer delivers */
  void *user;
  int busy;
  int counted;          /* in http->conns */
  td_reached_t reached; /* of the running transfer */
  td_http_group_t *group;
  td_xfer_t last;             /* how its last transfer ended */
  struct curl_slist *resolve; /* CURLOPT_RESOLVE's list, owned */
  char curl_error[CURL_ERROR_SIZE];
  char error[TD_VERDICT_MAX_ERROR + 1];
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
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  h->tls_lib = v != NULL && v->ssl_version != NULL &&
                       strncmp(v->ssl_version, "OpenSSL", 7) == 0
                   ? TD_CHAIN_OPENSSL
                   : TD_CHAIN_GNUTLS;
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
    /* Every handle of the group is gone by now; a share still in use
     * would be a fault of ours, and is left rather than freed under it. */
    if (g->share != NULL)
      (void)curl_share_cleanup(g->share);
    free(g->key);
    free(g);
  }
  free(h);
}

int td_http_wakeup(td_http_t *h) {
  return curl_multi_wakeup(h->multi) == CURLM_OK ? 0 : -1;
}

int td_http_max_connections(td_http_t *h, size_t n) {
  return curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)n) == CURLM_OK
             ? 0
             : -1;
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
  c->reached = TD_REACHED_STATUS;
  return td_answer_header(c->answer, data, len, (double)time(NULL)) == 0
             ? len
             : 0;
}

/* libcurl calls this when the connection is ready (set up or reused) and
 * the request is about to go: the transfers waiting behind it may start. */
static int on_ready(void *arg, char *ip, char *local_ip, int port,
                    int local_port) {
  td_http_conn_t *c = arg;
  (void)ip, (void)local_ip, (void)port, (void)local_port;
  c->reached = TD_REACHED_SENT;
  td_http_t *h = c->http;
  if (h->ev != NULL && h->ev->ready != NULL)
    /* Until an answer shows the protocol, a ready connection may be
     * HTTP/2: the transfers waiting behind it follow in waves then, and
     * share it instead of each opening its own. */
    h->ev->ready(c, c->group->multiplexed, h->ev_user);
  return CURL_PREREQFUNC_OK;
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

/* AddressFamily, Interface and Resolve, as td_settings checked them. The
 * resolve list is made once and lives as long as the handle. */
static int configure_network(td_http_conn_t *c, const td_http_opts_t *o,
                             const char **why) {
  static const long family[] = {
      [TD_HTTP_FAMILY_ANY] = CURL_IPRESOLVE_WHATEVER,
      [TD_HTTP_FAMILY_IPV4] = CURL_IPRESOLVE_V4,
      [TD_HTTP_FAMILY_IPV6] = CURL_IPRESOLVE_V6,
  };
  const opt_t ip[] = {{CURLOPT_IPRESOLVE, OPT_LONG, family[o->family], NULL}};
  if (apply(c->easy, ip, 1, why) != 0)
    return -1;
  if (o->interface != NULL) {
    const opt_t itf[] = {{CURLOPT_INTERFACE, OPT_STR, 0, o->interface}};
    if (apply(c->easy, itf, 1, why) != 0)
      return -1;
  }
  if (o->resolve == NULL)
    return 0;
  /* Made once: configure runs again at every start (renew). */
  if (c->resolve == NULL &&
      (c->resolve = curl_slist_append(NULL, o->resolve)) == NULL) {
    *why = "out of memory";
    return -1;
  }
  const opt_t res[] = {{CURLOPT_RESOLVE, OPT_PTR, 0, c->resolve}};
  return apply(c->easy, res, 1, why);
}

/* The store the certificates are verified against: CACert, or the
 * system's as one bundle file. libcurl's OpenSSL flavour parses it once
 * per multi handle and keeps it TD_HTTP_CA_CACHE seconds; the GnuTLS
 * flavour parses it at every new connection (docs/performance.md). */
static int configure_trust(td_http_conn_t *c, const td_http_opts_t *o,
                           const char **why) {
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87: CURLOPT_CA_CACHE_TIMEOUT */
  if (c->http->tls_lib == TD_CHAIN_OPENSSL) {
    const opt_t cache[] = {
        {CURLOPT_CA_CACHE_TIMEOUT, OPT_LONG, TD_HTTP_CA_CACHE, NULL}};
    if (apply(c->easy, cache, 1, why) != 0)
      return -1;
  }
#endif
  if (o->ca_cert != NULL) {
    /* CACert replaces the system store: without clearing CAPATH, libcurl
     * would still trust (and GnuTLS re-read at every handshake) the
     * certificates in /etc/ssl/certs. */
    const opt_t ca[] = {{CURLOPT_CAINFO, OPT_STR, 0, o->ca_cert},
                        {CURLOPT_CAPATH, OPT_STR, 0, NULL}};
    return apply(c->easy, ca, 2, why);
  }
  /* The bundle, not the CA directory: Debian's GnuTLS flavour has no
   * default bundle, only the directory, and reads every file in it at each
   * new connection, where the bundle holds the same certificates
   * (update-ca-certificates writes both) and costs a quarter. */
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

static int configure(td_http_conn_t *c, const td_http_opts_t *o,
                     const char **why) {
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
      {CURLOPT_HTTPAUTH, OPT_LONG, (long)CURLAUTH_BEARER, NULL},
      {CURLOPT_USERAGENT, OPT_STR, 0,
       "collectd-telemetrydeck/" PACKAGE_VERSION},
      {CURLOPT_TCP_KEEPALIVE, OPT_LONG, 1L, NULL},
      {CURLOPT_WRITEFUNCTION, OPT_PTR, 0, (const void *)on_body},
      {CURLOPT_WRITEDATA, OPT_PTR, 0, c},
      {CURLOPT_HEADERFUNCTION, OPT_PTR, 0, (const void *)on_header},
      {CURLOPT_HEADERDATA, OPT_PTR, 0, c},
      {CURLOPT_PREREQFUNCTION, OPT_PTR, 0, (const void *)on_ready},
      {CURLOPT_PREREQDATA, OPT_PTR, 0, c},
      /* Transfers started together wait for a connection being set up to
       * show whether it multiplexes, instead of each opening its own. */
      {CURLOPT_PIPEWAIT, OPT_LONG, 1L, NULL},
      /* A connection is set up afresh at least this often, so that a
       * renewed certificate is seen (and timeleft-tls_certificate follows
       * it). libcurl looks when it would reuse an idle connection. */
      {CURLOPT_MAXLIFETIME_CONN, OPT_LONG, o->max_life, NULL},
      /* A proxy's CONNECT answer is not the API's answer. */
      {CURLOPT_SUPPRESS_CONNECT_HEADERS, OPT_LONG, 1L, NULL},
      {CURLOPT_ERRORBUFFER, OPT_PTR, 0, c->curl_error},
      {CURLOPT_PRIVATE, OPT_PTR, 0, c},
      {CURLOPT_CERTINFO, OPT_LONG, 1L, NULL},
      /* No TLS session resumption: a resumed handshake shows the chain of
       * the session's first one, so a renewed certificate would stay
       * unseen for as long as the server resumes (OpenSSL resumes TLS 1.3
       * too). A full handshake costs 0.3 ms more (docs/performance.md). */
      {CURLOPT_SSL_SESSIONID_CACHE, OPT_LONG, 0L, NULL},
      {CURLOPT_BUFFERSIZE, OPT_LONG, TD_HTTP_BUFFER, NULL},
  };
  if (apply(c->easy, opts, sizeof(opts) / sizeof(opts[0]), why) != 0 ||
      configure_network(c, o, why) != 0)
    return -1;
  if (proxy != NULL) {
    const opt_t px[] = {{CURLOPT_PROXY, OPT_STR, 0, proxy}};
    if (apply(c->easy, px, 1, why) != 0)
      return -1;
  }
  return configure_trust(c, o, why);
}

/* A group with AddressFamily, Interface or Resolve keeps its connections
 * and host names to itself: libcurl reuses a connection for a transfer
 * that asked for no interface or family whatever the connection was
 * bound to, and keeps a resolve entry in the cache every handle of the
 * multi shares. So does a group whose connection lifetime is not that of
 * the groups in the multi's cache: every transfer that looks for a
 * connection closes each idle one of its cache older than its own
 * lifetime, whoever's it is. The other groups share the multi's, as
 * before. Returns 0, or -1 when libcurl refused. */
static int group_share(td_http_t *h, td_http_group_t *g,
                       const td_http_opts_t *o) {
  if (o->family == TD_HTTP_FAMILY_ANY && o->interface == NULL &&
      o->resolve == NULL &&
      (!h->multi_life_set || o->max_life == h->multi_life)) {
    h->multi_life_set = 1;
    h->multi_life = o->max_life;
    return 0;
  }
  if ((g->share = curl_share_init()) == NULL ||
      curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) !=
          CURLSHE_OK ||
      curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
          CURLSHE_OK)
    return -1;
  return 0;
}

/* *dst: a copy of src (NULL for NULL). Returns 1, or 0 when out of
 * memory. */
static int copy_string(char **dst, const char *src) {
  *dst = src != NULL ? strdup(src) : NULL;
  return src == NULL || *dst != NULL;
}

/* Keeps o, with copies of its strings, in c->opts. 0, or -1 (memory). */
static int keep_opts(td_http_conn_t *c, const td_http_opts_t *o) {
  c->opts = *o;
  if (!copy_string(&c->url, o->url) || !copy_string(&c->ca_cert, o->ca_cert) ||
      !copy_string(&c->proxy, o->proxy))
    return -1;
  c->opts.url = c->url;
  c->opts.ca_cert = c->ca_cert;
  c->opts.proxy = c->proxy;
  return 0;
}

/* The group's own share handle, for a group that has one. */
static int set_share(td_http_conn_t *c, const char **why) {
  if (c->group->share == NULL)
    return 0;
  const opt_t sh[] = {{CURLOPT_SHARE, OPT_PTR, 0, c->group->share}};
  return apply(c->easy, sh, 1, why);
}

/* The transfer's handle goes, libcurl's copy of the token first. */
static void drop_handle(td_http_conn_t *c) {
  if (c->easy == NULL)
    return;
  (void)curl_easy_setopt(c->easy, CURLOPT_XOAUTH2_BEARER, NULL);
  curl_easy_cleanup(c->easy);
  c->easy = NULL;
}

static void wipe_token(td_http_conn_t *c) {
  if (c->token == NULL)
    return;
  explicit_bzero(c->token, strlen(c->token));
  free(c->token);
  c->token = NULL;
}

/* The group of transfers that may share connections with these options.
 * Returns NULL when out of memory. */
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
  const char *itf = o->interface != NULL ? o->interface : "";
  const char *res = o->resolve != NULL ? o->resolve : "";
  size_t size = strlen(scheme) + strlen(host) + strlen(port) + strlen(ca) +
                strlen(proxy) + strlen(itf) + strlen(res) + 64;
  char *key = malloc(size);
  if (key == NULL)
    goto out;
  /* Organizations transfers form groups of their own: they never go
   * first for users/info ones. */
  snprintf(key, size, "%s://%s:%s %d%d%d%d %ld %s %s %s %s", scheme, host, port,
           o->verify_peer != 0, o->verify_host != 0, o->organizations != 0,
           (int)o->family, o->max_life, ca, proxy, itf, res);
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
  if (group_share(h, g, o) != 0) {
    if (g->share != NULL)
      (void)curl_share_cleanup(g->share);
    free(g->key);
    free(g);
    g = NULL;
    goto out;
  }
  g->multiplexed = -1;
  g->index = h->n_groups++;
  g->next = h->groups;
  h->groups = g;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return g;
}

/* A new easy handle for each transfer, set up from the kept options, and
 * dropped once it ended: idle accounts hold no handle, and none of
 * libcurl's per-handle state lasts from one poll to the next. Kept
 * handles did not do: libcurl 7.88 counts a handle's retries of transfers
 * whose connection died before any answer (a stream refused by GOAWAY)
 * over its whole life and fails the sixth; curl_easy_reset clears that
 * count but not the receive buffer, which a stream that ends while its
 * HTTP/2 connection carries others keeps, and then refuses a new
 * CURLOPT_BUFFERSIZE (7.88's lib/multi.c multi_done, lib/setopt.c). The
 * connections, the host cache and the CA cache belong to the multi and
 * share handles and stay. Returns 0, or -1 with why when libcurl refused. */
static int make_handle(td_http_conn_t *c, const char **why) {
  drop_handle(c);
  if ((c->easy = curl_easy_init()) == NULL) {
    *why = "out of memory";
    return -1;
  }
  if (configure(c, &c->opts, why) != 0 || set_share(c, why) != 0)
    return -1;
  if (c->token != NULL &&
      curl_easy_setopt(c->easy, CURLOPT_XOAUTH2_BEARER, c->token) != CURLE_OK) {
    *why = "the token was refused";
    return -1;
  }
  return 0;
}

td_http_conn_t *td_http_conn_new(td_http_t *h, const td_http_opts_t *o,
                                 void *user, const char **why) {
  td_http_conn_t *c = calloc(1, sizeof(*c));
  *why = "out of memory";
  if (c == NULL)
    return NULL;
  c->http = h;
  c->user = user;
  if (keep_opts(c, o) != 0) {
    td_http_conn_free(c);
    return NULL;
  }
  c->answer = td_answer_new(o->organizations ? TD_ANSWER_ORGS
                                             : TD_ANSWER_USER);
  if (c->answer != NULL && o->shape && td_answer_keep_shape(c->answer) != 0) {
    td_answer_free(c->answer);
    c->answer = NULL;
  }
  if (c->answer == NULL || (c->group = group_of(h, o)) == NULL) {
    td_http_conn_free(c);
    return NULL;
  }
  /* A handle set up once now, so that libcurl refuses the settings at
   * start, not at the first poll; each transfer makes its own. */
  if (make_handle(c, why) != 0) {
    td_http_conn_free(c);
    return NULL;
  }
  drop_handle(c);
  c->counted = 1;
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
  if (c->busy) {
    /* Removal fails only for a handle the multi does not hold; the
     * handle is cleaned up below either way. */
    (void)curl_multi_remove_handle(c->http->multi, c->easy);
    c->http->running--;
  }
  drop_handle(c);
  if (c->counted)
    c->http->conns--;
  curl_slist_free_all(c->resolve);
  td_answer_free(c->answer);
  wipe_token(c);
  free(c->url);
  free(c->ca_cert);
  free(c->proxy);
  free(c);
}

void *td_http_conn_user(const td_http_conn_t *c) { return c->user; }

unsigned td_http_conn_group(const td_http_conn_t *c) { return c->group->index; }

unsigned td_http_groups(const td_http_t *h) { return h->n_groups; }

const td_xfer_t *td_http_conn_last(const td_http_conn_t *c) { return &c->last; }

int td_http_set_token(td_http_conn_t *c, const char *token) {
  char *copy = strdup(token);
  if (copy == NULL)
    return -1;
  wipe_token(c);
  c->token = copy;
  return 0;
}

int td_http_start(td_http_conn_t *c, double seconds) {
  long ms = (long)(seconds * 1000.0);
  if (ms < 1)
    ms = 1;
  if (c->busy)
    return 1;
  const char *why;
  if (make_handle(c, &why) != 0 || td_answer_begin(c->answer) != TD_JSON_OK ||
      curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
      curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK) {
    drop_handle(c);
    return -1;
  }
  c->curl_error[0] = '\0';
  c->error[0] = '\0';
  c->reached = TD_REACHED_NOTHING;
  if (curl_multi_add_handle(c->http->multi, c->easy) != CURLM_OK) {
    drop_handle(c);
    return -1;
  }
  c->busy = 1;
  c->http->running++;
  return 0;
}

size_t td_http_running(const td_http_t *h) { return h->running; }

/* The certificate chain libcurl saw, read by td_chain. A reused
 * connection shows none. */
#define TD_CHAIN_MAX_LINES 64 /* of one certificate; libcurl gives ~15 */
static void read_chain(td_http_conn_t *c, td_chain_t *ch) {
  struct curl_certinfo *ci = NULL;
  td_chain_begin(ch, (double)time(NULL));
  if (curl_easy_getinfo(c->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK ||
      ci == NULL)
    return;
  for (int i = 0; i < ci->num_of_certs; i++) {
    const char *lines[TD_CHAIN_MAX_LINES];
    size_t n = 0;
    for (struct curl_slist *s = ci->certinfo[i];
         s != NULL && n < TD_CHAIN_MAX_LINES; s = s->next)
      lines[n++] = s->data;
    td_chain_cert(ch, lines, n, i == ci->num_of_certs - 1);
  }
}

/* libcurl's own constant text for rc, kept as a fact. */
static void keep_detail(td_xfer_t *x, const td_http_conn_t *c, CURLcode rc) {
  const char *text = c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc);
  snprintf(x->detail, sizeof(x->detail), "%s", text);
}

/* The soft open-file limit when this process has (nearly) all the files
 * it may open, else 0. Only asked after a failure: counting costs a
 * directory read. */
static unsigned long files_exhausted(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return 0;
  unsigned long limit = (unsigned long)rl.rlim_cur, open_files = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL)
    return errno == EMFILE || errno == ENFILE ? limit : 0;
  while (readdir(dir) != NULL)
    open_files++;
  closedir(dir);
  /* ".", "..", the directory's own descriptor; and the failed transfer
   * may have closed its socket already. */
  return open_files + 8 >= limit ? limit : 0;
}

/* What a failed transfer's code means, as facts. */
static void classify(td_http_conn_t *c, CURLcode rc, long status,
                     const td_chain_t *chain, td_xfer_t *x) {
  long os_errno = 0, verify = 0;
  if (curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
    os_errno = 0;
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
    x->kind = TD_XFER_NO_HOST;
    break;
  case CURLE_COULDNT_RESOLVE_PROXY:
    x->kind = TD_XFER_NO_PROXY_HOST;
    break;
  case CURLE_INTERFACE_FAILED:
    x->kind = TD_XFER_NO_INTERFACE;
    break;
  case CURLE_COULDNT_CONNECT:
    x->kind =
        os_errno == ECONNREFUSED ? TD_XFER_REFUSED : TD_XFER_CONNECT_FAILED;
    x->os_errno = (int)os_errno;
    if (os_errno == EMFILE || os_errno == ENFILE)
      x->limit = files_exhausted();
    break;
  case CURLE_OPERATION_TIMEDOUT:
    x->kind = TD_XFER_TIMEOUT;
    break;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ISSUER_ERROR:
    x->kind = TD_XFER_TLS_VERIFY;
    /* The TLS library's verdict on the chain; none when only the name
     * failed. */
    if (curl_easy_getinfo(c->easy, CURLINFO_SSL_VERIFYRESULT, &verify) !=
        CURLE_OK)
      verify = -1;
    x->tls = td_chain_reason(chain, c->http->tls_lib, verify);
    break;
  case CURLE_SSL_CACERT_BADFILE:
    /* GnuTLS says no more when the file could not be opened for want of
     * a descriptor. */
    x->kind = TD_XFER_CA_UNREADABLE;
    x->limit = files_exhausted();
    break;
  case CURLE_SSL_CONNECT_ERROR:
    x->kind = TD_XFER_TLS_HANDSHAKE;
    keep_detail(x, c, rc);
    break;
  case CURLE_OUT_OF_MEMORY: {
    /* libcurl refuses a header line or block beyond its own bound (100
     * KiB) with this code, after the status line and before any body. */
    curl_off_t body = 0;
    if (curl_easy_getinfo(c->easy, CURLINFO_SIZE_DOWNLOAD_T, &body) != CURLE_OK)
      body = -1;
    x->kind =
        status > 0 && body == 0 ? TD_XFER_HEADERS_TOO_LARGE : TD_XFER_OTHER;
    keep_detail(x, c, rc);
    break;
  }
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    x->kind = os_errno == ECONNRESET || os_errno == EPIPE ? TD_XFER_RESET
              : rc == CURLE_RECV_ERROR                    ? TD_XFER_CLOSED_EARLY
                                                          : TD_XFER_BROKEN;
    keep_detail(x, c, rc);
    break;
  case CURLE_PARTIAL_FILE:
    x->kind = TD_XFER_SHORT;
    break;
  case CURLE_GOT_NOTHING:
    x->kind = TD_XFER_NOTHING;
    break;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_WEIRD_SERVER_REPLY:
    /* The URL is http or https (checked at start), so this is an answer
     * that is not HTTP: a bad status line, HTTP/0.9. */
    x->kind = TD_XFER_NOT_HTTP;
    break;
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    x->kind = TD_XFER_HTTP2;
    snprintf(x->detail, sizeof(x->detail), "%s", curl_easy_strerror(rc));
    break;
  case CURLE_WRITE_ERROR:
    x->kind = TD_XFER_STOPPED; /* only our callbacks make this happen */
    break;
  default:
    x->kind = TD_XFER_OTHER;
    snprintf(x->detail, sizeof(x->detail), "%s", curl_easy_strerror(rc));
  }
  if (x->limit > 0) {
    x->kind = TD_XFER_FILES_LIMIT;
    x->os_errno = 0;
  }
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

/* Hands an ended transfer (or one not tried) to the answer, words its
 * failure and reports the poll. */
static void report(td_http_conn_t *c, td_answer_end_t *end,
                   const td_http_events_t *ev, void *user) {
  td_poll_t poll;
  if (c->last.kind != TD_XFER_OK && c->last.kind != TD_XFER_STOPPED) {
    c->error[0] = '\0';
    if (ev->words != NULL)
      ev->words(&c->last, c->error, sizeof(c->error));
    end->how = TD_END_FAILED;
    end->error = c->error;
  }
  end->cert_expires = c->group->cert_expires;
  td_answer_finish(c->answer, end, &poll);
  ev->done(c, &poll, &c->last, user);
}

static void finish(td_http_conn_t *c, CURLcode rc, const td_http_events_t *ev,
                   void *user) {
  long status = 0, version = 0;
  td_chain_t chain;
  td_answer_end_t end = {.how = TD_END_OK};
  if (curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
    status = 0;
  read_marks(c, end.marks);
  read_chain(c, &chain);
  if (chain.earliest != 0)
    c->group->cert_expires = chain.earliest;
  if (status > 0 &&
      curl_easy_getinfo(c->easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK)
    c->group->multiplexed = version >= CURL_HTTP_VERSION_2_0;
  end.http_status = (int)status;
  c->last = (td_xfer_t){.kind = TD_XFER_OK,
                        .reached = status > 0 ? TD_REACHED_STATUS : c->reached,
                        .timeout = c->opts.timeout};
  if (c->last.reached == TD_REACHED_NOTHING) {
    curl_off_t connected = 0;
    if (curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connected) ==
            CURLE_OK &&
        connected > 0)
      c->last.reached = TD_REACHED_TCP;
  }
  if (rc != CURLE_OK)
    classify(c, rc, status, &chain, &c->last);
  if (rc == CURLE_WRITE_ERROR)
    end.how = TD_END_STOPPED;
  /* All read: the handle goes before the report, which may start the
   * next transfer. */
  drop_handle(c);
  report(c, &end, ev, user);
}

void td_http_report(td_http_conn_t *c, const td_xfer_t *x,
                    const td_http_events_t *ev, void *user) {
  td_answer_end_t end = {.how = TD_END_FAILED};
  c->last = *x;
  if (td_answer_begin(c->answer) != TD_JSON_OK)
    c->last.kind = TD_XFER_NOT_STARTED;
  report(c, &end, ev, user);
}

/* Reports every transfer libcurl says is done. */
static int collect(td_http_t *h, const td_http_events_t *ev, void *user) {
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
    CURLMcode mc = curl_multi_remove_handle(h->multi, c->easy);
    if (mc != CURLM_OK) {
      h->failure = curl_multi_strerror(mc);
      return -1;
    }
    c->busy = 0;
    h->running--;
    finish(c, rc, ev, user);
  }
  return 0;
}

int td_http_run(td_http_t *h, long max_wait_ms, const td_http_events_t *ev,
                void *user) {
  int still = 0, rc = 0;
  CURLMcode mc = CURLM_OK;
  h->ev = ev;
  h->ev_user = user;
  if (max_wait_ms > 0)
    mc = curl_multi_poll(h->multi, NULL, 0, (int)max_wait_ms, NULL);
  if (mc == CURLM_OK)
    mc = curl_multi_perform(h->multi, &still);
  if (mc != CURLM_OK) {
    h->failure = curl_multi_strerror(mc);
    rc = -1;
  }
  if (rc == 0)
    rc = collect(h, ev, user);
  h->ev = NULL;
  return rc;
}

const char *td_http_failure(const td_http_t *h) {
  return h->failure != NULL ? h->failure : "no failure";
}
