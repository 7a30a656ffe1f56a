/* td_json: the shared, bounded yajl driver. See td_json.h. */
#include "td_json.h"

#include <string.h>

#include "td_text.h"

td_json_status_t td_json_reset(td_json_t *j, const yajl_callbacks *cb,
                                  void *ctx) {
  td_json_free(j);
  memset(j, 0, sizeof(*j));
  j->yh = yajl_alloc(cb, NULL, ctx);
  if (j->yh == NULL)
    j->err = TD_JSON_E_NOMEM;
  return j->err;
}

void td_json_free(td_json_t *j) {
  if (j->yh != NULL)
    yajl_free(j->yh);
  j->yh = NULL;
}

td_json_status_t td_json_feed(td_json_t *j, const void *buf, size_t len) {
  if (j->err != TD_JSON_OK)
    return j->err;
  j->bytes += len;
  if (j->bytes > TD_JSON_MAX_BODY)
    return j->err = TD_JSON_E_SIZE;
  /* A callback that cancelled the parse has set err itself. */
  if (len > 0 && yajl_parse(j->yh, buf, len) != yajl_status_ok &&
      j->err == TD_JSON_OK)
    j->err = TD_JSON_E_SYNTAX;
  return j->err;
}

td_json_status_t td_json_finish(td_json_t *j) {
  if (j->err != TD_JSON_OK)
    return j->err;
  if (j->bytes == 0)
    return j->err = TD_JSON_E_EMPTY;
  if (yajl_complete_parse(j->yh) != yajl_status_ok || !j->done)
    j->err = j->done ? TD_JSON_E_SYNTAX : TD_JSON_E_TRUNCATED;
  return j->err;
}

void td_json_keep(char *dst, size_t max, const unsigned char *s, size_t len) {
  if (len > max)
    len = td_text_cut((const char *)s, max);
  memcpy(dst, s, len);
  dst[len] = '\0';
}
