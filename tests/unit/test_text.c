/* test_text: the one text cleaner, the one UTF-8 cut and "once until it
 * changes", by tables.
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_text */
#include "td_text.h"

#include <stdarg.h>

#include <string.h>

#include "tap.h"

static void check_clean(void) {
  const struct {
    const char *what, *in;
    size_t max;
    const char *want;
  } cases[] = {
      {"plain text passes", "User not authenticated.", 100,
       "User not authenticated."},
      {"C0 controls and DEL become spaces", "a\nb\tc\x1b[2J\x7f", 100,
       "a b c [2J "},
      {"C1 controls (U+0085 NEL, U+009B CSI) become one space each",
       "a\xc2\x85z\xc2\x9b" "1m", 100, "a z 1m"},
      {"line and paragraph separators", "a\xe2\x80\xa8z\xe2\x80\xa9", 100,
       "a z "},
      {"bidi overrides U+202A..U+202E", "\xe2\x80\xaa\xe2\x80\xae" "evil", 100,
       "  evil"},
      {"bidi isolates U+2066..U+2069",
       "\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9ok", 100, "    ok"},
      {"letters next to them stay: U+00A0, U+2030, U+2065 are not controls",
       "\xc2\xa0\xe2\x80\xb0\xe2\x81\xa5", 100,
       "\xc2\xa0\xe2\x80\xb0\xe2\x81\xa5"},
      {"a cut never splits a character", "\xc3\xa9\xc3\xa9\xc3\xa9", 5,
       "\xc3\xa9\xc3\xa9"},
      {"a cut inside a control's bytes drops it whole", "ab\xe2\x80\xae", 4,
       "ab"},
      {"NULL is empty", NULL, 10, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char dst[128];
    td_text_clean(dst, sizeof(dst), cases[i].in, cases[i].max);
    tap_is_str(dst, cases[i].want, "td_text_clean: %s", cases[i].what);
  }
  char small[4];
  memset(small, 'Z', sizeof(small));
  td_text_clean(small, sizeof(small), "abcdef", 100);
  tap_is_str(small, "abc", "td_text_clean keeps to the buffer's size");
}

static void check_cut(void) {
  const struct {
    const char *s;
    size_t len, want;
  } cases[] = {
      {"abc", 3, 3},
      {"a\xc3\xa9", 2, 1},         /* half of é */
      {"a\xe2\x82\xac", 3, 1},     /* two bytes of € */
      {"a\xe2\x82\xac", 4, 4},     /* all of € */
      {"\xf0\x9f\x98\x80", 3, 0},  /* most of an emoji */
      {"\x80\x80", 2, 2},          /* no lead byte: kept as it is */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    tap_is_int((long long)td_text_cut(cases[i].s, cases[i].len),
               (long long)cases[i].want, "td_text_cut case %zu", i + 1);
}

static void check_format(void) {
  char dst[6];
  td_text_format(dst, sizeof(dst), "%s", "ab\xc3\xa9\xc3\xa9");
  tap_is_str(dst, "ab\xc3\xa9", "td_text_format cuts on a character boundary");
}

static void append(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *dst, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  td_text_vappend(dst, size, fmt, ap);
  va_end(ap);
}

static void check_append(void) {
  char dst[12] = "";
  append(dst, sizeof(dst), "%s", "one");
  tap_is_str(dst, "one", "td_text_vappend: the first part alone");
  append(dst, sizeof(dst), "%d", 2);
  tap_is_str(dst, "one; 2", "the next after \"; \"");
  append(dst, sizeof(dst), "%s", "\xc3\xa9\xc3\xa9\xc3\xa9");
  tap_is_str(dst, "one; 2; \xc3\xa9", "a part cut to fit on a boundary");
  append(dst, sizeof(dst), "%s", "more");
  tap_is_str(dst, "one; 2; \xc3\xa9", "no room: nothing added");
}

static void check_once(void) {
  td_text_once_t o = {0};
  const struct {
    const char *text;
    int want;
  } steps[] = {{"", 0},  {"a", 1}, {"a", 0}, {"b", 1},
               {"", 0},  {"", 0},  {"b", 1}, {"b", 0}};
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
    tap_is_int(td_text_once(&o, steps[i].text), steps[i].want,
               "td_text_once step %zu (\"%s\")", i + 1, steps[i].text);
}

int main(void) {
  check_clean();
  check_cut();
  check_format();
  check_append();
  check_once();
  return tap_done();
}
