/* td_text: safe text for logs, notifications and status lines. See
 * td_text.h. */
#include "td_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t td_text_cut(const char *s, size_t len) {
  size_t i = len;
  /* Back over continuation bytes to the start of the last character. */
  while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
    i--;
  if (i == 0)
    return len; /* no lead byte: nothing to keep whole */
  unsigned char lead = (unsigned char)s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return len - (i - 1) < need ? i - 1 : len;
}

/* Bytes of the dangerous character at p (n bytes left), or 0. */
static size_t control_at(const unsigned char *p, size_t n) {
  if (p[0] < 0x20 || p[0] == 0x7f)
    return 1;
  if (p[0] == 0xC2 && n >= 2 && p[1] >= 0x80 && p[1] <= 0x9F)
    return 2; /* C1 */
  if (p[0] == 0xE2 && n >= 3 && p[1] == 0x80 && p[2] >= 0xA8 && p[2] <= 0xAE)
    return 3; /* U+2028, U+2029, U+202A..U+202E */
  if (p[0] == 0xE2 && n >= 3 && p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9)
    return 3; /* U+2066..U+2069 */
  return 0;
}

void td_text_clean(char *dst, size_t size, const char *text, size_t max) {
  if (size == 0)
    return;
  if (text == NULL)
    text = "";
  if (max > size - 1)
    max = size - 1;
  size_t len = strnlen(text, max + 1);
  if (len > max)
    len = td_text_cut(text, max);
  size_t in = 0, out = 0;
  while (in < len) {
    size_t bad = control_at((const unsigned char *)text + in, len - in);
    if (bad > 0) {
      dst[out++] = ' ';
      in += bad;
    } else {
      dst[out++] = text[in++];
    }
  }
  dst[out] = '\0';
}

char *td_text_format(char *dst, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(dst, size, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n >= size && size > 1)
    dst[td_text_cut(dst, size - 1)] = '\0';
  return dst;
}

void td_text_vappend(char *dst, size_t size, const char *fmt, va_list ap) {
  size_t len = strnlen(dst, size);
  if (len > 0 && len + 3 < size) {
    memcpy(dst + len, "; ", 3);
    len += 2;
  } else if (len > 0 || size == 0) {
    return; /* no room for a separator and a character */
  }
  int n = vsnprintf(dst + len, size - len, fmt, ap);
  if (n >= 0 && (size_t)n >= size - len)
    dst[len + td_text_cut(dst + len, size - len - 1)] = '\0';
}

int td_text_once(td_text_once_t *o, const char *text) {
  char now[sizeof(o->last)];
  size_t len = td_text_cut(text, strnlen(text, sizeof(now) - 1));
  memcpy(now, text, len);
  now[len] = '\0';
  if (strcmp(now, o->last) == 0)
    return 0;
  memcpy(o->last, now, len + 1);
  return now[0] != '\0';
}
