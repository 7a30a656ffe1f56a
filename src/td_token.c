/* td_token: reading and judging a token. See td_token.h. */
#include "td_token.h"

#include <string.h>
#include <sys/stat.h>

#define WHITE " \t\r\n\v\f"

/* Trims and judges the len bytes in t->text (which may hold NULs). */
static td_token_status_t judge(td_token_t *t, size_t len) {
  char *s = t->text;
  while (len > 0 && s[len - 1] != '\0' && strchr(WHITE, s[len - 1]) != NULL)
    len--;
  size_t lead = 0;
  while (lead < len && s[lead] != '\0' && strchr(WHITE, s[lead]) != NULL)
    lead++;
  memmove(s, s + lead, len - lead);
  len -= lead;
  memset(s + len, 0, sizeof(t->text) - len);
  if (len == 0)
    return TD_TOKEN_E_EMPTY;
  if (len > TD_TOKEN_MAX)
    return TD_TOKEN_E_TOO_LONG;
  /* It goes into an HTTP header, and every TelemetryDeck token (tdpat_...
   * or an older base64 one) is printable ASCII: no space, no control
   * character, no NUL, no byte above 0x7e. */
  int wide = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c == 0x7f)
      return TD_TOKEN_E_CONTROL;
    wide |= c > 0x7f;
  }
  return wide ? TD_TOKEN_E_NOT_ASCII : TD_TOKEN_OK;
}

td_token_status_t td_token_from_text(td_token_t *t, const char *text) {
  memset(t, 0, sizeof(*t));
  size_t len = strnlen(text, sizeof(t->text));
  if (len >= sizeof(t->text))
    return TD_TOKEN_E_TOO_LONG;
  memcpy(t->text, text, len);
  td_token_status_t st = judge(t, len);
  if (st != TD_TOKEN_OK)
    td_token_wipe(t);
  return st;
}

td_token_status_t td_token_from_file(td_token_t *t, const char *path) {
  size_t len;
  memset(t, 0, sizeof(*t));
  td_file_around(path, &t->around);
  t->file_status =
      td_file_read(path, t->text, sizeof(t->text), &len, &t->file);
  if (t->file_status == TD_FILE_E_TOO_LARGE)
    return TD_TOKEN_E_TOO_LONG;
  if (t->file_status != TD_FILE_OK)
    return TD_TOKEN_E_FILE;
  td_token_status_t st = judge(t, len);
  if (st == TD_TOKEN_OK && t->around.is_link && t->around.link_uid != 0 &&
      t->around.link_uid != t->file.uid)
    st = TD_TOKEN_E_LINK_OWNER;
  if (st != TD_TOKEN_OK)
    td_token_wipe(t);
  return st;
}

int td_token_file_is_open(const td_token_t *t) {
  return (t->file.mode & 077) != 0;
}

/* ssh's rule: the daemon's user or root, nobody else. */
static int trusted(uid_t owner, uid_t euid) {
  return owner == euid || owner == 0;
}

td_token_trust_t td_token_file_trust(const td_token_t *t, uid_t euid) {
  if (!trusted(t->file.uid, euid))
    return TD_TOKEN_TRUST_FILE_OWNER;
  if ((t->file.mode & 022) != 0)
    return TD_TOKEN_TRUST_FILE_WRITABLE;
  if (t->around.has_dir && !trusted(t->around.dir_uid, euid))
    return TD_TOKEN_TRUST_DIR_OWNER;
  if (t->around.has_dir && (t->around.dir_mode & 022) != 0)
    return TD_TOKEN_TRUST_DIR_WRITABLE;
  return TD_TOKEN_TRUST_OK;
}

int td_token_has_prefix(const td_token_t *t) {
  return strncmp(t->text, "tdpat_", 6) == 0;
}

void td_token_wipe(td_token_t *t) {
  explicit_bzero(t->text, sizeof(t->text));
}
