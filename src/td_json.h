/* td_json: the yajl driver both extractors share. Owns the yajl handle,
 * the byte count and the nesting depth, enforces TD_JSON_MAX_BODY and
 * TD_JSON_MAX_DEPTH, and keeps the first error. Knows no field names. */
#ifndef TD_JSON_H
#define TD_JSON_H

#include <stddef.h>

#include <yajl/yajl_parse.h>

/* Named bounds. A body beyond any of them stops the parse with an error.
 * (bench/unbounded.h raises TD_JSON_MAX_BODY for a throughput run.) */
#define TD_JSON_MAX_BODY (256 * 1024) /* bytes fed in total */
#define TD_JSON_MAX_DEPTH 64          /* nested maps and arrays */

typedef enum {
  TD_JSON_OK = 0,
  TD_JSON_E_SYNTAX,    /* not JSON: malformed, bad UTF-8, raw control */
  TD_JSON_E_TRUNCATED, /* the body ended before the JSON text did */
  TD_JSON_E_EMPTY,     /* no byte at all */
  TD_JSON_E_DEPTH,     /* nesting beyond TD_JSON_MAX_DEPTH */
  TD_JSON_E_SIZE,      /* body beyond TD_JSON_MAX_BODY */
  TD_JSON_E_NOMEM,     /* yajl could not allocate */
} td_json_status_t;

typedef struct {
  yajl_handle yh;
  td_json_status_t err; /* sticky: the first error met */
  size_t bytes;            /* fed since the last reset */
  unsigned depth;          /* open maps and arrays */
  int done;                /* the top-level value is complete */
} td_json_t;

/* The callback table of an extractor that names its callbacks on_null,
 * on_boolean, on_number, on_string, on_start_map, on_map_key,
 * on_start_array and on_end (for both ends), as each of ours does. */
#define TD_JSON_CALLBACKS                                                      \
  {                                                                            \
    .yajl_null = on_null, .yajl_boolean = on_boolean,                          \
    .yajl_number = on_number, .yajl_string = on_string,                        \
    .yajl_start_map = on_start_map, .yajl_map_key = on_map_key,                \
    .yajl_end_map = on_end, .yajl_start_array = on_start_array,                \
    .yajl_end_array = on_end,                                                  \
  }

/* Drops the previous body and makes a new yajl handle calling cb with ctx.
 * Returns TD_JSON_OK or TD_JSON_E_NOMEM. j must be zeroed or reset
 * before. */
td_json_status_t td_json_reset(td_json_t *j, const yajl_callbacks *cb,
                                  void *ctx);
void td_json_free(td_json_t *j);

/* Feeds the next chunk: TD_JSON_OK or the first error met (sticky). */
td_json_status_t td_json_feed(td_json_t *j, const void *buf, size_t len);
/* Ends the body: TD_JSON_OK when one complete JSON text was read, else
 * the sticky error, TD_JSON_E_EMPTY or TD_JSON_E_TRUNCATED. */
td_json_status_t td_json_finish(td_json_t *j);

/* Copies the string yajl handed over into dst (max bytes and a NUL),
 * cut back to a UTF-8 character boundary (td_text_cut) so a kept prefix
 * is still valid text. */
void td_json_keep(char *dst, size_t max, const unsigned char *s, size_t len);

/* For the callbacks, which run for every token of a body (so inline): a
 * map or array opens (0 and a sticky depth error when it would pass
 * TD_JSON_MAX_DEPTH: return that to cancel the parse), a container
 * closes, a scalar was read. */
static inline int td_json_open(td_json_t *j) {
  if (j->depth >= TD_JSON_MAX_DEPTH) {
    j->err = TD_JSON_E_DEPTH;
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
