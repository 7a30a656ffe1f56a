/* test_time: the TokenExpires dates an operator may write, and the ones
 * that must be refused.
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_time
 *
 * Expected epochs were taken from `date -u -d '<text> UTC' +%s`. */
#include "td_time.h"

#include <stdio.h>

#include "tap.h"

#define REFUSED (-1.0)

static const struct {
  const char *text;
  double epoch; /* REFUSED: td_time_parse_utc must return -1 */
} cases[] = {
    /* A date alone is midnight UTC. */
    {"1970-01-01", 0},
    {"2000-01-01", 946684800},
    {"2027-11-27", 1827273600},
    {"1969-12-31", -86400},
    {"9999-12-31", 253402214400},

    /* Date and time, with T or a space; seconds are optional. */
    {"2027-11-27T00:00", 1827273600},
    {"2027-11-27T12:34", 1827318840},
    {"2027-11-27T12:34:56", 1827318896},
    {"2027-11-27 12:34", 1827318840},
    {"2027-11-27 12:34:56", 1827318896},
    {"2027-12-31T23:59:59", 1830297599},

    /* Zones: Z and UTC are UTC; an offset is east of UTC. */
    {"2027-11-27T12:34:56Z", 1827318896},
    {"2027-11-27 12:34:56Z", 1827318896},
    {"2027-11-27T12:34Z", 1827318840},
    {"2027-11-27T12:34:56UTC", 1827318896},
    {"2027-11-27 12:34:56 UTC", 1827318896},
    {"2027-11-27T12:34:56+02:00", 1827318896 - 2 * 3600},
    {"2027-11-27T12:34:56+0200", 1827318896 - 2 * 3600},
    {"2027-11-27T12:34:56-01:30", 1827318896 + 90 * 60},
    {"2027-11-27T12:34:56-0130", 1827318896 + 90 * 60},
    {"2027-11-27T12:34-0130", 1827318840 + 90 * 60},
    {"2027-11-27T00:30:00+01:00", 1827273600 - 30 * 60},

    /* Leap years: every 4th, not every 100th, every 400th. */
    {"2028-02-29", 1835395200},
    {"2000-02-29", 951782400},
    {"2027-02-29", REFUSED},
    {"2100-02-29", REFUSED},
    {"2027-02-28", 1803772800},

    /* Fields out of range. */
    {"2027-13-01", REFUSED},
    {"2027-00-10", REFUSED},
    {"2027-11-00", REFUSED},
    {"2027-11-31", REFUSED},
    {"2027-04-31", REFUSED},
    {"2027-01-32", REFUSED},
    {"2027-11-27T24:00", REFUSED},
    {"2027-11-27T23:60", REFUSED},
    {"2027-11-27T12:34:61", REFUSED},
    {"2027-11-27T12:34:56+24:00", REFUSED},
    {"2027-11-27T12:34:56+02:60", REFUSED},

    /* Not a date of the documented shapes. */
    {"", REFUSED},
    {"tomorrow", REFUSED},
    {"27-11-2027", REFUSED},
    {"2027/11/27", REFUSED},
    {"2027-1-27", REFUSED},
    {"2027-11-7", REFUSED},
    {"20271127", REFUSED},
    {"2027-11", REFUSED},
    {"2027-11-27T", REFUSED},
    {"2027-11-27T12", REFUSED},
    {"2027-11-27T12:3", REFUSED},
    {"2027-11-27T12:34:5", REFUSED},
    {"2027-11-27T1234", REFUSED},
    {"2027-11-27T12:34:56+2", REFUSED},
    {"2027-11-27T12:34:56+", REFUSED},
    {"2027-11-27T12:34:56 PST", REFUSED},

    /* Trailing junk after a valid date. */
    {"2027-11-27x", REFUSED},
    {"2027-11-27 tomorrow", REFUSED},
    {"2027-11-27T12:34:56Zjunk", REFUSED},
    {"2027-11-27T12:34:56UTCx", REFUSED},
    {"2027-11-27T12:34:56+02:00junk", REFUSED},
    {"2027-11-27T12:34:56.123", REFUSED},
    {"2027-11-27 12:34:56 GMT", 1827318896.0}, /* libcurl's certificate dates */
};

/* Retry-After values, read at NOW: the wait in seconds, or REFUSED. */
#define NOW 784111777.0 /* Sun, 06 Nov 1994 08:49:37 GMT */
static const struct {
  const char *value;
  double wait;
} retry_cases[] = {
    {"120", 120},
    {" 5\r\n", 5},
    {"0", 0},
    {"99999999999999999999", 1e9},
    {"Sun, 06 Nov 1994 08:51:37 GMT", 120},
    {"Sun, 06 Nov 1994 08:49:37 GMT\r\n", 0},
    {"Sat, 05 Nov 1994 08:49:37 GMT", 0},
    {"Mon, 07 Nov 1994 08:49:37 GMT", 86400},
    {"-5", REFUSED},
    {"5 s", REFUSED},
    {"1.5", REFUSED},
    {"", REFUSED},
    {"soon", REFUSED},
    {"Sun, 31 Feb 1994 08:49:37 GMT", REFUSED},
    {"Sun, 06 Nox 1994 08:49:37 GMT", REFUSED},
    {"Sun, 06 Nov 1994 08:49:37 PST", REFUSED},
    {"Sunday, 06-Nov-94 08:49:37 GMT", REFUSED},
};

