/* td_poll: one finished poll, as td_answer hands it to the state machines
 * (td_state for users/info, td_orgstate for organizations). Types only:
 * no functions, no I/O. */
#ifndef TD_POLL_H
#define TD_POLL_H

#include "td_extract.h"
#include "td_json.h"
#include "td_orgs.h"
#include "td_shape.h"

/* The phases of one request, each on its own (not cumulative), seconds. */
typedef enum {
  TD_PHASE_DNS,
  TD_PHASE_CONNECT,
  TD_PHASE_TLS,
  TD_PHASE_TTFB,
  TD_PHASE_TRANSFER,
  TD_PHASES
} td_phase_t;

/* libcurl's cumulative marks, seconds from the start of the request. */
typedef enum {
  TD_MARK_NAMELOOKUP,
  TD_MARK_CONNECT,
  TD_MARK_APPCONNECT,
  TD_MARK_PRETRANSFER,
  TD_MARK_STARTTRANSFER,
  TD_MARK_TOTAL,
  TD_MARKS
} td_mark_t;

typedef struct {
  int http_status;      /* 0 when no HTTP answer came */
  const char *error;    /* why the transfer failed; NULL or "" when it did not */
  double response_time; /* seconds, whole request; used when http_status > 0 */
  td_json_status_t body; /* the parser's verdict on the body */
  const td_account_info_t *info; /* a users/info poll's fields, else NULL */
  const td_org_list_t *orgs;     /* an organizations poll's list, else NULL */
  double retry_after;   /* seconds a 429 asked to wait; < 0 when not given */
  double cert_expires;  /* earliest expiry in the server's chain, epoch
                           seconds, as last seen; <= 0 when unknown */
  double phases[TD_PHASES]; /* used when http_status > 0 */
  const td_shape_result_t *shape; /* the answer's shape when asked for
                                     (td_answer_keep_shape), else NULL */
} td_poll_t;

#endif /* TD_POLL_H */
