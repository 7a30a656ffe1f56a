/* td_answer: turns what a transfer delivered (status, the headers that
 * matter, the body bytes as they come, how the transfer ended) into one
 * finished td_poll_t. Owns the body's parser (td_extract or td_orgs), the
 * size bound and the mapping of a refused body to TD_JSON_E_SIZE. Pure:
 * no curl, no clock (now is an argument), no I/O; the HTTP layer only
 * ferries bytes here, and the fuzz targets drive this very code. */
#ifndef TD_ANSWER_H
#define TD_ANSWER_H

#include <stddef.h>

#include "td_poll.h"
#include "td_verdict.h" /* TD_VERDICT_MAX_ERROR: the error text kept */

typedef enum {
  TD_ANSWER_USER, /* a users/info answer (td_extract) */
  TD_ANSWER_ORGS, /* an organizations list (td_orgs) */
} td_answer_kind_t;

/* How the transfer ended, as the HTTP layer saw it. */
typedef enum {
  TD_END_OK,      /* complete */
  TD_END_STOPPED, /* a header or body callback here asked to stop */
  TD_END_FAILED,  /* anything else; error says why */
} td_end_how_t;

typedef struct {
  td_end_how_t how;
  int http_status;    /* 0 when no HTTP answer came */
  const char *error;  /* TD_END_FAILED: why, in the HTTP layer's words */
  double marks[TD_MARKS];
  double cert_expires; /* <= 0 when unknown */
} td_answer_end_t;

typedef struct td_answer td_answer_t;

/* Returns a new answer of that kind, or NULL when out of memory. */
td_answer_t *td_answer_new(td_answer_kind_t kind);
void td_answer_free(td_answer_t *a);

/* Also records each answer's shape (td_shape) into poll->shape, for
 * telemetrydeck-check --shape. Returns 0, or -1 when out of memory. */
int td_answer_keep_shape(td_answer_t *a);

/* Readies the answer for the next transfer. TD_JSON_OK or
 * TD_JSON_E_NOMEM. */
td_json_status_t td_answer_begin(td_answer_t *a);

/* One header line as received ("Name: value\r\n", or a status line).
 * Reads Retry-After (at time now, epoch seconds) and Content-Length.
 * Returns 0, or -1 when the transfer must stop: the announced body is
 * larger than TD_JSON_MAX_BODY. */
int td_answer_header(td_answer_t *a, const char *line, size_t len,
                     double now);

/* The next chunk of the body. Returns 0, or -1 when the transfer must
 * stop: the body passed TD_JSON_MAX_BODY. Other broken bodies return 0 so
 * that the connection is read to its end and stays usable. */
int td_answer_body(td_answer_t *a, const void *data, size_t len);

/* Ends the transfer and fills *poll, which points into a until the next
 * td_answer_begin or td_answer_free. */
void td_answer_finish(td_answer_t *a, const td_answer_end_t *end,
                      td_poll_t *poll);

/* Splits libcurl's cumulative marks into separate phases. Phases that did
 * not happen (no new connection: no DNS, connect or TLS) are 0; so is any
 * phase the marks would make negative. */
void td_answer_phases(const double marks[TD_MARKS], double phases[TD_PHASES]);

#endif /* TD_ANSWER_H */
