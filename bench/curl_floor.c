/* curl_floor: the bare-libcurl floor for the CPU-per-poll benchmark.
 *
 * One easy handle, options set once, the same libcurl flavour as the
 * plugin (GnuTLS), a bearer header built once, a write callback that
 * discards the body, and N requests on one reused connection, optionally
 * paced like a poller. Whatever a poller costs above this is its own
 * overhead (collectd, scheduling, parsing, dispatching).
 *
 * Usage: curl_floor URL TOKEN_FILE CA_FILE N [INTERVAL_MS [MODE]]
 *   MODE reuse           one connection for all requests (the default)
 *        fresh           a new connection and TLS handshake per request,
 *                        libcurl's default CA path (Debian: /etc/ssl/certs)
 *                        loaded as well as CA_FILE, as curl_json does
 *        fresh-nocapath  the same with CURLOPT_CAPATH cleared: CA_FILE only
 *        fresh-nocache   the same with CURLOPT_CA_CACHE_TIMEOUT 0: libcurl's
 *                        OpenSSL flavour then parses CA_FILE per connection
 *                        as the GnuTLS one always does (GnuTLS ignores it)
 *
 * One warm-up request opens the connection and does the TLS handshake;
 * then the process CPU time (getrusage) of the N requests is measured.
 * Prints one line of key=value pairs on stdout:
 *   requests= ok= connects= cpu_us= wall_us= cpu_us_per_request=
 * Exits non-zero when any request fails. Loopback URLs only: the caller
 * (bench/bench.py) passes the fake API's 127.0.0.1 URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>

#include "bench_common.h"

#define FLOOR_MAX_REQUESTS 1000000L
#define FLOOR_MAX_TOKEN 4096

static double wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Sleeps until start + k * interval, so pacing does not drift. */
static void pace(double start_us, long k, long interval_ms) {
  double due = start_us + (double)k * interval_ms * 1000.0;
  double left = due - wall_us();
  if (left <= 0)
    return;
  struct timespec ts = {(time_t)(left / 1e6), (long)((long long)left % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* Reads the token (first line of the file) into buf. Returns 0 or -1. */
static int read_token(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  int ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  if (!ok)
    return -1;
  buf[strcspn(buf, "\r\n")] = '\0';
  return buf[0] != '\0' ? 0 : -1;
}

/* One request; returns 1 when it got HTTP 200. */
static int one(CURL *e, long *connects) {
  long status = 0, n = 0;
  if (curl_easy_perform(e) != CURLE_OK)
    return 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &n);
  *connects += n;
  return status == 200;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr,
            "usage: %s URL TOKEN_FILE CA_FILE N [INTERVAL_MS "
            "[reuse|fresh|fresh-nocapath|fresh-nocache]]\n",
            argv[0]);
    return 2;
  }
  const char *url = argv[1];
  long n = strtol(argv[4], NULL, 10);
  long interval_ms = argc >= 6 ? strtol(argv[5], NULL, 10) : 0;
  const char *mode = argc == 7 ? argv[6] : "reuse";
  int fresh = strncmp(mode, "fresh", 5) == 0;
  int nocache = strcmp(mode, "fresh-nocache") == 0;
  int nocapath = nocache || strcmp(mode, "fresh-nocapath") == 0;
  if (!fresh && strcmp(mode, "reuse") != 0) {
    fprintf(stderr, "curl_floor: unknown mode %s\n", mode);
    return 2;
  }
  if (n < 1 || n > FLOOR_MAX_REQUESTS || interval_ms < 0) {
    fprintf(stderr, "curl_floor: N must be 1..%ld, INTERVAL_MS >= 0\n",
            FLOOR_MAX_REQUESTS);
    return 2;
  }
  char token[FLOOR_MAX_TOKEN], header[FLOOR_MAX_TOKEN + 32];
  if (read_token(argv[2], token, sizeof(token)) != 0) {
    fprintf(stderr, "curl_floor: cannot read a token from %s\n", argv[2]);
    return 2;
  }
  snprintf(header, sizeof(header), "Authorization: Bearer %s", token);

  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
    return 1;
  CURL *e = curl_easy_init();
  struct curl_slist *headers = curl_slist_append(NULL, header);
  if (e == NULL || headers == NULL)
    return 1;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CAINFO, argv[3]);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  if (fresh) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  if (nocapath)
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  /* Refused by the GnuTLS flavour (it has no CA cache): nothing to turn
   * off there. */
  if (nocache)
    (void)curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);

  long connects = 0, ok = 0;
  if (!one(e, &connects)) {
    fprintf(stderr, "curl_floor: the warm-up request failed\n");
    return 1;
  }
  connects = 0;
  double c0 = cpu_us(), w0 = wall_us();
  for (long i = 0; i < n; i++) {
    if (interval_ms > 0)
      pace(w0, i + 1, interval_ms);
    ok += one(e, &connects);
  }
  double c1 = cpu_us(), w1 = wall_us();
  printf("requests=%ld ok=%ld connects=%ld cpu_us=%.0f wall_us=%.0f "
         "cpu_us_per_request=%.2f\n",
         n, ok, connects, c1 - c0, w1 - w0, (c1 - c0) / (double)n);

  curl_slist_free_all(headers);
  curl_easy_cleanup(e);
  curl_global_cleanup();
  return ok == n ? 0 : 1;
}
