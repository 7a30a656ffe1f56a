/* tls_cost: what a new TLS connection costs with the plugin's libcurl
 * settings (issue 20), for either libcurl flavour (built twice by
 * bench/run: against libcurl-gnutls and against the OpenSSL flavour's
 * libcurl.so.4).
 *
 * tls_cost poll URL TOKEN_FILE CA_FILE ACCOUNTS POLLS SHARE [CACHE]
 *   ACCOUNTS easy handles on one multi handle, set as td_http sets them
 *   (TLS 1.2 minimum, verification on, CERTINFO, CAPATH cleared, bearer
 *   token), all started at once per poll, like one collectd read. The
 *   server decides whether a connection is kept (point it at a server that
 *   closes each connection after its answer for "a new connection").
 *   SHARE  none      each handle keeps its own TLS session cache (libcurl's
 *                    default)
 *          nosession CURLOPT_SSL_SESSIONID_CACHE 0: no resumption at all
 *          ssl       one share handle with CURL_LOCK_DATA_SSL_SESSION
 *          all       the same plus CURL_LOCK_DATA_DNS and _CONNECT
 *   CACHE  seconds for CURLOPT_CA_CACHE_TIMEOUT (OpenSSL flavour; the GnuTLS
 *          one refuses it); left out: libcurl's default (24 h)
 *   One unmeasured poll first (connections, sessions, the CA cache), then
 *   POLLS polls. Prints key=value: transfers= ok= connects= cpu_us=
 *   cpu_us_per_transfer=.
 *
 * tls_cost hold CA_FILE N
 *   N transfers to a listener of its own on 127.0.0.1 that never accepts
 *   (the kernel completes TCP; nobody speaks TLS). Runs until the CPU
 *   stops moving (every connection has sent its ClientHello and waits),
 *   then prints heap in use (mallinfo2) and VmRSS growth per connection:
 *   conns= heap_kib_per_conn= rss_kib_per_conn=.
 *
 * Loopback only: the caller passes a 127.0.0.1 URL; hold makes its own. */
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench_common.h"

#define TC_MAX_ACCOUNTS 10000L
#define TC_MAX_POLLS 100000L
#define TC_MAX_TOKEN 4096

static int read_token(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  int ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  buf[strcspn(buf, "\r\n")] = '\0';
  return ok && buf[0] != '\0' ? 0 : -1;
}

/* The options td_http's configure() sets, in the same order. */
static int setup(CURL *e, const char *url, const char *ca, long timeout_ms) {
  int bad = 0;
  bad |= curl_easy_setopt(e, CURLOPT_URL, url);
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  bad |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
  bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  bad |= curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_CAINFO, ca);
  bad |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  bad |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L); /* TD_HTTP_BUFFER */
  return bad ? -1 : 0;
}

/* One poll: every handle added, run to the end, removed. Returns the
 * number of transfers answered 200; adds their new connections. */
static long poll_all(CURLM *m, CURL **e, long n, long *connects) {
  for (long i = 0; i < n; i++)
    curl_multi_add_handle(m, e[i]);
  int running = 1;
  long ok = 0;
  while (running) {
    if (curl_multi_perform(m, &running) != CURLM_OK)
      break;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      long status = 0, c = 0;
      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &c);
      ok += msg->data.result == CURLE_OK && status == 200;
      *connects += c;
    }
    if (running)
      curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
  for (long i = 0; i < n; i++)
    curl_multi_remove_handle(m, e[i]);
  return ok;
}

