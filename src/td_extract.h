/* td_extract: picks the few fields the plugin needs out of a users/info
 * answer (or an error body) while the body streams in, chunk by chunk.
 * Owns one td_json driver and a fixed-size result; never allocates from
 * input sizes, never does I/O, never logs and never sees an HTTP status. */
#ifndef TD_EXTRACT_H
#define TD_EXTRACT_H

#include <stddef.h>

#include "td_json.h"

#define TD_EXTRACT_MAX_STRING 255 /* bytes kept of a wanted string */

/* What a body said. Strings are NUL-terminated, cut at
 * TD_EXTRACT_MAX_STRING bytes; "" when absent or of another type. */
typedef struct {
  char id[TD_EXTRACT_MAX_STRING + 1];
  char email[TD_EXTRACT_MAX_STRING + 1];
  char org_name[TD_EXTRACT_MAX_STRING + 1];
  char reason[TD_EXTRACT_MAX_STRING + 1]; /* "reason", else "detail" */
  int email_verified;                     /* 1, 0, or -1 when absent */
  int top_is_object;                      /* 1 when the text is a {...} */
} td_account_info_t;

typedef struct td_extract td_extract_t;

/* Returns a new extractor ready for a body, or NULL when out of memory.
 * The caller frees it with td_extract_free. */
td_extract_t *td_extract_new(void);
void td_extract_free(td_extract_t *x);

/* Forgets the previous body so the extractor can take the next one.
 * Returns TD_JSON_OK or TD_JSON_E_NOMEM. */
td_json_status_t td_extract_reset(td_extract_t *x);

/* Feeds the next chunk. Returns TD_JSON_OK, or the first error met:
 * errors are sticky and every later feed returns the same one. */
td_json_status_t td_extract_feed(td_extract_t *x, const void *buf,
                                    size_t len);

/* Ends the body. Returns TD_JSON_OK when one complete JSON text was
 * read, else the sticky error, TD_JSON_E_EMPTY or TD_JSON_E_TRUNCATED. */
td_json_status_t td_extract_finish(td_extract_t *x);

/* The fields seen so far. Trust them only after td_extract_finish
 * returned TD_JSON_OK. Valid until the next reset or free. */
const td_account_info_t *td_extract_info(const td_extract_t *x);

/* Bytes fed since the last reset (counting the chunk that broke a bound). */
size_t td_extract_bytes(const td_extract_t *x);

#endif /* TD_EXTRACT_H */
