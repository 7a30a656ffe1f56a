/* test_extract: the users/info extractor, specified by golden files and by
 * tables of generated bodies for the bounds.
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_extract tests/data/bodies
 * Without an argument it reads $srcdir/tests/data/bodies, srcdir being
 * what automake's test harness sets (else "."), so `make check` needs no
 * wrapper.
 *
 * Golden files: for every NAME.json in the directory given as argv[1],
 * NAME.expect holds what the extractor must make of it (format in
 * tests/data/bodies/README.md). Each body is replayed at every chunk size
 * from 1 byte up to its length, and every replay must give the golden
 * result: streaming bugs hide at chunk boundaries. Goldens are written by
 * hand and checked by eye; this program never writes them. */
#define _POSIX_C_SOURCE 200809L /* strdup, opendir */

#include "td_extract.h"
#include "td_words.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

/* A growable text buffer, enough for a rendered result. */
typedef struct {
  char text[8192];
  size_t len;
} render_t;

static void put(render_t *r, const char *s) {
  size_t n = strlen(s);
  if (r->len + n >= sizeof(r->text))
    n = sizeof(r->text) - 1 - r->len;
  memcpy(r->text + r->len, s, n);
  r->len += n;
  r->text[r->len] = '\0';
}

/* "key=value\n", bytes below 0x20, 0x7f and '\' written as \xNN so the
 * golden stays one line per field; UTF-8 passes through as it is. */
static void put_field(render_t *r, const char *key, const char *value) {
  char hex[8];
  put(r, key);
  put(r, "=");
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if (*p < 0x20 || *p == 0x7f || *p == '\\') {
      snprintf(hex, sizeof(hex), "\\x%02x", *p);
      put(r, hex);
    } else {
      char c[2] = {(char)*p, '\0'};
      put(r, c);
    }
  }
  put(r, "\n");
}

static const char *status_name(td_json_status_t s) {
  switch (s) {
  case TD_JSON_OK:
    return "ok";
  case TD_JSON_E_SYNTAX:
    return "syntax";
  case TD_JSON_E_TRUNCATED:
    return "truncated";
  case TD_JSON_E_EMPTY:
    return "empty";
  case TD_JSON_E_DEPTH:
    return "depth";
  case TD_JSON_E_SIZE:
    return "size";
  case TD_JSON_E_NOMEM:
    return "nomem";
  }
  return "unknown-status";
}

/* The golden form of a finished parse. Fields are trusted only after an
 * OK finish (td_extract.h), so an error renders as its status alone. */
static void render(render_t *r, td_json_status_t s,
                   const td_account_info_t *info) {
  char num[16];
  r->len = 0;
  r->text[0] = '\0';
  put_field(r, "status", status_name(s));
  if (s != TD_JSON_OK)
    return;
  put_field(r, "id", info->id);
  put_field(r, "email", info->email);
  snprintf(num, sizeof(num), "%d", info->email_verified);
  put_field(r, "email_verified", num);
  put_field(r, "org_name", info->org_name);
  put_field(r, "reason", info->reason);
  snprintf(num, sizeof(num), "%d", info->top_is_object);
  put_field(r, "top_is_object", num);
}

/* Resets x, feeds body in chunks of chunk bytes, finishes, renders. */
static td_json_status_t replay(td_extract_t *x, const char *body,
                                  size_t len, size_t chunk, render_t *r) {
  td_extract_reset(x);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    td_extract_feed(x, body + off, n);
  }
  td_json_status_t s = td_extract_finish(x);
  render(r, s, td_extract_info(x));
  return s;
}

/* Reads a whole file; returns a malloc'd buffer (NUL added) or NULL. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  size_t got;
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *bigger = realloc(buf, 2 * cap + 1);
      if (bigger == NULL)
        free(buf);
      buf = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

/* Prints a multi-line text as diagnostics, one "#   " line per line. */
static void diag_lines(const char *label, const char *text) {
  tap_diag("%s:", label);
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    tap_diag("    %.*s", n, p);
    p += n + (nl ? 1 : 0);
  }
}

/* ------------------------------------------------------------------ */
/* Golden files                                                        */

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

