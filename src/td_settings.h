/* td_settings: the settings of one account, for both front ends alike. The
 * plugin feeds it each option of an <Account> block with collectd's values,
 * telemetrydeck-check each command-line flag with its text; one table holds
 * every option's type, default and range, and one set of rules across
 * options decides. Builds the state machine's policy and the HTTP options.
 * Returns status enums with their facts and words nothing (td_words does);
 * never logs. Reads no clock (the time is an argument); the only file it
 * looks at is CACert, through td_file. */
#ifndef TD_SETTINGS_H
#define TD_SETTINGS_H

#include <stddef.h>

#include "td_file.h"
#include "td_http.h"
#include "td_state.h"
#include "td_token.h"
#include "td_url.h"

/* Which front end feeds the settings, and so which names they go by. */
typedef enum { TD_FRONT_PLUGIN = 0, TD_FRONT_CHECK = 1 } td_front_t;

typedef enum {
  TD_OPT_TOKEN,
  TD_OPT_TOKEN_FILE,
  TD_OPT_URL,
  TD_OPT_CA_CERT,
  TD_OPT_PROXY,
  TD_OPT_TOKEN_EXPIRES,
  TD_OPT_EXPECT_USER,
  TD_OPT_ORGS_URL,
  TD_OPT_COLLECT_ORGS,
  TD_OPT_ORGS_INTERVAL,
  TD_OPT_USAGE_WARNING,
  TD_OPT_USAGE_SCALE,
  TD_OPT_VERIFY_PEER,
  TD_OPT_VERIFY_HOST,
  TD_OPT_NOTIFICATIONS,
  TD_OPT_REPEAT_AFTER,
  TD_OPT_ALLOW_PLAINTEXT,
  TD_OPT_COLLECT_TIMINGS,
  TD_OPT_TLS_WARNING_DAYS,
  TD_OPT_TLS_FAILURE_DAYS,
  TD_OPT_INTERVAL,
  TD_OPT_TIMEOUT,
  TD_OPT_WARNING_DAYS,
  TD_OPT_FAILURE_DAYS,
  TD_OPT_UNREACHABLE_AFTER,
  TD_OPT_ADDRESS_FAMILY,
  TD_OPT_INTERFACE,
  TD_OPT_RESOLVE,
  TD_OPT_CONN_LIFETIME, /* the plugin's only: the check makes one poll */
  TD_OPT_TIME_WARNING,  /* the check's only: response-time thresholds, */
  TD_OPT_TIME_CRITICAL, /* seconds, 0: none */
  TD_OPT_OUTAGE_STATE,  /* the check's only: td_nagios reads the word */
  TD_OPTS,
  TD_OPT_NONE = -1,
} td_opt_t;

typedef enum { TD_KIND_STRING, TD_KIND_BOOL, TD_KIND_NUMBER } td_kind_t;

/* One value as collectd's configuration holds it. */
typedef struct {
  td_kind_t kind;
  const char *string; /* TD_KIND_STRING */
  double number;      /* TD_KIND_NUMBER */
  int boolean;        /* TD_KIND_BOOL */
} td_value_t;

typedef enum {
  TD_SET_OK = 0,
  TD_SET_E_NOMEM,
  TD_SET_E_UNKNOWN,   /* no such option; value holds the name */
  TD_SET_E_TWICE,     /* a string option given twice (plugin) */
  TD_SET_E_TYPE,      /* not the option's type, or not exactly one value */
  TD_SET_E_WHOLE,     /* a fraction for an option that counts */
  TD_SET_E_POSITIVE,  /* below the range of an option that must be > 0 or
                         >= 0 */
  TD_SET_E_MIN,       /* below the range; bound is its minimum */
  TD_SET_E_MAX,       /* above the range, or NaN; bound is its maximum */
  TD_SET_E_EMPTY,     /* ExpectUser "" */
  TD_SET_E_SCALE,     /* UsageScale is neither fraction nor percent */
  TD_SET_E_DATE,      /* TokenExpires is not a date */
  TD_SET_E_TOKEN,     /* Token refused by td_token: see token */
  TD_SET_E_TOKEN_ONE, /* neither or both of Token and TokenFile (plugin) */
  TD_SET_E_URL,       /* URL, OrganizationsURL or Proxy refused: see url */
  TD_SET_E_ORGS_URL,  /* CollectOrganizations, no OrganizationsURL, and URL
                         does not end in /users/info */
  TD_SET_E_FILE,      /* CACert refused by td_file: see file, info */
  TD_SET_E_ORDER,     /* not opt >= opt2 >= 0 (the days pairs) */
  TD_SET_E_TIMEOUT,   /* Timeout longer than the interval (bound) */
  TD_SET_E_INTERVAL,  /* Interval below bound s for a remote URL */
  TD_SET_E_FAMILY,    /* AddressFamily is not any, ipv4 or ipv6 */
  TD_SET_E_INTERFACE, /* Interface empty, longer than bound, or with a
                         space or control character */
  TD_SET_E_RESOLVE,   /* Resolve is not HOST:PORT:ADDRESS */
  /* Warnings: the account runs. */
  TD_SET_W_EXPIRY_FAR,   /* TokenExpires more than TD_TOKEN_LIFE_DAYS on */
  TD_SET_W_TOKEN_PREFIX, /* Token does not start with "tdpat_" */
} td_set_status_t;