/* The value as a test name: CR and LF shown as \r and \n. */
static const char *shown(const char *v, char *buf, size_t size) {
  size_t n = 0;
  for (; *v != '\0' && n + 3 < size; v++) {
    if (*v == '\r' || *v == '\n') {
      buf[n++] = '\\';
      buf[n++] = *v == '\r' ? 'r' : 'n';
    } else {
      buf[n++] = *v;
    }
  }
  buf[n] = '\0';
  return buf;
}

static void check_retry_after(void) {
  char name[96];
  for (size_t i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]); i++) {
    double wait = -7;
    const char *v = shown(retry_cases[i].value, name, sizeof(name));
    int rc = td_time_parse_retry_after(retry_cases[i].value, NOW, &wait);
    if (retry_cases[i].wait == REFUSED)
      tap_is_int(rc, -1, "Retry-After \"%s\" is refused", v);
    else if (tap_is_int(rc, 0, "Retry-After \"%s\" is read", v))
      tap_is_double(wait, retry_cases[i].wait, 0,
                    "Retry-After \"%s\" waits %.0f s", v, retry_cases[i].wait);
  }
  double wait;
  tap_is_int(td_time_parse_retry_after(NULL, NOW, &wait), -1,
             "Retry-After NULL is refused");
}

/* A certificate's dates as either libcurl flavour words them. */
static const struct {
  const char *text;
  double epoch; /* REFUSED: td_time_parse_cert must return -1 */
} cert_cases[] = {
    /* The GnuTLS flavour (curl's own x509asn1.c). */
    {"2027-11-27 12:34:56 GMT", 1827318896},
    {" 2027-11-27 12:34:56 GMT", 1827318896},
    /* OpenSSL's ASN1_TIME_print: the day padded with a space. */
    {"Jan  1 00:00:00 2027 GMT", 1798761600},
    {"Nov 27 12:34:56 2027 GMT", 1827318896},
    {"Feb 29 23:59:59 2028 GMT", 1835481599},
    {"Dec 31 23:59:59 2027 GMT", 1830297599},
    {"Jan 01 00:00:00 2027 GMT", 1798761600},
    {"Feb 29 23:59:59 2027 GMT", REFUSED}, /* not a leap year */
    {"Foo  1 00:00:00 2027 GMT", REFUSED},
    {"Jan  1 00:00:00 2027", REFUSED},
    {"Jan  1 00:00:00 2027 GMT trailing", REFUSED},
    {"Jan  1 24:00:00 2027 GMT", REFUSED},
    {"Jan 32 00:00:00 2027 GMT", REFUSED},
    {"Jan  1 00:00:00.5 2027 GMT", REFUSED}, /* fractions: passed over */
    {"", REFUSED},
};

static void check_cert_dates(void) {
  for (size_t i = 0; i < sizeof(cert_cases) / sizeof(cert_cases[0]); i++) {
    double got = 12345.0;
    const char *t = cert_cases[i].text;
    int rc = td_time_parse_cert(t, &got);
    if (cert_cases[i].epoch == REFUSED)
      tap_is_int(rc, -1, "certificate date \"%s\" is refused", t);
    else if (tap_is_int(rc, 0, "certificate date \"%s\" is read", t))
      tap_is_double(got, cert_cases[i].epoch, 0,
                    "certificate date \"%s\" is %.0f", t, cert_cases[i].epoch);
  }
  double got = 0;
  tap_is_int(td_time_parse_cert(NULL, &got), -1,
             "certificate date NULL is refused");
}

int main(void) {
  check_retry_after();
  check_cert_dates();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double got = 12345.0;
    int rc = td_time_parse_utc(cases[i].text, &got);
    if (cases[i].epoch == REFUSED) {
      tap_is_int(rc, -1, "\"%s\" is refused", cases[i].text);
    } else if (tap_is_int(rc, 0, "\"%s\" is read", cases[i].text)) {
      tap_is_double(got, cases[i].epoch, 0, "\"%s\" is %.0f", cases[i].text,
                    cases[i].epoch);
    } else {
      tap_ok(0, "\"%s\" is %.0f", cases[i].text, cases[i].epoch);
    }
  }

  double got = 0;
  tap_is_int(td_time_parse_utc(NULL, &got), -1, "NULL is refused");
  return tap_done();
}