/* One TAP line per body: the golden result at every chunk size. */
static void check_golden(td_extract_t *x, const char *dir, const char *name) {
  char path[4096];
  size_t body_len = 0, expect_len = 0;
  size_t stem = strlen(name) - strlen(".json");

  int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
  char *body = n < (int)sizeof(path) ? slurp(path, &body_len) : NULL;
  n = snprintf(path, sizeof(path), "%s/%.*s.expect", dir, (int)stem, name);
  char *expect = n < (int)sizeof(path) ? slurp(path, &expect_len) : NULL;
  if (body == NULL || expect == NULL) {
    tap_ok(0, "%s: has a readable body and golden", name);
    tap_diag("cannot read %s", body == NULL ? name : path);
    free(body);
    free(expect);
    return;
  }

  static render_t got;
  size_t last = body_len > 0 ? body_len : 1; /* an empty body: one replay */
  size_t bad_chunk = 0;
  for (size_t chunk = 1; chunk <= last; chunk++) {
    replay(x, body, body_len, chunk, &got);
    if (strcmp(got.text, expect) != 0) {
      bad_chunk = chunk;
      break;
    }
  }
  tap_ok(bad_chunk == 0, "%s: golden result at every chunk size 1..%zu",
         name, last);
  if (bad_chunk != 0) {
    tap_diag("first chunk size that differed: %zu", bad_chunk);
    diag_lines("expected", expect);
    diag_lines("got", got.text);
  }
  free(body);
  free(expect);
}

/* Every .json has its .expect and every .expect its .json. */
static void check_golden_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!tap_ok(d != NULL, "the golden directory %s can be read", dir))
    return;
  char *names[1024];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
    if (has_suffix(e->d_name, ".json") || has_suffix(e->d_name, ".expect"))
      names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof(names[0]), by_name);

  td_extract_t *x = td_extract_new();
  size_t bodies = 0;
  for (size_t i = 0; i < n; i++) {
    char pair[1024];
    if (has_suffix(names[i], ".json")) {
      bodies++;
      check_golden(x, dir, names[i]);
      continue;
    }
    size_t stem = strlen(names[i]) - strlen(".expect");
    snprintf(pair, sizeof(pair), "%.*s.json", (int)stem, names[i]);
    int found = 0;
    for (size_t j = 0; j < n; j++)
      found |= strcmp(names[j], pair) == 0;
    if (!found)
      tap_ok(0, "%s: has a body %s next to it", names[i], pair);
  }
  tap_ok(bodies >= 40, "the golden directory holds the body table (%zu)",
         bodies);
  td_extract_free(x);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
}

/* ------------------------------------------------------------------ */
/* Generated bodies: the named bounds                                  */

/* Builds levels nested containers around an inner text, into a
 * malloc'd string: shape "[" gives [[...]], shape "{" gives
 * {"a":{"a":...}}. */
static char *nest(const char *shape, size_t levels, const char *inner,
                  int closed) {
  int map = shape[0] == '{';
  const char *open = map ? "{\"a\":" : "[";
  const char *close = map ? "}" : "]";
  size_t olen = strlen(open), ilen = strlen(inner);
  char *s = malloc(levels * (olen + 1) + ilen + 1);
  char *p = s;
  for (size_t i = 0; i < levels; i++, p += olen)
    memcpy(p, open, olen);
  memcpy(p, inner, ilen);
  p += ilen;
  for (size_t i = 0; closed && i < levels; i++)
    *p++ = close[0];
  *p = '\0';
  return s;
}

/* Feeds a whole text at one chunk size and finishes. */
static td_json_status_t run_text(td_extract_t *x, const char *text,
                                    size_t chunk) {
  render_t r;
  return replay(x, text, strlen(text), chunk, &r);
}

