/* td_time: reads the dates an operator writes in collectd.conf
 * (TokenExpires) and the ones a server sends (Retry-After). Pure libc: no clock is read here, no locale is used. */
#ifndef TD_TIME_H
#define TD_TIME_H

#define TD_TIME_DAY 86400.0 /* seconds in a day (UTC: no leap seconds) */

/* Parses "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM[:SS]" or the same
 * with a space instead of T, optionally followed by "Z", "UTC", "GMT" (as libcurl writes a
 * certificate's dates) or an offset
 * "+HH:MM" / "-HHMM". Fields are range-checked (no 31 February).
 * Returns 0 and the seconds since the epoch in *out, or -1 when the text
 * is not such a date. */
int td_time_parse_utc(const char *text, double *out);

/* Parses a certificate's date as libcurl words it: "YYYY-MM-DD HH:MM:SS
 * GMT" (its GnuTLS flavour; any form td_time_parse_utc takes) or OpenSSL's
 * "Mmm DD HH:MM:SS YYYY GMT" (the day padded with a space or a zero),
 * after any spaces. Returns 0 and the epoch seconds in *out, or -1. */
int td_time_parse_cert(const char *text, double *out);

/* Reads an HTTP Retry-After value: delta-seconds ("120") or an HTTP date
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), surrounding white space allowed.
 * Returns 0 and the seconds to wait from now in *wait (0 for a date in the
 * past; huge deltas are clamped to 1e9), or -1 when the value is neither. */
int td_time_parse_retry_after(const char *value, double now, double *wait);

#endif /* TD_TIME_H */