static CURLSH *make_share(const char *share) {
  if (strcmp(share, "ssl") != 0 && strcmp(share, "all") != 0)
    return NULL;
  CURLSH *sh = curl_share_init();
  curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (strcmp(share, "all") == 0) {
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
  return sh;
}

static int cmd_poll(int argc, char **argv) {
  if (argc < 8 || argc > 9) {
    fprintf(stderr, "usage: tls_cost poll URL TOKEN_FILE CA_FILE ACCOUNTS "
                    "POLLS none|nosession|ssl|all [CACHE]\n");
    return 2;
  }
  const char *url = argv[2], *ca = argv[4], *share = argv[7];
  long n = strtol(argv[5], NULL, 10), polls = strtol(argv[6], NULL, 10);
  if (n < 1 || n > TC_MAX_ACCOUNTS || polls < 1 || polls > TC_MAX_POLLS)
    return 2;
  char token[TC_MAX_TOKEN];
  if (read_token(argv[3], token, sizeof(token)) != 0)
    return 2;
  CURLM *m = curl_multi_init();
  CURLSH *sh = make_share(share);
  CURL **e = calloc((size_t)n, sizeof(*e));
  for (long i = 0; i < n; i++) {
    e[i] = curl_easy_init();
    if (e[i] == NULL || setup(e[i], url, ca, 10000L) != 0 ||
        curl_easy_setopt(e[i], CURLOPT_XOAUTH2_BEARER, token) != CURLE_OK)
      return 1;
    if (sh != NULL && curl_easy_setopt(e[i], CURLOPT_SHARE, sh) != CURLE_OK)
      return 1;
    if (strcmp(share, "nosession") == 0)
      curl_easy_setopt(e[i], CURLOPT_SSL_SESSIONID_CACHE, 0L);
    if (argc == 9 && curl_easy_setopt(e[i], CURLOPT_CA_CACHE_TIMEOUT,
                                      strtol(argv[8], NULL, 10)) != CURLE_OK) {
      fprintf(stderr, "tls_cost: CURLOPT_CA_CACHE_TIMEOUT refused\n");
      return 1;
    }
  }
  memset(token, 0, sizeof(token));
  long connects = 0;
  if (poll_all(m, e, n, &connects) != n) {
    fprintf(stderr, "tls_cost: the warm-up poll failed\n");
    return 1;
  }
  connects = 0;
  long ok = 0;
  double c0 = cpu_us();
  for (long p = 0; p < polls; p++)
    ok += poll_all(m, e, n, &connects);
  double c1 = cpu_us();
  printf("transfers=%ld ok=%ld connects=%ld cpu_us=%.0f "
         "cpu_us_per_transfer=%.1f\n",
         n * polls, ok, connects, c1 - c0, (c1 - c0) / (double)(n * polls));
  for (long i = 0; i < n; i++)
    curl_easy_cleanup(e[i]);
  curl_multi_cleanup(m);
  if (sh != NULL)
    curl_share_cleanup(sh);
  free(e);
  return ok == n * polls ? 0 : 1;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmRSS: %ld", &kib) == 1)
      break;
  if (f != NULL)
    fclose(f);
  return kib;
}

static int cmd_hold(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: tls_cost hold CA_FILE N\n");
    return 2;
  }
  long n = strtol(argv[3], NULL, 10);
  if (n < 1 || n > TC_MAX_ACCOUNTS)
    return 2;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(fd, (int)n + 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
    return 1;
  char url[64];
  snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v3/users/info",
           ntohs(a.sin_port));
  CURLM *m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, n);
  CURL **e = calloc((size_t)n, sizeof(*e));
  for (long i = 0; i < n; i++) {
    e[i] = curl_easy_init();
    if (e[i] == NULL || setup(e[i], url, argv[2], 600000L) != 0)
      return 1;
  }
  long rss0 = rss_kib();
  size_t heap0 = mallinfo2().uordblks;
  for (long i = 0; i < n; i++)
    curl_multi_add_handle(m, e[i]);
  /* Until a second passes with (almost) no CPU spent: every connection
   * has loaded its CA file and waits for the server. At most 300 s. */
  double still = 0, last = cpu_us();
  for (int round = 0; round < 3000 && still < 1.0; round++) {
    int running;
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 100, NULL);
    double now = cpu_us();
    still = now - last < 5000 ? still + 0.1 : 0;
    last = now;
  }
  long rss1 = rss_kib();
  size_t heap1 = mallinfo2().uordblks;
  printf("conns=%ld heap_kib_per_conn=%.1f rss_kib_per_conn=%.1f\n", n,
         (double)(heap1 - heap0) / 1024.0 / (double)n,
         (double)(rss1 - rss0) / (double)n);
  for (long i = 0; i < n; i++) {
    curl_multi_remove_handle(m, e[i]);
    curl_easy_cleanup(e[i]);
  }
  curl_multi_cleanup(m);
  free(e);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
    return 1;
  int rc = 2;
  if (argc >= 2 && strcmp(argv[1], "poll") == 0)
    rc = cmd_poll(argc, argv);
  else if (argc >= 2 && strcmp(argv[1], "hold") == 0)
    rc = cmd_hold(argc, argv);
  else
    fprintf(stderr, "usage: tls_cost poll|hold ...\n");
  curl_global_cleanup();
  return rc;
}