static void check_depth(td_extract_t *x) {
  /* A map nests one level inside the top-level object of a real body. */
  const struct {
    const char *what;
    const char *shape;
    size_t levels;
    const char *inner;
    td_json_status_t want;
  } cases[] = {
      {"arrays nested exactly TD_JSON_MAX_DEPTH deep are read", "[",
       TD_JSON_MAX_DEPTH, "1", TD_JSON_OK},
      {"arrays nested one level deeper than TD_JSON_MAX_DEPTH stop", "[",
       TD_JSON_MAX_DEPTH + 1, "1", TD_JSON_E_DEPTH},
      {"maps nested exactly TD_JSON_MAX_DEPTH deep are read", "{",
       TD_JSON_MAX_DEPTH - 1, "{}", TD_JSON_OK},
      {"maps nested one level deeper than TD_JSON_MAX_DEPTH stop", "{",
       TD_JSON_MAX_DEPTH, "{}", TD_JSON_E_DEPTH},
      {"empty arrays nested exactly TD_JSON_MAX_DEPTH deep are read",
       "[", TD_JSON_MAX_DEPTH - 1, "[]", TD_JSON_OK},
      {"empty arrays nested one level too deep stop", "[",
       TD_JSON_MAX_DEPTH, "[]", TD_JSON_E_DEPTH},
  };
  const size_t chunks[] = {1, 7, 1 << 20};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *text = nest(cases[i].shape, cases[i].levels, cases[i].inner, 1);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
      td_json_status_t s = run_text(x, text, chunks[c]);
      tap_is_str(status_name(s), status_name(cases[i].want),
                 "%s (chunks of %zu)", cases[i].what, chunks[c]);
    }
    free(text);
  }

  /* Deep nesting under a real body keeps what came before it. */
  char *deep = nest("[", TD_JSON_MAX_DEPTH - 1, "1", 1);
  size_t len = strlen(deep) + 64;
  char *body = malloc(len);
  snprintf(body, len, "{\"id\":\"kept\",\"deep\":%s}", deep);
  td_json_status_t s = run_text(x, body, 3);
  tap_is_str(status_name(s), "ok",
             "a body whose unknown field nests to the limit is read");
  tap_is_str(td_extract_info(x)->id, "kept",
             "and the id before the deep field is kept");
  free(deep);
  free(body);

  /* A nesting bomb must not recurse or allocate per level. The map bomb
   * is 50000 levels so that it stays under TD_JSON_MAX_BODY. */
  const struct {
    const char *shape;
    size_t levels;
  } bombs[] = {{"[", 100000}, {"{", 50000}};
  for (size_t i = 0; i < 2; i++) {
    char *bomb = nest(bombs[i].shape, bombs[i].levels, "", 0);
    td_extract_reset(x);
    td_json_status_t fed = td_extract_feed(x, bomb, strlen(bomb));
    tap_is_str(status_name(fed), "depth",
               "%zu levels of '%s' stop the feed with a depth error",
               bombs[i].levels, bombs[i].shape);
    tap_is_str(status_name(td_extract_finish(x)), "depth",
               "and finishing that body still reports the depth error");
    free(bomb);
  }
}

/* {"id":"x","pad":"aaa...a"} padded with spaces to exactly len bytes. */
static char *body_of_size(size_t len) {
  char *s = malloc(len + 1);
  const char *head = "{\"id\":\"x\",\"pad\":\"";
  size_t h = strlen(head);
  memcpy(s, head, h);
  memset(s + h, 'a', len - h - 4);
  memcpy(s + len - 4, "\"}  ", 4);
  s[len] = '\0';
  return s;
}

static void check_size(td_extract_t *x) {
  char *at_limit = body_of_size(TD_JSON_MAX_BODY);
  td_extract_reset(x);
  tap_is_str(status_name(td_extract_feed(x, at_limit, TD_JSON_MAX_BODY)),
             "ok", "a body of exactly TD_JSON_MAX_BODY bytes is fed");
  tap_is_str(status_name(td_extract_finish(x)), "ok",
             "and read to the end");
  tap_is_str(td_extract_info(x)->id, "x", "and its id is kept");
  tap_is_int((long long)td_extract_bytes(x), TD_JSON_MAX_BODY,
             "td_extract_bytes counts every byte of it");
  free(at_limit);

  char *over = body_of_size(TD_JSON_MAX_BODY + 1);
  td_extract_reset(x);
  tap_is_str(
      status_name(td_extract_feed(x, over, TD_JSON_MAX_BODY + 1)), "size",
      "a body one byte over TD_JSON_MAX_BODY in one chunk is refused");
  tap_is_str(status_name(td_extract_finish(x)), "size",
             "and finishing it reports the size error");
  tap_is_int((long long)td_extract_bytes(x), TD_JSON_MAX_BODY + 1,
             "td_extract_bytes counts the chunk that broke the bound");

  free(over);

  /* In chunks of 1000 the error comes with the chunk that crosses. */
  size_t big = TD_JSON_MAX_BODY + 5000;
  over = body_of_size(big);
  td_extract_reset(x);
  size_t off = 0;
  td_json_status_t s = TD_JSON_OK;
  while (s == TD_JSON_OK && off < big) {
    s = td_extract_feed(x, over + off, 1000);
    off += 1000;
  }
  size_t crossing = (TD_JSON_MAX_BODY / 1000 + 1) * 1000;
  tap_is_str(status_name(s), "size",
             "fed in chunks of 1000, the over-long body is refused");
  tap_is_int((long long)off, (long long)crossing,
             "by the chunk that crosses TD_JSON_MAX_BODY");
  tap_is_int((long long)td_extract_bytes(x), (long long)crossing,
             "td_extract_bytes says how far the body got");
  free(over);

  /* Whitespace counts too: the bound is on bytes, not on JSON. */
  char *spaces = malloc(TD_JSON_MAX_BODY + 16);
  memset(spaces, ' ', TD_JSON_MAX_BODY + 16);
  memcpy(spaces, "{\"id\":\"x\"}", 10);
  td_extract_reset(x);
  td_extract_feed(x, spaces, TD_JSON_MAX_BODY + 16);
  tap_is_str(status_name(td_extract_finish(x)), "size",
             "trailing whitespace past TD_JSON_MAX_BODY is refused too");
  free(spaces);
}

