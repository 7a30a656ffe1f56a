/* test_answer: what td_http hands over (header lines, body chunks, how
 * the transfer ended) and the finished poll td_answer makes of it.
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_answer */
#include "td_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define NOW 1800000000.0
#define BODY "{\"id\":\"BADA55\",\"email\":\"you@example.com\"}"

/* One transfer: headers (NULL-terminated list), then the body in chunks
 * of chunk bytes, then the end. Returns how many callbacks asked to stop. */
static int transfer(td_answer_t *a, const char *const *headers,
                    const char *body, size_t body_len, size_t chunk,
                    td_answer_end_t *end, td_poll_t *poll) {
  int stops = 0;
  if (td_answer_begin(a) != TD_JSON_OK)
    return -1;
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
    stops += td_answer_header(a, headers[i], strlen(headers[i]), NOW) != 0;
  for (size_t off = 0; stops == 0 && off < body_len; off += chunk) {
    size_t n = body_len - off < chunk ? body_len - off : chunk;
    stops += td_answer_body(a, body + off, n) != 0;
  }
  if (stops && end->how == TD_END_OK)
    end->how = TD_END_STOPPED;
  td_answer_finish(a, end, poll);
  return stops;
}

static void check_users(void) {
  td_answer_t *a = td_answer_new(TD_ANSWER_USER);
  td_poll_t p;
  const char *const plain[] = {"HTTP/1.1 200 OK\r\n",
                               "Content-Type: application/json\r\n", NULL};
  for (size_t chunk = 1; chunk <= sizeof(BODY); chunk++) {
    td_answer_end_t end = {.how = TD_END_OK, .http_status = 200};
    end.marks[TD_MARK_TOTAL] = 0.25;
    transfer(a, plain, BODY, strlen(BODY), chunk, &end, &p);
    if (!tap_ok(p.body == TD_JSON_OK && strcmp(p.info->id, "BADA55") == 0 &&
                    p.orgs == NULL && p.error[0] == '\0' &&
                    p.response_time == 0.25,
                "a 200 in chunks of %zu bytes gives the account", chunk))
      break;
  }

  const char *const retry[] = {"HTTP/1.1 429 Too Many Requests\r\n",
                               "retry-after:  120 \r\n", NULL};
  td_answer_end_t end = {.how = TD_END_OK, .http_status = 429};
  transfer(a, retry, "", 0, 1, &end, &p);
  tap_is_double(p.retry_after, 120, 0, "Retry-After (any case) is read");
  const char *const two[] = {"HTTP/1.1 100 Continue\r\n", "Retry-After: 5\r\n",
                             "HTTP/1.1 200 OK\r\n", NULL};
  transfer(a, two, BODY, strlen(BODY), 7, &end, &p);
  tap_is_double(p.retry_after, -1, 0,
                "a header before a later status line is forgotten");

  const char *const big[] = {"HTTP/1.1 200 OK\r\n",
                             "Content-Length: 262145\r\n", NULL};
  end = (td_answer_end_t){.how = TD_END_OK, .http_status = 200};
  int stops = transfer(a, big, BODY, strlen(BODY), 7, &end, &p);
  tap_ok(stops == 1 && p.body == TD_JSON_E_SIZE && p.error[0] == '\0',
         "a Content-Length past TD_JSON_MAX_BODY stops the transfer at once: "
         "an answer too large, not a network failure");
  const char *const fits[] = {"HTTP/1.1 200 OK\r\n",
                              "Content-Length: 262144\r\n", NULL};
  end = (td_answer_end_t){.how = TD_END_OK, .http_status = 200};
  tap_is_int(transfer(a, fits, BODY, strlen(BODY), 7, &end, &p), 0,
             "a Content-Length at the bound does not stop it");

  size_t n = TD_JSON_MAX_BODY + 10;
  char *pad = malloc(n);
  memset(pad, ' ', n);
  pad[0] = '{';
  end = (td_answer_end_t){.how = TD_END_OK, .http_status = 200};
  stops = transfer(a, plain, pad, n, 4096, &end, &p);
  tap_ok(stops == 1 && p.body == TD_JSON_E_SIZE,
         "a chunked body past the bound is stopped where it passes it");
  free(pad);

  end = (td_answer_end_t){.how = TD_END_FAILED, .http_status = 200,
                          .error = "connection reset by the server"};
  transfer(a, plain, "{\"id\":", 6, 3, &end, &p);
  tap_ok(p.http_status == 200 && strcmp(p.error, end.error) == 0 &&
             p.body == TD_JSON_E_TRUNCATED,
         "a transfer that broke off keeps its status, error and cut body");
  end = (td_answer_end_t){.how = TD_END_FAILED, .error = ""};
  transfer(a, NULL, "", 0, 1, &end, &p);
  tap_ok(p.error[0] != '\0', "a failure without words still says it failed");
  td_answer_free(a);
}

