/* parse_bench: throughput of our extractor against two yajl baselines.
 *
 *   ours   td_extract: reset, feed the body chunk by chunk, finish, read
 *          the fields; exactly what the plugin does per poll.
 *   floor  yajl_parse with no callbacks at all (a fresh handle per body,
 *          since yajl 2 cannot reuse one): the least any yajl-based
 *          parser can cost.
 *   tree   what a naive plugin does: append the chunks to a growing
 *          buffer, yajl_tree_parse it, look the fields up, free the tree.
 *
 * Usage:
 *   parse_bench PARSER BODY ITERATIONS [CHUNK]
 *       parses BODY ITERATIONS times with PARSER (ours|floor|tree) inside
 *       bench_loop (the function callgrind is told to count) and prints
 *       parser= bytes= iterations= ns= ns_per_body= mib_per_s= status= id=
 *   parse_bench wall BODY ITERATIONS ROUNDS [CHUNK]
 *       the three parsers alternately, the order rotated every round; one
 *       line per round and parser: round= parser= ns_per_body=
 *   parse_bench dump BODY
 *       writes the body to stdout (to look at a generated one)
 *
 * BODY is a file, or gen:BYTES for a generated body of BYTES bytes made of
 * unknown fields (nested maps, arrays, escapes, numbers, literals) with
 * the wanted fields at the very end, so every parser reads all of it.
 * CHUNK defaults to 16384, libcurl's largest write-callback chunk.
 *
 * Built by bench/run against the core sources as Makefile.am lists them.
 * For bodies above the extractor's 256 KiB bound, bench/run also builds
 * parse_bench_big: the same sources with bench/unbounded.h forced in,
 * which raises the bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "td_extract.h"

#define BENCH_DEFAULT_CHUNK 16384
#define BENCH_MAX_BODY (1024L * 1024 * 1024)
#define BENCH_MAX_ITERATIONS 100000000L
#define BENCH_MAX_ROUNDS 1000L

typedef enum { P_OURS, P_FLOOR, P_TREE, P_COUNT } parser_t;
static const char *const parser_names[P_COUNT] = {"ours", "floor", "tree"};

typedef struct {
  int status;     /* 0: the parser accepted the body */
  char id[256];   /* the "id" it found, "" for floor */
} result_t;

/* ---- the three parsers: each handles one body ---- */

static void parse_ours(td_extract_t *x, const unsigned char *body, size_t len,
                       size_t chunk, result_t *r) {
  td_json_status_t st = td_extract_reset(x);
  for (size_t off = 0; off < len && st == TD_JSON_OK; off += chunk)
    st = td_extract_feed(x, body + off, len - off < chunk ? len - off : chunk);
  if (st == TD_JSON_OK)
    st = td_extract_finish(x);
  r->status = (int)st;
  const td_account_info_t *info = td_extract_info(x);
  memcpy(r->id, info->id, sizeof(r->id));
}

static void parse_floor(const unsigned char *body, size_t len, size_t chunk,
                        result_t *r) {
  yajl_handle h = yajl_alloc(NULL, NULL, NULL);
  yajl_status st = h != NULL ? yajl_status_ok : yajl_status_error;
  for (size_t off = 0; off < len && st == yajl_status_ok; off += chunk)
    st = yajl_parse(h, body + off, len - off < chunk ? len - off : chunk);
  if (st == yajl_status_ok)
    st = yajl_complete_parse(h);
  if (h != NULL)
    yajl_free(h);
  r->status = st == yajl_status_ok ? 0 : 1;
  r->id[0] = '\0';
}

/* Copies a string node's text into dst ("" when absent or not a string). */
static void tree_string(yajl_val root, const char **path, char *dst,
                        size_t size) {
  yajl_val v = yajl_tree_get(root, path, yajl_t_string);
  const char *s = YAJL_GET_STRING(v);
  snprintf(dst, size, "%s", s != NULL ? s : "");
}

