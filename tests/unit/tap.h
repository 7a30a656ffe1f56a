/* tap.h: the few Test Anything Protocol lines our unit tests print.
 * One test binary, one translation unit: the counters live here as statics.
 * A check prints "ok N - name" or "not ok N - name" followed by "# " lines
 * saying what was expected and what came; tap_done prints the plan "1..N"
 * last and returns the exit status (0 only when every check passed). */
#ifndef TD_TEST_TAP_H
#define TD_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__)
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TAP_PRINTF(f, a)
#endif

static int tap_count;
static int tap_failures;

/* Prints one "# ..." diagnostic line. */
static inline TAP_PRINTF(1, 2) void tap_diag(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("# ", stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
}

/* Writes text on one line, bytes that would break the line or the
 * terminal shown as \n, \t, \\ or \xNN. UTF-8 passes through. */
static inline void tap_put_escaped(const char *s) {
  if (s == NULL) {
    fputs("(null)", stdout);
    return;
  }
  fputc('"', stdout);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\n')
      fputs("\\n", stdout);
    else if (*p == '\t')
      fputs("\\t", stdout);
    else if (*p == '\\' || *p == '"')
      printf("\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      printf("\\x%02x", *p);
    else
      fputc(*p, stdout);
  }
  fputc('"', stdout);
}

static inline void tap_vresult(int pass, const char *fmt, va_list ap) {
  tap_count++;
  if (!pass)
    tap_failures++;
  printf("%sok %d - ", pass ? "" : "not ", tap_count);
  vprintf(fmt, ap);
  fputc('\n', stdout);
}

/* A check of a condition; returns it so callers can add diagnostics. */
static inline TAP_PRINTF(2, 3) int tap_ok(int pass, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tap_vresult(pass, fmt, ap);
  va_end(ap);
  return pass;
}

static inline TAP_PRINTF(3, 4) int tap_is_int(long long got, long long want,
                                              const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tap_vresult(got == want, fmt, ap);
  va_end(ap);
  if (got != want) {
    tap_diag("expected: %lld", want);
    tap_diag("     got: %lld", got);
  }
  return got == want;
}

/* Equal within tol (use 0 for values that must be exact). */
static inline TAP_PRINTF(4, 5) int tap_is_double(double got, double want,
                                                 double tol, const char *fmt,
                                                 ...) {
  double diff = got > want ? got - want : want - got;
  int pass = diff <= tol || (got != got && want != want); /* both NaN */
  va_list ap;
  va_start(ap, fmt);
  tap_vresult(pass, fmt, ap);
  va_end(ap);
  if (!pass) {
    tap_diag("expected: %.17g (within %g)", want, tol);
    tap_diag("     got: %.17g", got);
  }
  return pass;
}

static inline TAP_PRINTF(3, 4) int tap_is_str(const char *got,
                                              const char *want,
                                              const char *fmt, ...) {
  int pass = (got == NULL || want == NULL) ? got == want
                                           : strcmp(got, want) == 0;
  va_list ap;
  va_start(ap, fmt);
  tap_vresult(pass, fmt, ap);
  va_end(ap);
  if (!pass) {
    fputs("# expected: ", stdout);
    tap_put_escaped(want);
    fputs("\n#      got: ", stdout);
    tap_put_escaped(got);
    fputc('\n', stdout);
  }
  return pass;
}

/* Prints the plan and returns the process exit status. */
static inline int tap_done(void) {
  printf("1..%d\n", tap_count);
  if (tap_failures > 0)
    tap_diag("%d of %d checks failed", tap_failures, tap_count);
  return tap_failures > 0 ? 1 : 0;
}

#endif /* TD_TEST_TAP_H */
