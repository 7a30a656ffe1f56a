/* td_json: the yajl driver both extractors share. Owns the yajl handle,
 * the byte count and the nesting depth, enforces TD_EXTRACT_MAX_BODY and
 * TD_EXTRACT_MAX_DEPTH, and keeps the first error. Knows no field names. */
#ifndef TD_JSON_H
#define TD_JSON_H

#include <stddef.h>

#include <yajl/yajl_parse.h>

#include "td_extract.h"

typedef struct {
  yajl_handle yh;
  td_extract_status_t err; /* sticky: the first error met */
  size_t bytes;            /* fed since the last reset */
  unsigned depth;          /* open maps and arrays */
  int done;                /* the top-level value is complete */
} td_json_t;

/* Drops the previous body and makes a new yajl handle calling cb with ctx.
 * Returns TD_EXTRACT_OK or TD_EXTRACT_E_NOMEM. j must be zeroed or reset
 * before. */
td_extract_status_t td_json_reset(td_json_t *j, const yajl_callbacks *cb,
                                  void *ctx);
void td_json_free(td_json_t *j);

/* As td_extract_feed and td_extract_finish. */
td_extract_status_t td_json_feed(td_json_t *j, const void *buf, size_t len);
td_extract_status_t td_json_finish(td_json_t *j);

/* Copies the string yajl handed over into dst (max bytes and a NUL),
 * cut back to a UTF-8 character boundary so a kept prefix is still valid
 * text. */
void td_json_keep(char *dst, size_t max, const unsigned char *s, size_t len);

/* For the callbacks, which run for every token of a body (so inline): a
 * map or array opens (0 and a sticky depth error when it would pass
 * TD_EXTRACT_MAX_DEPTH: return that to cancel the parse), a container
 * closes, a scalar was read. */
static inline int td_json_open(td_json_t *j) {
  if (j->depth >= TD_EXTRACT_MAX_DEPTH) {
    j->err = TD_EXTRACT_E_DEPTH;
    return 0;
  }
  j->depth++;
  return 1;
}

static inline void td_json_close(td_json_t *j) {
  if (--j->depth == 0)
    j->done = 1;
}

static inline void td_json_scalar(td_json_t *j) {
  if (j->depth == 0)
    j->done = 1;
}

#endif /* TD_JSON_H */
