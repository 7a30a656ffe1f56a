/* td_text: text that came from the network or from an operator, made safe
 * for a log line, a notification or a status line. Owns the one routine
 * that cuts text at a UTF-8 boundary, the one that replaces control
 * characters, and "say it once until it changes". Pure libc; no I/O. */
#ifndef TD_TEXT_H
#define TD_TEXT_H

#include <stdarg.h>
#include <stddef.h>

/* Length of the longest prefix of s[0..len) that ends on a UTF-8
 * character boundary: a cut there never leaves half a character. */
size_t td_text_cut(const char *s, size_t len);

/* Copies text into dst (size bytes with the NUL), cut at max bytes on a
 * UTF-8 boundary, with every character a terminal or a log reader could
 * take for a command replaced by a space: C0 controls and DEL, C1
 * controls (U+0080..U+009F), the line and paragraph separators
 * (U+2028, U+2029) and the bidirectional overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069). NULL text gives "". */
void td_text_clean(char *dst, size_t size, const char *text, size_t max);

/* snprintf into dst; a result cut to fit still ends on a character
 * boundary. Returns dst. */
char *td_text_format(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a part to the text in dst (size bytes with the NUL), with "; "
 * between parts; a part cut to fit still ends on a character boundary. */
void td_text_vappend(char *dst, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* "Once until it changes": remembers the last text said. */
#define TD_TEXT_ONCE_MAX 255
typedef struct {
  char last[TD_TEXT_ONCE_MAX + 1];
} td_text_once_t;

/* Returns 1 when text differs from the one remembered (and remembers it),
 * 0 when it was said already. "" clears: the next text is new again. */
int td_text_once(td_text_once_t *o, const char *text);

#endif /* TD_TEXT_H */
