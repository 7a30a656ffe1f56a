/* What the libcurl-only benchmark programs (curl_floor.c, tls_cost.c)
 * share: a body sink and the process's CPU time. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <sys/resource.h>

/* A CURLOPT_WRITEFUNCTION that takes every byte and keeps none. */
static size_t discard(char *data, size_t size, size_t nmemb, void *arg) {
  (void)data;
  (void)arg;
  return size * nmemb;
}

/* User plus system CPU time of this process so far, microseconds. */
static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

#endif /* BENCH_COMMON_H */
