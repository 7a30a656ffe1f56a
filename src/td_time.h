/* td_time: reads the dates an operator writes in collectd.conf
 * (TokenExpires). Pure libc: no clock is read here, no locale is used. */
#ifndef TD_TIME_H
#define TD_TIME_H

/* Parses "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM[:SS]" or the same
 * with a space instead of T, optionally followed by "Z", "UTC" or an offset
 * "+HH:MM" / "-HHMM". Fields are range-checked (no 31 February).
 * Returns 0 and the seconds since the epoch in *out, or -1 when the text
 * is not such a date. */
int td_time_parse_utc(const char *text, double *out);

#endif /* TD_TIME_H */
