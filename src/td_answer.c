/* td_answer: from delivered bytes to a finished poll. See td_answer.h. */
#include "td_answer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "td_text.h"
#include "td_time.h"

struct td_answer {
  td_answer_kind_t kind;
  td_extract_t *user; /* kind TD_ANSWER_USER */
  td_orgs_t *orgs;    /* kind TD_ANSWER_ORGS */
  td_shape_t *shape;  /* NULL unless td_answer_keep_shape */
  int stopped;        /* we asked the transfer to stop: too large */
  double retry_after; /* from Retry-After, < 0: none */
  char error[TD_VERDICT_MAX_ERROR + 1];
};

td_answer_t *td_answer_new(td_answer_kind_t kind) {
  td_answer_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->kind = kind;
  if (kind == TD_ANSWER_ORGS)
    a->orgs = td_orgs_new();
  else
    a->user = td_extract_new();
  if (a->user == NULL && a->orgs == NULL) {
    free(a);
    return NULL;
  }
  a->retry_after = -1;
  return a;
}

void td_answer_free(td_answer_t *a) {
  if (a == NULL)
    return;
  td_extract_free(a->user);
  td_orgs_free(a->orgs);
  td_shape_free(a->shape);
  free(a);
}

int td_answer_keep_shape(td_answer_t *a) {
  if (a->shape == NULL)
    a->shape = td_shape_new();
  return a->shape != NULL ? 0 : -1;
}

td_json_status_t td_answer_begin(td_answer_t *a) {
  a->stopped = 0;
  a->retry_after = -1;
  a->error[0] = '\0';
  if (a->shape != NULL && td_shape_reset(a->shape) != TD_JSON_OK)
    return TD_JSON_E_NOMEM;
  return a->orgs != NULL ? td_orgs_reset(a->orgs) : td_extract_reset(a->user);
}

/* The value of header line (len bytes) if it is header name (lower case,
 * with its colon), copied into dst; NULL otherwise or when too long for
 * any valid value. */
static const char *header_value(const char *line, size_t len,
                                const char *name, char *dst, size_t size) {
  size_t nlen = strlen(name);
  if (len <= nlen || strncasecmp(line, name, nlen) != 0)
    return NULL;
  size_t vlen = len - nlen;
  if (vlen >= size)
    return NULL;
  memcpy(dst, line + nlen, vlen);
  dst[vlen] = '\0';
  return dst;
}

/* A Content-Length that is a number and passes the bound. */
static int too_long(const char *value) {
  char *end;
  while (*value == ' ' || *value == '\t')
    value++;
  unsigned long long n = strtoull(value, &end, 10);
  return end != value && (*value >= '0' && *value <= '9') &&
         n > (unsigned long long)TD_JSON_MAX_BODY;
}

int td_answer_header(td_answer_t *a, const char *line, size_t len,
                     double now) {
  char value[64];
  double wait;
  if (a->shape != NULL)
    td_shape_header(a->shape, line, len);
  /* A new status line (after 1xx) starts a new set of headers. */
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    a->retry_after = -1;
    return 0;
  }
  if (header_value(line, len, "retry-after:", value, sizeof(value)) &&
      td_time_parse_retry_after(value, now, &wait) == 0)
    a->retry_after = wait;
  if (header_value(line, len, "content-length:", value, sizeof(value)) &&
      too_long(value)) {
    a->stopped = 1;
    return -1;
  }
  return 0;
}

int td_answer_body(td_answer_t *a, const void *data, size_t len) {
  if (a->shape != NULL)
    td_shape_feed(a->shape, data, len);
  td_json_status_t st = a->orgs != NULL ? td_orgs_feed(a->orgs, data, len)
                                        : td_extract_feed(a->user, data, len);
  if (st == TD_JSON_E_SIZE) {
    a->stopped = 1;
    return -1;
  }
  return 0;
}

void td_answer_phases(const double marks[TD_MARKS], double phases[TD_PHASES]) {
  /* A reused connection has no connect mark: nothing before the request
   * happened, whatever tiny lookup time libcurl still reports. */
  int fresh = marks[TD_MARK_CONNECT] > 0;
  double looked_up = fresh ? marks[TD_MARK_NAMELOOKUP] : 0;
  double connected = fresh ? marks[TD_MARK_CONNECT] : 0;
  double secured =
      fresh && marks[TD_MARK_APPCONNECT] > 0 ? marks[TD_MARK_APPCONNECT]
                                             : connected;
  double sent = marks[TD_MARK_PRETRANSFER] > secured
                    ? marks[TD_MARK_PRETRANSFER]
                    : secured;
  double first = marks[TD_MARK_STARTTRANSFER] > sent
                     ? marks[TD_MARK_STARTTRANSFER]
                     : sent;
  double spans[TD_PHASES] = {
      [TD_PHASE_DNS] = looked_up,
      [TD_PHASE_CONNECT] = connected - looked_up,
      [TD_PHASE_TLS] = secured - connected,
      [TD_PHASE_TTFB] = first - sent,
      [TD_PHASE_TRANSFER] = marks[TD_MARK_TOTAL] - first,
  };
  for (int i = 0; i < TD_PHASES; i++)
    phases[i] = spans[i] > 0 ? spans[i] : 0;
}

void td_answer_finish(td_answer_t *a, const td_answer_end_t *end,
                      td_poll_t *poll) {
  td_json_status_t body = a->orgs != NULL ? td_orgs_finish(a->orgs)
                                          : td_extract_finish(a->user);
  /* A body we refused is the server's answer being too big, not a broken
   * network: the poll has an answer, with an unusable body. */
  if (a->stopped)
    body = TD_JSON_E_SIZE;
  if (end->how == TD_END_FAILED && !a->stopped)
    td_text_format(a->error, sizeof(a->error), "%s",
                   end->error != NULL && end->error[0] != '\0'
                       ? end->error
                       : "the transfer failed");
  memset(poll, 0, sizeof(*poll));
  poll->http_status = end->http_status;
  poll->error = a->error;
  poll->response_time = end->marks[TD_MARK_TOTAL];
  poll->body = body;
  poll->info = a->user != NULL ? td_extract_info(a->user) : NULL;
  poll->orgs = a->orgs != NULL ? td_orgs_list(a->orgs) : NULL;
  poll->retry_after = a->retry_after;
  poll->cert_expires = end->cert_expires;
  td_answer_phases(end->marks, poll->phases);
  if (a->shape != NULL) {
    td_shape_finish(a->shape);
    poll->shape = td_shape_result(a->shape);
  }
}