#define TD_SET_MAX_VALUE 160 /* bytes of a value quoted in an error */

/* An error with its facts. value and value2 are the values as written,
 * cleaned by td_text: strings quoted and cut at 64 bytes, numbers with
 * %.15g; "" when not to be shown (Token, a URL holding a password, any
 * value of the check's command line, which might be a secret). */
typedef struct {
  td_set_status_t status;
  td_front_t front;
  td_opt_t opt;
  td_opt_t opt2; /* TD_SET_E_ORDER: the smaller one */
  /* The front end's names of opt, opt2 and AllowPlaintext ("" when it
   * has none), so that the wording needs no table. */
  const char *name;
  const char *name2;
  const char *plaintext_name;
  char value[TD_SET_MAX_VALUE + 1];
  char value2[TD_SET_MAX_VALUE + 1];
  double bound;
  td_url_status_t url;
  td_token_status_t token;
  td_file_status_t file;
  td_file_info_t info;
} td_set_error_t;

typedef struct {
  td_front_t front;
  char *string[TD_OPTS]; /* string options, NULL: not given; Token wiped */
  double number[TD_OPTS];
  int boolean[TD_OPTS];
  /* Set by td_settings_finish: */
  int has_expiry;
  double expires;        /* TokenExpires, epoch seconds */
  int warn_expiry_far;   /* TokenExpires more than TD_TOKEN_LIFE_DAYS on */
  int warn_token_prefix; /* Token does not start with "tdpat_" */
  /* Set by td_settings_resolve: */
  td_usage_scale_t usage_scale; /* UsageScale, read by td_settings_finish */
  double interval;              /* seconds; 0 for the check (one poll) */
  double timeout;               /* seconds */
  /* Set by td_settings_finish: AddressFamily; Resolve's string is
   * rewritten as HOST:PORT:ADDRESS with an IPv6 address in brackets. */
  td_http_family_t family;
} td_settings_t;

/* The option's name for a front end ("ExpiryWarningDays",
 * "--warning-days"), or NULL when that front end has no such option. */
const char *td_settings_name(td_opt_t opt, td_front_t front);

/* Every default, set explicitly; secure ones on. */
void td_settings_init(td_settings_t *s, td_front_t front);

/* Frees the strings, wiping the token. s may be used again after init. */
void td_settings_free(td_settings_t *s);

/* The plugin's route: an option by name (case-insensitive) with the
 * values collectd read for it. Returns TD_SET_OK or the error, with its
 * facts in *e. */
td_set_status_t td_settings_set(td_settings_t *s, const char *name,
                                const td_value_t *values, size_t n,
                                td_set_error_t *e);

/* The check's route: a long flag ("--timeout") with its text (NULL for a
 * flag that takes none, which sets a boolean to true). */
td_set_status_t td_settings_set_text(td_settings_t *s, const char *flag,
                                     const char *text, td_set_error_t *e);

/* The rules across options, once everything is set: the token options,
 * the URLs and the proxy, the dates, CACert (a regular file of at most
 * TD_CA_FILE_MAX bytes), the days pairs, OrganizationsURL's derivation,
 * the network options (AddressFamily, Interface, Resolve).
 * now (epoch seconds) dates the TokenExpires warning. */
td_set_status_t td_settings_finish(td_settings_t *s, double now,
                                   td_set_error_t *e);

/* Resolves Interval (0: the front end's, collectd's interval for the
 * plugin, none for the check) and Timeout (0: the smaller of
 * TD_DEFAULT_TIMEOUT and the interval), and checks Timeout <= Interval.
 * May be called again with another interval. */
td_set_status_t td_settings_resolve(td_settings_t *s, double front_interval,
                                    td_set_error_t *e);

/* The warnings td_settings_finish found, at most max of them, into w.
 * Returns how many there are. */
size_t td_settings_warnings(const td_settings_t *s, td_set_error_t *w,
                            size_t max);

/* The state machine's policy; account names it (NULL for the check). The
 * policy points into s. */
void td_settings_policy(const td_settings_t *s, const char *account,
                        td_policy_t *pol);

/* The HTTP options of the users/info poll (organizations 0) or of the
 * organizations poll (1); they point into s. The plugin's timeout is cut
 * to TD_POLL_SHARE of the interval, so a poll always ends before the next
 * one is due. */
void td_settings_http(const td_settings_t *s, int organizations,
                      td_http_opts_t *o);

/* The longest account name: it becomes the plugin instance, which
 * collectd holds in DATA_MAX_NAME_LEN (128) bytes. */
#define TD_ACCOUNT_NAME_MAX 127

/* What is wrong with the <Account> blocks, or around them. */
typedef enum {
  TD_ACCOUNT_NO_NAME,   /* not exactly one string after Account */
  TD_ACCOUNT_BAD_NAME,  /* empty, too long, '/' or a control character */
  TD_ACCOUNT_TWICE,     /* a name taken by an account before it */
  TD_ACCOUNT_NOT_BLOCK, /* an option outside any <Account> block */
} td_account_error_t;

/* 1 when name may name an account (and be a plugin instance), else 0. */
int td_settings_account_name_ok(const char *name);

#endif /* TD_SETTINGS_H */
