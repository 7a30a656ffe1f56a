/* td_time: date parsing for configuration values. See td_time.h. */
#include "td_time.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Reads exactly n digits at *p and advances; -1 when they are not there. */
static int digits(const char **p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  return v;
}

static int is_leap(long y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && is_leap(y)) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long days_from_civil(long y, int m, int d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Parses the zone suffix into seconds east of UTC; -1 on bad text. */
static int parse_zone(const char *p, long *offset) {
  *offset = 0;
  if (*p == '\0' || ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0'))
    return 0;
  if ((strcmp(p, "UTC") == 0) || strcmp(p, "GMT") == 0)
    return 0;
  if (*p != '+' && *p != '-')
    return -1;
  int sign = *p == '-' ? -1 : 1;
  p++;
  int hh = digits(&p, 2);
  if (*p == ':')
    p++;
  int mm = digits(&p, 2);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || *p != '\0')
    return -1;
  *offset = sign * (hh * 3600L + mm * 60L);
  return 0;
}

/* Parses "HH:MM[:SS]" into seconds of the day and advances *p. */
static long parse_clock(const char **p) {
  int hh = digits(p, 2);
  if (hh < 0 || hh > 23 || **p != ':')
    return -1;
  (*p)++;
  int mm = digits(p, 2);
  if (mm < 0 || mm > 59)
    return -1;
  int ss = 0;
  if (**p == ':') {
    (*p)++;
    ss = digits(p, 2);
    if (ss < 0 || ss > 60)
      return -1;
  }
  return hh * 3600L + mm * 60L + ss;
}

int td_time_parse_utc(const char *text, double *out) {
  if (text == NULL)
    return -1;
  const char *p = text;
  int y = digits(&p, 4);
  if (y < 0 || *p++ != '-')
    return -1;
  int m = digits(&p, 2);
  if (m < 1 || m > 12 || *p++ != '-')
    return -1;
  int d = digits(&p, 2);
  if (d < 1 || d > days_in_month(y, m))
    return -1;
  long secs = 0;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    secs = parse_clock(&p);
    if (secs < 0)
      return -1;
  }
  while (*p == ' ')
    p++;
  long offset;
  if (parse_zone(p, &offset) != 0)
    return -1;
  *out = (double)days_from_civil(y, m, d) * TD_TIME_DAY + (double)secs -
         (double)offset;
  return 0;
}

#define RETRY_AFTER_MAX 1e9 /* seconds; beyond any sane wait */

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
    p++;
  return p;
}

static int only_space_left(const char *p) { return *skip_space(p) == '\0'; }

static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The month at p ("Jan".."Dec"), 1..12, or -1. */
static int month_of(const char *p) {
  for (int m = 0; m < 12; m++)
    if (strncmp(p, months[m], 3) == 0)
      return m + 1;
  return -1;
}

/* "Jan  1 00:00:00 2027 GMT", as OpenSSL's ASN1_TIME_print writes it. */
static int parse_openssl_date(const char *p, double *out) {
  int m = month_of(p);
  if (m < 0 || p[3] != ' ')
    return -1;
  p += 4;
  if (*p == ' ')
    p++;
  int d = isdigit((unsigned char)p[1]) ? digits(&p, 2) : digits(&p, 1);
  if (d < 1 || *p++ != ' ')
    return -1;
  long secs = parse_clock(&p);
  if (secs < 0 || *p++ != ' ')
    return -1;
  int y = digits(&p, 4);
  if (y < 0 || d > days_in_month(y, m) || strcmp(p, " GMT") != 0)
    return -1;
  *out = (double)days_from_civil(y, m, d) * TD_TIME_DAY + (double)secs;
  return 0;
}

int td_time_parse_cert(const char *text, double *out) {
  if (text == NULL)
    return -1;
  while (*text == ' ')
    text++;
  if (isdigit((unsigned char)*text))
    return td_time_parse_utc(text, out);
  return parse_openssl_date(text, out);
}

/* Parses "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's IMF-fixdate). */
static int parse_http_date(const char *p, double *out) {
  if (strlen(p) < 29 || p[3] != ',' || p[4] != ' ')
    return -1;
  p += 5;
  int d = digits(&p, 2);
  if (d < 1 || *p++ != ' ')
    return -1;
  int m = month_of(p);
  if (m < 0 || p[3] != ' ')
    return -1;
  p += 4;
  int y = digits(&p, 4);
  if (y < 0 || d > days_in_month(y, m) || *p++ != ' ')
    return -1;
  long secs = parse_clock(&p);
  if (secs < 0 || strncmp(p, " GMT", 4) != 0 || !only_space_left(p + 4))
    return -1;
  *out = (double)days_from_civil(y, m, d) * TD_TIME_DAY + (double)secs;
  return 0;
}

int td_time_parse_retry_after(const char *value, double now, double *wait) {
  if (value == NULL)
    return -1;
  const char *p = skip_space(value);
  if (isdigit((unsigned char)*p)) {
    double secs = 0;
    for (; isdigit((unsigned char)*p); p++)
      if (secs < RETRY_AFTER_MAX)
        secs = secs * 10 + (*p - '0');
    if (!only_space_left(p))
      return -1;
    *wait = secs < RETRY_AFTER_MAX ? secs : RETRY_AFTER_MAX;
    return 0;
  }
  double when;
  if (parse_http_date(p, &when) != 0)
    return -1;
  *wait = when > now ? when - now : 0;
  return 0;
}