static void check_sticky(td_extract_t *x) {
  const char *valid = "{\"id\":\"x\"}";
  const struct {
    const char *what;
    const char *first;
    const char *want;
  } cases[] = {
      {"a syntax error", "{]", "syntax"},
      {"a depth error", NULL, "depth"},
      {"a syntax error from bad UTF-8", "{\"id\":\"\xff", "syntax"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *deep = NULL;
    const char *first = cases[i].first;
    if (first == NULL)
      first = deep = nest("[", TD_JSON_MAX_DEPTH + 1, "", 0);
    td_extract_reset(x);
    td_json_status_t a = td_extract_feed(x, first, strlen(first));
    td_json_status_t b = td_extract_feed(x, valid, strlen(valid));
    td_json_status_t c = td_extract_finish(x);
    td_json_status_t d = td_extract_feed(x, valid, strlen(valid));
    tap_is_str(status_name(a), cases[i].want, "%s is reported by the feed",
               cases[i].what);
    tap_is_str(status_name(b), cases[i].want,
               "%s sticks: a later valid chunk reports it again",
               cases[i].what);
    tap_is_str(status_name(c), cases[i].want, "%s sticks through finish",
               cases[i].what);
    tap_is_str(status_name(d), cases[i].want,
               "%s sticks after finish as well", cases[i].what);
    free(deep);
  }

  td_extract_reset(x);
  td_extract_feed(x, "{\"id\":", 6);
  tap_is_str(status_name(td_extract_finish(x)), "truncated",
             "a body cut after a key is truncated");
  tap_is_str(status_name(td_extract_feed(x, "\"x\"}", 4)), "truncated",
             "and the truncation sticks: the rest coming late is refused");
  tap_is_str(status_name(td_extract_finish(x)), "truncated",
             "and a second finish reports it again");

  td_extract_reset(x);
  tap_is_str(status_name(td_extract_feed(x, "", 0)), "ok",
             "a zero-length chunk is accepted");
  tap_is_int((long long)td_extract_bytes(x), 0, "and counts no byte");
  tap_is_str(status_name(td_extract_finish(x)), "empty",
             "a body of zero-length chunks only is empty");
  tap_is_str(status_name(td_extract_finish(x)), "empty",
             "and stays empty when finished again");
}

/* Parses one body at chunk size 1 and returns the OK result's render. */
static void parse_render(td_extract_t *x, const char *body, render_t *r) {
  td_extract_reset(x);
  for (size_t i = 0; body[i]; i++)
    td_extract_feed(x, body + i, 1);
  render(r, td_extract_finish(x), td_extract_info(x));
}

static void check_reset(void) {
  const char *full =
      "{\"id\":\"first-id\",\"email\":\"first@example.com\","
      "\"emailIsVerified\":true,\"organization\":{\"name\":\"First Org\"},"
      "\"reason\":\"first reason\",\"detail\":\"first detail\"}";
  const char *detail_only = "{\"detail\":\"second detail\"}";
  const char *name_only = "{\"name\":\"not an organization\"}";
  const char *want_detail = "status=ok\nid=\nemail=\nemail_verified=-1\n"
                            "org_name=\nreason=second detail\n"
                            "top_is_object=1\n";
  const char *want_name = "status=ok\nid=\nemail=\nemail_verified=-1\n"
                          "org_name=\nreason=\ntop_is_object=1\n";
  const char *want_array = "status=ok\nid=\nemail=\nemail_verified=-1\n"
                           "org_name=\nreason=\ntop_is_object=0\n";
  char too_deep[TD_JSON_MAX_DEPTH + 2];
  memset(too_deep, '[', sizeof(too_deep) - 1);
  too_deep[sizeof(too_deep) - 1] = '\0';
  /* Each case leaves the extractor in some state, then parses a body. */
  const struct {
    const char *what;
    const char *before;
    size_t before_len; /* 0: all of it, then finish */
    const char *after;
    const char *want;
  } cases[] = {
      {"after a full body, the next body starts with no leftovers", full, 0,
       detail_only, want_detail},
      {"after a body cut inside organization, the next has no org name",
       "{\"id\":\"x\",\"organization\":{\"na", 29, name_only, want_name},
      {"after a syntax error, the next body parses cleanly", "{\"id\":]",
       0, detail_only, want_detail},
      {"after a depth error, the next body parses cleanly", too_deep, 0,
       detail_only, want_detail},
      {"after an object, a top-level array is not taken for an object", full,
       0, "[{\"id\":\"in array\"}]", want_array},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_extract_t *x = td_extract_new();
    const char *b = cases[i].before;
    if (cases[i].before_len == 0) {
      td_extract_feed(x, b, strlen(b));
      td_extract_finish(x);
    } else {
      td_extract_feed(x, b, cases[i].before_len);
    }
    tap_is_str(status_name(td_extract_reset(x)), "ok", "reset returns ok");
    tap_is_int((long long)td_extract_bytes(x), 0,
               "reset sets td_extract_bytes back to 0");
    render_t r;
    parse_render(x, cases[i].after, &r);
    if (!tap_is_str(r.text, cases[i].want, "%s", cases[i].what))
      tap_diag("first body: %s", b);
    td_extract_free(x);
  }

  td_extract_t *x = td_extract_new();
  td_extract_feed(x, full, strlen(full));
  td_extract_reset(x);
  tap_is_str(status_name(td_extract_finish(x)), "empty",
             "a reset extractor finished without a byte reports empty");
  td_extract_free(x);
}

static void check_strerror(void) {
  const td_json_status_t all[] = {
      TD_JSON_OK,        TD_JSON_E_SYNTAX, TD_JSON_E_TRUNCATED,
      TD_JSON_E_EMPTY,   TD_JSON_E_DEPTH,  TD_JSON_E_SIZE,
      TD_JSON_E_NOMEM,
  };
  size_t n = sizeof(all) / sizeof(all[0]);
  for (size_t i = 0; i < n; i++) {
    const char *m = td_words_json(all[i]);
    tap_ok(m != NULL && m[0] != '\0',
           "td_words_json(%s) is a non-empty phrase",
           status_name(all[i]));
    int distinct = 1;
    for (size_t j = 0; j < i; j++)
      distinct &= m != NULL && strcmp(m, td_words_json(all[j])) != 0;
    tap_ok(distinct, "td_words_json(%s) differs from the others",
           status_name(all[i]));
  }
  const char *m = td_words_json((td_json_status_t)99);
  tap_ok(m != NULL && m[0] != '\0',
         "td_words_json of an unknown status is still a phrase");
}

int main(int argc, char **argv) {
  char dir[4096];
  if (argc > 2) {
    fprintf(stderr, "usage: %s [DIR-OF-BODIES]\n", argv[0]);
    return 2;
  }
  if (argc == 2) {
    snprintf(dir, sizeof(dir), "%s", argv[1]);
  } else {
    const char *srcdir = getenv("srcdir");
    snprintf(dir, sizeof(dir), "%s/tests/data/bodies",
             srcdir != NULL && srcdir[0] != '\0' ? srcdir : ".");
  }
  check_golden_dir(dir);

  td_extract_t *x = td_extract_new();
  tap_ok(x != NULL, "td_extract_new gives an extractor");
  if (x == NULL)
    return tap_done();
  check_depth(x);
  check_size(x);
  check_sticky(x);
  td_extract_free(x);
  check_reset();
  check_strerror();
  return tap_done();
}
