/* test_answer: what td_http hands over (header lines, body chunks, how
 * the transfer ended) and the finished poll td_answer makes of it.
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_answer */
#include "td_answer.h"

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

int main(void) {
  check_users();
  check_orgs();
  check_phases();
  return tap_done();
}
