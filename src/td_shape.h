/* td_shape: the structure of an answer without its values, for an
 * operator to compare the real API with what the plugin assumes and to
 * paste anywhere: each key path of the JSON body with the types seen
 * there, array lengths, whether numbers lie within 0..1, the protocol and
 * status of the status line, and the headers that tell about limits and
 * content. No value of the body is kept; a key that does not look like a
 * field name shows as <key>. Bounded like the parsers (td_json's bounds,
 * TD_SHAPE_MAX_*). Pure: fed header lines and body bytes, no I/O. */
#ifndef TD_SHAPE_H
#define TD_SHAPE_H

#include <stddef.h>

#include "td_json.h"

#define TD_SHAPE_MAX_PATHS 64   /* paths kept; later ones are counted */
#define TD_SHAPE_MAX_PATH 127   /* bytes of a path, cut beyond */
#define TD_SHAPE_MAX_KEY 40     /* longer keys show as <key> */
#define TD_SHAPE_MAX_HEADERS 8  /* headers kept */
#define TD_SHAPE_MAX_HEADER 100 /* bytes of "Name: value" kept */
#define TD_SHAPE_MAX_LINE 200   /* bytes of one line td_shape_line writes */

/* JSON types, as bits: a path may see several. */
enum {
  TD_SHAPE_OBJECT = 1 << 0,
  TD_SHAPE_ARRAY = 1 << 1,
  TD_SHAPE_STRING = 1 << 2,
  TD_SHAPE_NUMBER = 1 << 3,
  TD_SHAPE_BOOLEAN = 1 << 4,
  TD_SHAPE_NULL = 1 << 5,
};

typedef struct {
  char path[TD_SHAPE_MAX_PATH + 1]; /* "$", "$.organization.name", "$[].id" */
  unsigned types;                   /* TD_SHAPE_* seen at this path */
  size_t arrays;                    /* arrays that ended here */
  size_t min_len, max_len;          /* and their lengths */
  size_t numbers_above_one;         /* numbers outside 0..1 */
  size_t numbers;                   /* numbers seen */
} td_shape_path_t;

typedef struct {
  char protocol[16]; /* "HTTP/1.1", "HTTP/2"; "" before a status line */
  int status;        /* of the last status line */
  size_t n_headers;
  char headers[TD_SHAPE_MAX_HEADERS][TD_SHAPE_MAX_HEADER + 1];
  td_json_status_t body; /* the parse's verdict, after td_shape_finish */
  size_t count;          /* paths kept */
  size_t dropped;        /* distinct paths beyond TD_SHAPE_MAX_PATHS */
  td_shape_path_t paths[TD_SHAPE_MAX_PATHS]; /* in order of first sight */
} td_shape_result_t;

typedef struct td_shape td_shape_t;

/* Returns a new recorder, or NULL when out of memory. */
td_shape_t *td_shape_new(void);
void td_shape_free(td_shape_t *s);

/* Forgets the previous answer. TD_JSON_OK or TD_JSON_E_NOMEM. */
td_json_status_t td_shape_reset(td_shape_t *s);

/* One header line as received: a status line starts a new answer's
 * headers (a proxy's or a 100 Continue comes first); Content-Type,
 * Retry-After and any name with "ratelimit" or "rate-limit" in it are
 * kept, cleaned and cut. */
void td_shape_header(td_shape_t *s, const char *line, size_t len);

/* The body, chunk by chunk, then its end. Errors are sticky and kept in
 * the result's body; what was seen before one stays. */
void td_shape_feed(td_shape_t *s, const void *buf, size_t len);
void td_shape_finish(td_shape_t *s);

/* What was recorded; valid until the next reset. */
const td_shape_result_t *td_shape_result(const td_shape_t *s);

/* Path i as one line: "$.apps array (length 3)", "$.usage number (within
 * 0..1)", "$.receiveReports string|null". */
void td_shape_line(const td_shape_path_t *p, char *dst, size_t size);

#endif /* TD_SHAPE_H */