static void parse_tree(const unsigned char *body, size_t len, size_t chunk,
                       result_t *r) {
  /* Buffer the body the way a write callback would: append, doubling. */
  size_t cap = 4096, used = 0;
  char *buf = malloc(cap);
  for (size_t off = 0; off < len && buf != NULL; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    if (used + n + 1 > cap) {
      while (used + n + 1 > cap)
        cap *= 2;
      char *grown = realloc(buf, cap);
      if (grown == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
    }
    memcpy(buf + used, body + off, n);
    used += n;
  }
  r->status = 1;
  r->id[0] = '\0';
  if (buf == NULL)
    return;
  buf[used] = '\0';
  char err[128];
  yajl_val root = yajl_tree_parse(buf, err, sizeof(err));
  if (root != NULL) {
    static const char *p_id[] = {"id", NULL};
    static const char *p_email[] = {"email", NULL};
    static const char *p_ver[] = {"emailIsVerified", NULL};
    static const char *p_org[] = {"organization", "name", NULL};
    char email[256], org[256];
    tree_string(root, p_id, r->id, sizeof(r->id));
    tree_string(root, p_email, email, sizeof(email));
    tree_string(root, p_org, org, sizeof(org));
    yajl_val ver = yajl_tree_get(root, p_ver, yajl_t_any);
    r->status = ver != NULL && (YAJL_IS_TRUE(ver) || YAJL_IS_FALSE(ver)) ? 0 : 2;
    yajl_tree_free(root);
  }
  free(buf);
}

/* The measured loop. callgrind counts this function (--toggle-collect),
 * so setup and reading the body stay out of the instruction counts. */
__attribute__((noinline)) void bench_loop(parser_t p, td_extract_t *x,
                                          const unsigned char *body,
                                          size_t len, long iterations,
                                          size_t chunk, result_t *r) {
  for (long i = 0; i < iterations; i++) {
    switch (p) {
    case P_OURS:
      parse_ours(x, body, len, chunk, r);
      break;
    case P_FLOOR:
      parse_floor(body, len, chunk, r);
      break;
    default:
      parse_tree(body, len, chunk, r);
      break;
    }
  }
}

/* ---- bodies ---- */

typedef struct {
  char *data;
  size_t len, cap;
} text_t;

static int put(text_t *t, const char *s) {
  size_t n = strlen(s);
  if (t->len + n + 1 > t->cap)
    return -1;
  memcpy(t->data + t->len, s, n + 1);
  t->len += n;
  return 0;
}

/* A body of about `bytes` bytes (at least the fixed tail) of unknown
 * fields, the wanted fields last. Deterministic. */
static char *generate(size_t bytes, size_t *len) {
  static const char tail[] =
      "\"id\":\"BADA55-BADGE5\",\"email\":\"you@example.com\","
      "\"emailIsVerified\":true,\"organization\":{\"createdAt\":"
      "\"2020-12-31T23:00:00+0000\",\"name\":\"TelemetryDeck\"}}";
  text_t t = {malloc(bytes + 1024), 0, bytes + 1024};
  if (t.data == NULL)
    return NULL;
  t.data[0] = '\0';
  put(&t, "{");
  char member[1024];
  for (long i = 0; t.len + sizeof(member) + sizeof(tail) < bytes; i++) {
    if (i % 2 == 0)
      snprintf(member, sizeof(member),
               "\"unknownObject%06ld\":{\"name\":\"item %ld\",\"tags\":"
               "[\"alpha\",\"beta \\\"quoted\\\"\",\"\\u00e9t\\u00e9\","
               "\"line\\nbreak\"],\"count\":%ld,\"ratio\":-1.25e-3,"
               "\"enabled\":true,\"parent\":null,\"deep\":{\"a\":{\"b\":"
               "[1,2,{\"c\":\"d\"},[[]],{}]}},\"id\":\"not-this-%ld\"},",
               i, i, i * 7919, i);
    else
      snprintf(member, sizeof(member),
               "\"unknownString%06ld\":\"a plain string value, number %ld, "
               "long enough to matter for the lexer\",\"unknownNumber%06ld\""
               ":%ld.%03ld,",
               i, i, i, i * 31, i % 1000);
    put(&t, member);
  }
  put(&t, tail);
  *len = t.len;
  return t.data;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      if (cap >= (size_t)BENCH_MAX_BODY) {
        free(buf);
        buf = NULL;
        break;
      }
      char *grown = realloc(buf, cap * 2);
      if (grown == NULL)
        free(buf);
      buf = grown;
      cap *= 2;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

static char *load_body(const char *spec, size_t *len) {
  if (strncmp(spec, "gen:", 4) == 0) {
    long bytes = strtol(spec + 4, NULL, 10);
    if (bytes < 256 || bytes > BENCH_MAX_BODY)
      return NULL;
    return generate((size_t)bytes, len);
  }
  return read_file(spec, len);
}

/* ---- driver ---- */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int parser_from_name(const char *name) {
  for (int p = 0; p < P_COUNT; p++)
    if (strcmp(name, parser_names[p]) == 0)
      return p;
  return -1;
}

static int run_one(parser_t p, td_extract_t *x, const char *body, size_t len,
                   long iterations, size_t chunk) {
  result_t r = {0};
  double t0 = now_ns();
  bench_loop(p, x, (const unsigned char *)body, len, iterations, chunk, &r);
  double ns = now_ns() - t0;
  printf("parser=%s bytes=%zu iterations=%ld ns=%.0f ns_per_body=%.1f "
         "mib_per_s=%.1f status=%d id=%s\n",
         parser_names[p], len, iterations, ns, ns / iterations,
         (double)len * iterations / (ns / 1e9) / (1024.0 * 1024.0), r.status,
         r.id);
  return 0;
}

static int run_wall(td_extract_t *x, const char *body, size_t len,
                    long iterations, long rounds, size_t chunk) {
  for (long round = 0; round < rounds; round++) {
    for (int k = 0; k < P_COUNT; k++) {
      parser_t p = (parser_t)((round + k) % P_COUNT);
      result_t r = {0};
      double t0 = now_ns();
      bench_loop(p, x, (const unsigned char *)body, len, iterations, chunk,
                 &r);
      double ns = now_ns() - t0;
      printf("round=%ld parser=%s ns_per_body=%.1f status=%d\n", round,
             parser_names[p], ns / iterations, r.status);
    }
  }
  return 0;
}

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s ours|floor|tree BODY ITERATIONS [CHUNK]\n"
          "       %s wall BODY ITERATIONS ROUNDS [CHUNK]\n"
          "       %s dump BODY\n"
          "BODY: a file, or gen:BYTES\n",
          argv0, argv0, argv0);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return usage(argv[0]);
  size_t len = 0;
  char *body = load_body(argv[2], &len);
  if (body == NULL) {
    fprintf(stderr, "parse_bench: cannot load body %s\n", argv[2]);
    return 2;
  }
  if (strcmp(argv[1], "dump") == 0) {
    fwrite(body, 1, len, stdout);
    free(body);
    return 0;
  }
  int wall = strcmp(argv[1], "wall") == 0;
  int p = parser_from_name(argv[1]);
  int nargs = wall ? 5 : 4;
  if ((!wall && p < 0) || argc < nargs || argc > nargs + 1)
    return usage(argv[0]);
  long iterations = strtol(argv[3], NULL, 10);
  long rounds = wall ? strtol(argv[4], NULL, 10) : 1;
  long chunk = argc == nargs + 1 ? strtol(argv[nargs], NULL, 10)
                                 : BENCH_DEFAULT_CHUNK;
  if (iterations < 1 || iterations > BENCH_MAX_ITERATIONS || rounds < 1 ||
      rounds > BENCH_MAX_ROUNDS || chunk < 1)
    return usage(argv[0]);
  td_extract_t *x = td_extract_new();
  if (x == NULL)
    return 1;
  int rc = wall ? run_wall(x, body, len, iterations, rounds, (size_t)chunk)
                : run_one((parser_t)p, x, body, len, iterations,
                          (size_t)chunk);
  td_extract_free(x);
  free(body);
  return rc;
}