static void check_orgs(void) {
  td_answer_t *a = td_answer_new(TD_ANSWER_ORGS);
  td_poll_t p;
  static const char body[] =
      "[{\"id\":\"A\",\"name\":\"Acme\",\"usagePercentage\":12.5}]";
  td_answer_end_t end = {.how = TD_END_OK, .http_status = 200};
  transfer(a, NULL, body, strlen(body), 5, &end, &p);
  tap_ok(p.orgs != NULL && p.info == NULL && p.orgs->count == 1 &&
             strcmp(p.orgs->orgs[0].id, "A") == 0,
         "an organizations answer gives the list, with ids");
  td_answer_free(a);
}

static void check_phases(void) {
  const struct {
    const char *what;
    double marks[TD_MARKS];
    double want[TD_PHASES];
  } cases[] = {
      {"a new TLS connection", {0.001, 0.002, 0.010, 0.011, 0.020, 0.021},
       {0.001, 0.001, 0.008, 0.009, 0.001}},
      {"a reused connection", {0.00002, 0, 0, 0.0001, 0.0002, 0.0003},
       {0, 0, 0, 0.0001, 0.0001}},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double got[TD_PHASES];
    td_answer_phases(cases[i].marks, got);
    int same = 1;
    for (int k = 0; k < TD_PHASES; k++)
      same &= got[k] > cases[i].want[k] - 1e-9 && got[k] < cases[i].want[k] + 1e-9;
    tap_ok(same, "td_answer_phases: %s", cases[i].what);
  }
}

/* The shape of an answer (telemetrydeck-check --shape): goldens of every
 * line it prints, the same at every chunk size, and never a value. */
static void render_shape(const td_shape_result_t *r, char *dst, size_t size) {
  char line[TD_SHAPE_MAX_LINE + 1];
  snprintf(dst, size, "%s %d\n", r->protocol, r->status);
  for (size_t i = 0; i < r->n_headers; i++)
    snprintf(dst + strlen(dst), size - strlen(dst), "header %s\n",
             r->headers[i]);
  for (size_t i = 0; i < r->count; i++) {
    td_shape_line(&r->paths[i], line, sizeof(line));
    snprintf(dst + strlen(dst), size - strlen(dst), "%s\n", line);
  }
  if (r->dropped > 0)
    snprintf(dst + strlen(dst), size - strlen(dst), "dropped %zu\n",
             r->dropped);
  snprintf(dst + strlen(dst), size - strlen(dst), "body %d\n", (int)r->body);
}

