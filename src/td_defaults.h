/* td_defaults: every default and limit that both front ends (the plugin
 * and telemetrydeck-check) share, defined once. Constants only. */
#ifndef TD_DEFAULTS_H
#define TD_DEFAULTS_H

#define TD_DEFAULT_URL "https://api.telemetrydeckapi.com/api/v3/users/info"
#define TD_DEFAULT_TIMEOUT 10.0       /* seconds, or the interval if shorter */
#define TD_DEFAULT_WARNING_DAYS 30.0  /* ExpiryWarningDays, --warning-days */
#define TD_DEFAULT_FAILURE_DAYS 7.0   /* ExpiryFailureDays, --critical-days */
#define TD_DEFAULT_TLS_WARNING_DAYS 14.0
#define TD_DEFAULT_TLS_FAILURE_DAYS 3.0
#define TD_DEFAULT_USAGE_WARNING 90.0 /* UsageWarningPercent */
#define TD_DEFAULT_UNREACHABLE_AFTER 3
#define TD_DEFAULT_ORGS_INTERVAL 3600.0 /* seconds */
#define TD_DEFAULT_CONN_LIFETIME 3600.0 /* ConnectionLifetime, seconds */

#define TD_TOKEN_MAX 4096          /* bytes of a token, white space trimmed */
#define TD_TOKEN_LIFE_DAYS 366     /* the longest a TelemetryDeck token lives */
#define TD_CA_FILE_MAX (1 << 20)   /* bytes of a CACert file */
#define TD_MAX_TIMEOUT 3600.0      /* seconds, Timeout and --timeout */
#define TD_MIN_REMOTE_INTERVAL 1.0 /* seconds between polls of a remote API */
#define TD_MAX_INTERVAL (86400.0 * 366) /* seconds: a poll at least yearly */
#define TD_MAX_DAYS 3660.0         /* any day count: ten years */
#define TD_POLL_SHARE 0.9          /* of the interval a poll may use */
#define TD_MAX_CONN_LIFETIME 86400.0 /* seconds, ConnectionLifetime */

#endif /* TD_DEFAULTS_H */