static void check_shape(void) {
  static const char *const h200[] = {"HTTP/1.1 200 OK\r\n",
                                     "Content-Type: application/json\r\n",
                                     "Set-Cookie: session=SECRETCOOKIE\r\n",
                                     "X-RateLimit-Remaining: 99\r\n", NULL};
  static const char *const h2_429[] = {
      "HTTP/1.1 200 Connection established\r\n",
      "Retry-After: 1\r\n",
      "\r\n",
      "HTTP/2 429 \r\n",
      "retry-after: 30\r\n",
      "RateLimit-Reset: 30\r\n",
      NULL};
  static const struct {
    const char *what;
    td_answer_kind_t kind;
    const char *const *headers;
    const char *body;
    const char *want;
  } cases[] = {
      {"a users/info answer: paths and types, no value", TD_ANSWER_USER, h200,
       "{\"id\":\"6F1E8A84-0C1D\",\"email\":\"you@example.com\","
       "\"emailIsVerified\":true,\"organization\":{\"name\":\"Acme\"},"
       "\"receiveReports\":null}",
       "HTTP/1.1 200\n"
       "header Content-Type: application/json\n"
       "header X-RateLimit-Remaining: 99\n"
       "$ object\n$.id string\n$.email string\n$.emailIsVerified boolean\n"
       "$.organization object\n$.organization.name string\n"
       "$.receiveReports null\nbody 0\n"},
      {"organizations: array lengths, types merged, the 0..1 range",
       TD_ANSWER_ORGS, h200,
       "[{\"name\":\"A\",\"usagePercentage\":0.25,\"apps\":[5,6,7]},"
       "{\"name\":null,\"usagePercentage\":0.9,\"apps\":[]}]",
       "HTTP/1.1 200\n"
       "header Content-Type: application/json\n"
       "header X-RateLimit-Remaining: 99\n"
       "$ array (length 2)\n$[] object\n$[].name string|null\n"
       "$[].usagePercentage number (within 0..1)\n"
       "$[].apps array (length 0..3)\n$[].apps[] number (outside 0..1)\n"
       "body 0\n"},
      {"percents and fractions mixed, nested arrays", TD_ANSWER_ORGS, h200,
       "{\"organizations\":[{\"usagePercentage\":42.5},"
       "{\"usagePercentage\":1}],\"m\":[[true],[]]}",
       "HTTP/1.1 200\n"
       "header Content-Type: application/json\n"
       "header X-RateLimit-Remaining: 99\n"
       "$ object\n$.organizations array (length 2)\n$.organizations[] object\n"
       "$.organizations[].usagePercentage number (within and outside 0..1)\n"
       "$.m array (length 2)\n$.m[] array (length 0..1)\n$.m[][] boolean\n"
       "body 0\n"},
      {"keys that look like data show as <key>", TD_ANSWER_USER, h200,
       "{\"you@example.com\":1,\"6F1E8A84\":{\"ok\":2},\"a b\":3,"
       "\"ok_key-2\":4}",
       "HTTP/1.1 200\n"
       "header Content-Type: application/json\n"
       "header X-RateLimit-Remaining: 99\n"
       "$ object\n$.<key> object|number (within and outside 0..1)\n$.<key>.ok "
       "number "
       "(outside 0..1)\n$.ok_key-2 number (outside 0..1)\nbody 0\n"},
      {"the last answer's status line and headers, after a proxy's",
       TD_ANSWER_USER, h2_429, "{\"error\":true,\"reason\":\"Slow down\"}",
       "HTTP/2 429\nheader retry-after: 30\nheader RateLimit-Reset: 30\n"
       "$ object\n$.error boolean\n$.reason string\nbody 0\n"},
      {"a broken body: what came before, and the parse's verdict",
       TD_ANSWER_USER, h200, "{\"id\":\"x\",,}",
       "HTTP/1.1 200\n"
       "header Content-Type: application/json\n"
       "header X-RateLimit-Remaining: 99\n"
       "$ object\n$.id string\nbody 1\n"},
  };
  char got[4096];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_answer_t *a = td_answer_new(cases[i].kind);
    size_t len = strlen(cases[i].body);
    int same = 1;
    char first[4096] = "";
    if (a == NULL || td_answer_keep_shape(a) != 0) {
      tap_ok(0, "%s: td_answer_keep_shape", cases[i].what);
      td_answer_free(a);
      continue;
    }
    for (size_t chunk = 1; chunk <= len; chunk++) {
      td_answer_end_t end = {.how = TD_END_OK, .http_status = 200};
      td_poll_t p;
      transfer(a, cases[i].headers, cases[i].body, len, chunk, &end, &p);
      render_shape(p.shape, got, sizeof(got));
      if (chunk == 1)
        snprintf(first, sizeof(first), "%s", got);
      same &= strcmp(got, first) == 0;
    }
    tap_is_str(first, cases[i].want, "shape: %s", cases[i].what);
    tap_ok(same, "shape: %s: the same at every chunk size", cases[i].what);
    tap_ok(strstr(first, "example.com") == NULL &&
               strstr(first, "SECRETCOOKIE") == NULL &&
               strstr(first, "Acme") == NULL &&
               strstr(first, "6F1E8A84") == NULL &&
               strstr(first, "Slow down") == NULL,
           "shape: %s: no value of the body, no other header", cases[i].what);
    td_answer_free(a);
  }

  /* Bounded: 100 distinct keys keep TD_SHAPE_MAX_PATHS paths. */
  static char wide[4096];
  strcpy(wide, "{");
  for (int k = 0; k < 100; k++)
    snprintf(wide + strlen(wide), sizeof(wide) - strlen(wide), "%s\"k%d\":0",
             k ? "," : "", k);
  strcat(wide, "}");
  td_answer_t *a = td_answer_new(TD_ANSWER_USER);
  td_answer_keep_shape(a);
  td_answer_end_t end = {.how = TD_END_OK, .http_status = 200};
  td_poll_t p;
  transfer(a, h200, wide, strlen(wide), 64, &end, &p);
  tap_ok(p.shape->count == TD_SHAPE_MAX_PATHS &&
             p.shape->dropped == 101 - TD_SHAPE_MAX_PATHS,
         "100 keys: %d paths kept, the rest counted (%zu kept, %zu left out)",
         TD_SHAPE_MAX_PATHS, p.shape->count, p.shape->dropped);
  /* Deep: the depth bound holds, the path is cut, nothing overflows. */
  static char deep[2 * TD_JSON_MAX_DEPTH * 12 + 16];
  deep[0] = '\0';
  for (int k = 0; k < TD_JSON_MAX_DEPTH + 2; k++)
    strcat(deep, "{\"abcdefgh\":");
  transfer(a, h200, deep, strlen(deep), 5, &end, &p);
  tap_ok(p.shape->body == TD_JSON_E_DEPTH &&
             strlen(p.shape->paths[p.shape->count - 1].path) <=
                 TD_SHAPE_MAX_PATH,
         "nesting past TD_JSON_MAX_DEPTH: the depth error, paths cut at "
         "TD_SHAPE_MAX_PATH bytes");
  td_answer_free(a);

  /* Without td_answer_keep_shape, no shape. */
  a = td_answer_new(TD_ANSWER_USER);
  transfer(a, h200, BODY, strlen(BODY), 8, &end, &p);
  tap_ok(p.shape == NULL, "no shape unless asked for");
  td_answer_free(a);
}

int main(void) {
  check_users();
  check_orgs();
  check_phases();
  check_shape();
  return tap_done();
}
