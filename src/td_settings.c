/* td_settings: one account's settings. See td_settings.h. */
#include "td_settings.h"

#include <arpa/inet.h> /* inet_pton */
#include <errno.h>
#include <math.h> /* isfinite */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "td_defaults.h"
#include "td_orgstate.h"
#include "td_text.h"
#include "td_time.h"

#define TD_SET_MAX_QUOTED 64 /* bytes of a string value an error quotes */
#define TD_USERS_PATH "/users/info"
#define TD_ORGS_PATH "/organizations"
#define TD_INTERFACE_MAX 255 /* bytes of Interface, a name or an address */
#define TD_HOST_MAX 253      /* bytes of a DNS name */

/* What a number option accepts besides its range. */
enum {
  TD_NUM_WHOLE = 1,    /* a count: no fraction */
  TD_NUM_POSITIVE = 2, /* below the range words as "must be positive" */
};

/* Every option, both front ends' names, its kind, its range and its
 * default. A string option's default is NULL (not given) but for URL,
 * whose default td_settings_finish fills in. */
static const struct {
  td_opt_t opt;
  const char *name;
  const char *flag; /* telemetrydeck-check's, or NULL */
  td_kind_t kind;
  int rules;
  double min, max;
  double def;
} options[TD_OPTS] = {
    {TD_OPT_TOKEN, "Token", NULL, TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_TOKEN_FILE, "TokenFile", "--token-file", TD_KIND_STRING, 0, 0, 0,
     0},
    {TD_OPT_URL, "URL", "--url", TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_CA_CERT, "CACert", "--ca-cert", TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_PROXY, "Proxy", "--proxy", TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_TOKEN_EXPIRES, "TokenExpires", "--expires", TD_KIND_STRING, 0, 0, 0,
     0},
    {TD_OPT_EXPECT_USER, "ExpectUser", "--expect-user", TD_KIND_STRING, 0, 0, 0,
     0},
    {TD_OPT_ORGS_URL, "OrganizationsURL", NULL, TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_COLLECT_ORGS, "CollectOrganizations", NULL, TD_KIND_BOOL, 0, 0, 0,
     0},
    {TD_OPT_ORGS_INTERVAL, "OrganizationsInterval", NULL, TD_KIND_NUMBER,
     TD_NUM_POSITIVE, 0.001, TD_MAX_INTERVAL, TD_DEFAULT_ORGS_INTERVAL},
    {TD_OPT_USAGE_WARNING, "UsageWarningPercent", NULL, TD_KIND_NUMBER,
     TD_NUM_POSITIVE, 0, 1e6, TD_DEFAULT_USAGE_WARNING},
    {TD_OPT_USAGE_SCALE, "UsageScale", NULL, TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_VERIFY_PEER, "VerifyPeer", NULL, TD_KIND_BOOL, 0, 0, 0, 1},
    {TD_OPT_VERIFY_HOST, "VerifyHost", NULL, TD_KIND_BOOL, 0, 0, 0, 1},
    {TD_OPT_NOTIFICATIONS, "Notifications", NULL, TD_KIND_BOOL, 0, 0, 0, 1},
    {TD_OPT_REPEAT_AFTER, "RepeatNotificationsAfter", NULL, TD_KIND_NUMBER, 0,
     0, TD_MAX_INTERVAL, 0},
    {TD_OPT_ALLOW_PLAINTEXT, "AllowPlaintext", "--allow-plaintext",
     TD_KIND_BOOL, 0, 0, 0, 0},
    {TD_OPT_COLLECT_TIMINGS, "CollectTimings", NULL, TD_KIND_BOOL, 0, 0, 0, 1},
    {TD_OPT_TLS_WARNING_DAYS, "TLSExpiryWarningDays", "--tls-warning-days",
     TD_KIND_NUMBER, 0, -TD_MAX_DAYS, TD_MAX_DAYS, TD_DEFAULT_TLS_WARNING_DAYS},
    {TD_OPT_TLS_FAILURE_DAYS, "TLSExpiryFailureDays", "--tls-critical-days",
     TD_KIND_NUMBER, 0, -TD_MAX_DAYS, TD_MAX_DAYS, TD_DEFAULT_TLS_FAILURE_DAYS},
    {TD_OPT_INTERVAL, "Interval", NULL, TD_KIND_NUMBER, TD_NUM_POSITIVE, 0,
     TD_MAX_INTERVAL, 0},
    {TD_OPT_TIMEOUT, "Timeout", "--timeout", TD_KIND_NUMBER, TD_NUM_POSITIVE, 0,
     TD_MAX_TIMEOUT, 0},
    {TD_OPT_WARNING_DAYS, "ExpiryWarningDays", "--warning-days", TD_KIND_NUMBER,
     0, -TD_MAX_DAYS, TD_MAX_DAYS, TD_DEFAULT_WARNING_DAYS},
    {TD_OPT_FAILURE_DAYS, "ExpiryFailureDays", "--critical-days",
     TD_KIND_NUMBER, 0, -TD_MAX_DAYS, TD_MAX_DAYS, TD_DEFAULT_FAILURE_DAYS},
    {TD_OPT_UNREACHABLE_AFTER, "UnreachableAfter", NULL, TD_KIND_NUMBER,
     TD_NUM_WHOLE, 1, 1000000, TD_DEFAULT_UNREACHABLE_AFTER},
    {TD_OPT_ADDRESS_FAMILY, "AddressFamily", "--address-family", TD_KIND_STRING,
     0, 0, 0, 0},
    {TD_OPT_INTERFACE, "Interface", "--interface", TD_KIND_STRING, 0, 0, 0, 0},
    {TD_OPT_RESOLVE, "Resolve", "--resolve", TD_KIND_STRING, 0, 0, 0, 0},
    /* The check polls once and exits: no connection of its lives to be
     * reused, so it has no such flag. */
    {TD_OPT_CONN_LIFETIME, "ConnectionLifetime", NULL, TD_KIND_NUMBER,
     TD_NUM_WHOLE, 1, TD_MAX_CONN_LIFETIME, TD_DEFAULT_CONN_LIFETIME},
    {TD_OPT_TIME_WARNING, NULL, "--time-warning", TD_KIND_NUMBER,
     TD_NUM_POSITIVE, 0, TD_MAX_TIMEOUT, 0},
    {TD_OPT_TIME_CRITICAL, NULL, "--time-critical", TD_KIND_NUMBER,
     TD_NUM_POSITIVE, 0, TD_MAX_TIMEOUT, 0},
    {TD_OPT_OUTAGE_STATE, NULL, "--outage-state", TD_KIND_STRING, 0, 0, 0, 0},
};

const char *td_settings_name(td_opt_t opt, td_front_t front) {
  if (opt < 0 || opt >= TD_OPTS)
    return NULL;
  return front == TD_FRONT_CHECK ? options[opt].flag : options[opt].name;
}

void td_settings_init(td_settings_t *s, td_front_t front) {
  memset(s, 0, sizeof(*s));
  s->front = front;
  for (int i = 0; i < TD_OPTS; i++) {
    s->number[i] = options[i].def;
    s->boolean[i] = options[i].kind == TD_KIND_BOOL && options[i].def != 0;
  }
  /* One poll is all the check makes: its first failure is the verdict. */
  if (front == TD_FRONT_CHECK)
    s->number[TD_OPT_UNREACHABLE_AFTER] = 1;
}

void td_settings_free(td_settings_t *s) {
  char *token = s->string[TD_OPT_TOKEN];
  if (token != NULL)
    explicit_bzero(token, strlen(token));
  for (int i = 0; i < TD_OPTS; i++) {
    free(s->string[i]);
    s->string[i] = NULL;
  }
}

static const char *name_or_empty(td_opt_t opt, td_front_t front) {
  const char *name = td_settings_name(opt, front);
  return name != NULL ? name : "";
}

static td_set_status_t fail(td_set_error_t *e, td_set_status_t st,
                            td_opt_t opt) {
  e->status = st;
  e->opt = opt;
  e->name = name_or_empty(opt, e->front);
  e->name2 = name_or_empty(e->opt2, e->front);
  return st;
}

static void error_reset(const td_settings_t *s, td_set_error_t *e) {
  memset(e, 0, sizeof(*e));
  e->front = s->front;
  e->opt = TD_OPT_NONE;
  e->opt2 = TD_OPT_NONE;
  e->name = e->name2 = "";
  e->plaintext_name =
      s->front == TD_FRONT_CHECK ? "--allow-plaintext" : "AllowPlaintext true";
}

/* How much of a string an error quotes: 64 bytes at most, cut on a
 * character boundary. */
static int quoted_len(const char *text) {
  size_t len = strnlen(text, TD_SET_MAX_QUOTED);
  return (int)td_text_cut(text, len);
}

/* The values as written, for an error: "" for Token and for the check,
 * whose command line may hold a secret anywhere. */
static void values_text(const td_settings_t *s, td_opt_t opt,
                        const td_value_t *v, size_t n, char *dst, size_t size) {
  char raw[TD_SET_MAX_VALUE + 1];
  size_t used = 0;
  raw[0] = '\0';
  if (opt == TD_OPT_TOKEN || s->front == TD_FRONT_CHECK)
    n = 0;
  for (size_t i = 0; i < n && used + 1 < sizeof(raw); i++) {
    const char *sep = i > 0 ? " " : "";
    int len;
    if (v[i].kind == TD_KIND_STRING)
      len = snprintf(raw + used, sizeof(raw) - used, "%s\"%.*s\"", sep,
                     quoted_len(v[i].string), v[i].string);
    else if (v[i].kind == TD_KIND_NUMBER)
      len =
          snprintf(raw + used, sizeof(raw) - used, "%s%.15g", sep, v[i].number);
    else
      len = snprintf(raw + used, sizeof(raw) - used, "%s%s", sep,
                     v[i].boolean ? "true" : "false");
    if (len < 0)
      break;
    used += (size_t)len;
  }
  td_text_clean(dst, size, raw, size - 1);
}

static td_opt_t find_name(const char *name) {
  for (int i = 0; i < TD_OPTS; i++)
    if (options[i].name != NULL && strcasecmp(name, options[i].name) == 0)
      return options[i].opt;
  return TD_OPT_NONE;
}

static td_opt_t find_flag(const char *flag) {
  for (int i = 0; i < TD_OPTS; i++)
    if (options[i].flag != NULL && strcmp(flag, options[i].flag) == 0)
      return options[i].opt;
  return TD_OPT_NONE;
}

/* A number against its option's range and rules. */
static td_set_status_t check_number(td_opt_t opt, double v, td_set_error_t *e) {
  if (!(v <= options[opt].max)) {
    e->bound = options[opt].max;
    return fail(e, TD_SET_E_MAX, opt);
  }
  if (v < options[opt].min) {
    e->bound = options[opt].min;
    return fail(e,
                options[opt].rules & TD_NUM_POSITIVE ? TD_SET_E_POSITIVE
                                                     : TD_SET_E_MIN,
                opt);
  }
  /* In range, a count fits a long long. */
  if ((options[opt].rules & TD_NUM_WHOLE) && v != (double)(long long)v)
    return fail(e, TD_SET_E_WHOLE, opt);
  return TD_SET_OK;
}

/* Stores one value of the option's kind. */
static td_set_status_t store(td_settings_t *s, td_opt_t opt,
                             const td_value_t *v, td_set_error_t *e) {
  switch (options[opt].kind) {
  case TD_KIND_STRING:
    if (s->string[opt] != NULL && s->front == TD_FRONT_PLUGIN)
      return fail(e, TD_SET_E_TWICE, opt);
    free(s->string[opt]);
    if ((s->string[opt] = strdup(v->string)) == NULL)
      return fail(e, TD_SET_E_NOMEM, opt);
    break;
  case TD_KIND_BOOL:
    s->boolean[opt] = v->boolean != 0;
    break;
  case TD_KIND_NUMBER:
    if (check_number(opt, v->number, e) != TD_SET_OK)
      return e->status;
    s->number[opt] = v->number;
    break;
  }
  return TD_SET_OK;
}

/* A value of the option's kind; a boolean may also be written as a string
 * collectd reads as one (true, yes, on; false, no, off). Returns 0, or -1
 * for another kind. */
static int read_value(td_opt_t opt, const td_value_t *in, td_value_t *out) {
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  *out = *in;
  if (in->kind == options[opt].kind)
    return 0;
  if (options[opt].kind != TD_KIND_BOOL || in->kind != TD_KIND_STRING)
    return -1;
  out->kind = TD_KIND_BOOL;
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if (strcasecmp(in->string, yes[i]) == 0) {
      out->boolean = 1;
      return 0;
    }
    if (strcasecmp(in->string, no[i]) == 0) {
      out->boolean = 0;
      return 0;
    }
  }
  return -1;
}

td_set_status_t td_settings_set(td_settings_t *s, const char *name,
                                const td_value_t *values, size_t n,
                                td_set_error_t *e) {
  error_reset(s, e);
  td_opt_t opt = find_name(name);
  if (opt == TD_OPT_NONE) {
    td_text_clean(e->value, sizeof(e->value), name, TD_SET_MAX_VALUE);
    return fail(e, TD_SET_E_UNKNOWN, opt);
  }
  values_text(s, opt, values, n, e->value, sizeof(e->value));
  td_value_t v;
  if (n != 1 || read_value(opt, &values[0], &v) != 0)
    return fail(e, TD_SET_E_TYPE, opt);
  return store(s, opt, &v, e);
}

/* Parses a finite number; the whole text must be the number. */
static int parse_number(const char *text, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

td_set_status_t td_settings_set_text(td_settings_t *s, const char *flag,
                                     const char *text, td_set_error_t *e) {
  error_reset(s, e);
  td_opt_t opt = find_flag(flag);
  td_value_t v = {.kind = TD_KIND_STRING, .string = text};
  if (opt == TD_OPT_NONE) {
    td_text_clean(e->value, sizeof(e->value), flag, TD_SET_MAX_VALUE);
    return fail(e, TD_SET_E_UNKNOWN, opt);
  }
  if (options[opt].kind == TD_KIND_BOOL) {
    v.kind = TD_KIND_BOOL;
    v.boolean = 1;
  } else if (text == NULL) {
    return fail(e, TD_SET_E_TYPE, opt);
  } else if (options[opt].kind == TD_KIND_NUMBER) {
    v.kind = TD_KIND_NUMBER;
    if (parse_number(text, &v.number) != 0)
      return fail(e, TD_SET_E_TYPE, opt);
  }
  return store(s, opt, &v, e);
}

/* A string option quoted for an error, cleaned and cut. */
static void quote(const td_settings_t *s, td_opt_t opt, char *dst,
                  size_t size) {
  char raw[TD_SET_MAX_VALUE + 1];
  dst[0] = '\0';
  if (s->front == TD_FRONT_CHECK || s->string[opt] == NULL)
    return;
  snprintf(raw, sizeof(raw), "\"%.*s\"", quoted_len(s->string[opt]),
           s->string[opt]);
  td_text_clean(dst, size, raw, size - 1);
}

static void number_text(const td_settings_t *s, td_opt_t opt, char *dst,
                        size_t size) {
  dst[0] = '\0';
  if (s->front == TD_FRONT_PLUGIN)
    snprintf(dst, size, "%.15g", s->number[opt]);
}

/* The Token option, by the rules of every token; only the trimmed token
 * is kept. */
static td_set_status_t finish_token(td_settings_t *s, td_set_error_t *e) {
  static td_token_t t; /* 4 KiB; the settings are read by one thread */
  char *kept;
  if (s->front == TD_FRONT_PLUGIN && (s->string[TD_OPT_TOKEN] == NULL) ==
                                         (s->string[TD_OPT_TOKEN_FILE] == NULL))
    return fail(e, TD_SET_E_TOKEN_ONE, TD_OPT_TOKEN);
  if (s->string[TD_OPT_TOKEN] == NULL)
    return TD_SET_OK;
  e->token = td_token_from_text(&t, s->string[TD_OPT_TOKEN]);
  if (e->token != TD_TOKEN_OK) {
    td_token_wipe(&t);
    return fail(e, TD_SET_E_TOKEN, TD_OPT_TOKEN);
  }
  s->warn_token_prefix = !td_token_has_prefix(&t);
  kept = strdup(t.text);
  td_token_wipe(&t);
  if (kept == NULL)
    return fail(e, TD_SET_E_NOMEM, TD_OPT_TOKEN);
  explicit_bzero(s->string[TD_OPT_TOKEN], strlen(s->string[TD_OPT_TOKEN]));
  free(s->string[TD_OPT_TOKEN]);
  s->string[TD_OPT_TOKEN] = kept;
  return TD_SET_OK;
}

/* A URL option by td_url's rules; one with a user name or password is
 * not quoted. */
static td_set_status_t finish_url(td_settings_t *s, td_opt_t opt,
                                  td_set_error_t *e) {
  e->url = td_url_check(s->string[opt], s->boolean[TD_OPT_ALLOW_PLAINTEXT]);
  if (e->url == TD_URL_OK)
    return TD_SET_OK;
  if (e->url != TD_URL_USERINFO)
    quote(s, opt, e->value, sizeof(e->value));
  return fail(e, TD_SET_E_URL, opt);
}

/* OrganizationsURL defaults to URL with ".../users/info" replaced by
 * ".../organizations". */
static td_set_status_t finish_orgs_url(td_settings_t *s, td_set_error_t *e) {
  const char *url = s->string[TD_OPT_URL];
  if (!s->boolean[TD_OPT_COLLECT_ORGS])
    return TD_SET_OK;
  if (s->string[TD_OPT_ORGS_URL] == NULL) {
    size_t len = strlen(url), plen = strlen(TD_USERS_PATH);
    if (len > 0 && url[len - 1] == '/')
      len--;
    if (len < plen || strncmp(url + len - plen, TD_USERS_PATH, plen) != 0) {
      quote(s, TD_OPT_URL, e->value, sizeof(e->value));
      return fail(e, TD_SET_E_ORGS_URL, TD_OPT_ORGS_URL);
    }
    size_t size = len - plen + strlen(TD_ORGS_PATH) + 1;
    if ((s->string[TD_OPT_ORGS_URL] = malloc(size)) == NULL)
      return fail(e, TD_SET_E_NOMEM, TD_OPT_ORGS_URL);
    snprintf(s->string[TD_OPT_ORGS_URL], size, "%.*s%s", (int)(len - plen), url,
             TD_ORGS_PATH);
  }
  return finish_url(s, TD_OPT_ORGS_URL, e);
}

/* TokenExpires: a date, and a warning when no token can live that long. */
static td_set_status_t finish_expiry(td_settings_t *s, double now,
                                     td_set_error_t *e) {
  const char *text = s->string[TD_OPT_TOKEN_EXPIRES];
  if (text == NULL)
    return TD_SET_OK;
  if (td_time_parse_utc(text, &s->expires) != 0) {
    quote(s, TD_OPT_TOKEN_EXPIRES, e->value, sizeof(e->value));
    return fail(e, TD_SET_E_DATE, TD_OPT_TOKEN_EXPIRES);
  }
  s->has_expiry = 1;
  s->warn_expiry_far = s->expires > now + TD_TOKEN_LIFE_DAYS * 86400.0;
  return TD_SET_OK;
}

/* Interval below TD_MIN_REMOTE_INTERVAL hammers a real API: only a
 * loopback URL (our tests, a local fake) may poll that often. */
static td_set_status_t finish_interval(td_settings_t *s, td_set_error_t *e) {
  double v = s->number[TD_OPT_INTERVAL];
  if (v == 0 || v >= TD_MIN_REMOTE_INTERVAL ||
      td_url_is_loopback(s->string[TD_OPT_URL]))
    return TD_SET_OK;
  number_text(s, TD_OPT_INTERVAL, e->value, sizeof(e->value));
  e->bound = TD_MIN_REMOTE_INTERVAL;
  return fail(e, TD_SET_E_INTERVAL, TD_OPT_INTERVAL);
}

static td_set_status_t finish_proxy(td_settings_t *s, td_set_error_t *e) {
  /* The proxy URL may carry a password: never quoted. */
  e->url = td_url_proxy_check(s->string[TD_OPT_URL], s->string[TD_OPT_PROXY],
                              s->boolean[TD_OPT_ALLOW_PLAINTEXT]);
  return e->url == TD_URL_OK ? TD_SET_OK : fail(e, TD_SET_E_URL, TD_OPT_PROXY);
}

/* CACert must be a regular file of a bounded size: a FIFO or a device
 * would block or flood the read thread at every new connection. */
static td_set_status_t finish_ca(td_settings_t *s, td_set_error_t *e) {
  if (s->string[TD_OPT_CA_CERT] == NULL)
    return TD_SET_OK;
  e->file = td_file_check(s->string[TD_OPT_CA_CERT], TD_CA_FILE_MAX, &e->info);
  if (e->file == TD_FILE_OK)
    return TD_SET_OK;
  quote(s, TD_OPT_CA_CERT, e->value, sizeof(e->value));
  e->bound = TD_CA_FILE_MAX;
  return fail(e, TD_SET_E_FILE, TD_OPT_CA_CERT);
}

static td_set_status_t finish_days(td_settings_t *s, td_opt_t warning,
                                   td_opt_t failure, td_set_error_t *e) {
  if (s->number[failure] >= 0 && s->number[warning] >= s->number[failure])
    return TD_SET_OK;
  number_text(s, warning, e->value, sizeof(e->value));
  number_text(s, failure, e->value2, sizeof(e->value2));
  e->opt2 = failure;
  return fail(e, TD_SET_E_ORDER, warning);
}

static td_set_status_t finish_expect_user(td_settings_t *s, td_set_error_t *e) {
  const char *user = s->string[TD_OPT_EXPECT_USER];
  return user != NULL && user[0] == '\0'
             ? fail(e, TD_SET_E_EMPTY, TD_OPT_EXPECT_USER)
             : TD_SET_OK;
}

/* UsageScale: how the organizations' usagePercentage is read. */
static td_set_status_t finish_scale(td_settings_t *s, td_set_error_t *e) {
  const char *text = s->string[TD_OPT_USAGE_SCALE];
  s->usage_scale = TD_USAGE_FRACTION;
  if (text == NULL || td_orgstate_scale_parse(text, &s->usage_scale) == 0)
    return TD_SET_OK;
  quote(s, TD_OPT_USAGE_SCALE, e->value, sizeof(e->value));
  return fail(e, TD_SET_E_SCALE, TD_OPT_USAGE_SCALE);
}

/* AddressFamily: any, ipv4 or ipv6, in any case. */
static td_set_status_t finish_family(td_settings_t *s, td_set_error_t *e) {
  static const struct {
    const char *name;
    td_http_family_t family;
  } names[] = {{"any", TD_HTTP_FAMILY_ANY},
               {"ipv4", TD_HTTP_FAMILY_IPV4},
               {"ipv6", TD_HTTP_FAMILY_IPV6}};
  const char *text = s->string[TD_OPT_ADDRESS_FAMILY];
  s->family = TD_HTTP_FAMILY_ANY;
  if (text == NULL)
    return TD_SET_OK;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(text, names[i].name) == 0) {
      s->family = names[i].family;
      return TD_SET_OK;
    }
  quote(s, TD_OPT_ADDRESS_FAMILY, e->value, sizeof(e->value));
  return fail(e, TD_SET_E_FAMILY, TD_OPT_ADDRESS_FAMILY);
}

/* Interface goes to libcurl as written (a name, an address, or libcurl's
 * "if!NAME" and "host!ADDRESS"); a space or a control character is a
 * typo, and would also break td_http's group key. */
static td_set_status_t finish_interface(td_settings_t *s, td_set_error_t *e) {
  const char *text = s->string[TD_OPT_INTERFACE];
  if (text == NULL)
    return TD_SET_OK;
  size_t len = strlen(text);
  int ok = len > 0 && len <= TD_INTERFACE_MAX && strcmp(text, "if!") != 0 &&
           strcmp(text, "host!") != 0;
  for (size_t i = 0; ok && i < len; i++)
    ok = (unsigned char)text[i] > 0x20 && (unsigned char)text[i] != 0x7f;
  if (ok)
    return TD_SET_OK;
  quote(s, TD_OPT_INTERFACE, e->value, sizeof(e->value));
  e->bound = TD_INTERFACE_MAX;
  return fail(e, TD_SET_E_INTERFACE, TD_OPT_INTERFACE);
}

/* A DNS name of len bytes: letters, digits, '-', '_' and '.', not
 * starting with '-' or '.'. */
static int is_host_name(const char *name, size_t len) {
  if (len == 0 || len > TD_HOST_MAX || name[0] == '-' || name[0] == '.')
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
      return 0;
  }
  return 1;
}

/* A port of len bytes: 1 to 65535 in decimal digits only. */
static int is_port(const char *text, size_t len) {
  long port = 0;
  if (len == 0 || len > 5)
    return 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9')
      return 0;
    port = port * 10 + (text[i] - '0');
  }
  return port >= 1 && port <= 65535;
}

/* One address, IPv4 or IPv6 (bare or in brackets), written into dst as
 * libcurl's resolve entries take it: IPv6 in brackets. Returns 0 or -1. */
static int resolve_address(const char *text, char *dst, size_t size) {
  unsigned char buf[16];
  char inner[INET6_ADDRSTRLEN + 1];
  size_t len = strlen(text);
  if (inet_pton(AF_INET, text, buf) == 1)
    return snprintf(dst, size, "%s", text) < (int)size ? 0 : -1;
  if (len > 2 && text[0] == '[' && text[len - 1] == ']' &&
      len - 2 < sizeof(inner)) {
    memcpy(inner, text + 1, len - 2);
    inner[len - 2] = '\0';
    text = inner;
  }
  if (inet_pton(AF_INET6, text, buf) != 1)
    return -1;
  return snprintf(dst, size, "[%s]", text) < (int)size ? 0 : -1;
}

/* Resolve: HOST:PORT:ADDRESS, one address; rewritten with an IPv6
 * address in brackets. libcurl's other forms (a "-" or "+" in front, a
 * list of addresses, a "*" host) are refused: one fixed address for one
 * host and port is what the option promises. */
static td_set_status_t finish_resolve(td_settings_t *s, td_set_error_t *e) {
  char *text = s->string[TD_OPT_RESOLVE];
  char address[INET6_ADDRSTRLEN + 3];
  if (text == NULL)
    return TD_SET_OK;
  const char *colon = strchr(text, ':');
  const char *colon2 = colon != NULL ? strchr(colon + 1, ':') : NULL;
  if (colon2 == NULL || !is_host_name(text, (size_t)(colon - text)) ||
      !is_port(colon + 1, (size_t)(colon2 - colon - 1)) ||
      resolve_address(colon2 + 1, address, sizeof(address)) != 0) {
    quote(s, TD_OPT_RESOLVE, e->value, sizeof(e->value));
    return fail(e, TD_SET_E_RESOLVE, TD_OPT_RESOLVE);
  }
  size_t size = (size_t)(colon2 - text) + 1 + strlen(address) + 1;
  char *entry = malloc(size);
  if (entry == NULL)
    return fail(e, TD_SET_E_NOMEM, TD_OPT_RESOLVE);
  snprintf(entry, size, "%.*s:%s", (int)(colon2 - text), text, address);
  free(text);
  s->string[TD_OPT_RESOLVE] = entry;
  return TD_SET_OK;
}

/* The options that choose where connections go. */
static td_set_status_t finish_network(td_settings_t *s, td_set_error_t *e) {
  if (finish_family(s, e) != TD_SET_OK || finish_interface(s, e) != TD_SET_OK ||
      finish_resolve(s, e) != TD_SET_OK)
    return e->status;
  return TD_SET_OK;
}

td_set_status_t td_settings_finish(td_settings_t *s, double now,
                                   td_set_error_t *e) {
  error_reset(s, e);
  if (finish_token(s, e) != TD_SET_OK)
    return e->status;
  if (s->string[TD_OPT_URL] == NULL &&
      (s->string[TD_OPT_URL] = strdup(TD_DEFAULT_URL)) == NULL)
    return fail(e, TD_SET_E_NOMEM, TD_OPT_URL);
  if (finish_url(s, TD_OPT_URL, e) != TD_SET_OK ||
      finish_interval(s, e) != TD_SET_OK ||
      finish_expiry(s, now, e) != TD_SET_OK ||
      finish_proxy(s, e) != TD_SET_OK || finish_ca(s, e) != TD_SET_OK ||
      finish_expect_user(s, e) != TD_SET_OK ||
      finish_days(s, TD_OPT_WARNING_DAYS, TD_OPT_FAILURE_DAYS, e) !=
          TD_SET_OK ||
      finish_days(s, TD_OPT_TLS_WARNING_DAYS, TD_OPT_TLS_FAILURE_DAYS, e) !=
          TD_SET_OK ||
      finish_orgs_url(s, e) != TD_SET_OK || finish_scale(s, e) != TD_SET_OK ||
      finish_network(s, e) != TD_SET_OK)
    return e->status;
  return TD_SET_OK;
}

td_set_status_t td_settings_resolve(td_settings_t *s, double front_interval,
                                    td_set_error_t *e) {
  error_reset(s, e);
  double interval = s->number[TD_OPT_INTERVAL] > 0 ? s->number[TD_OPT_INTERVAL]
                                                   : front_interval;
  double timeout = s->number[TD_OPT_TIMEOUT];
  s->interval = interval > 0 ? interval : 0;
  if (timeout == 0)
    timeout = s->interval > 0 && s->interval < TD_DEFAULT_TIMEOUT
                  ? s->interval
                  : TD_DEFAULT_TIMEOUT;
  s->timeout = timeout;
  if (s->interval > 0 && timeout > s->interval) {
    number_text(s, TD_OPT_TIMEOUT, e->value, sizeof(e->value));
    e->bound = s->interval;
    return fail(e, TD_SET_E_TIMEOUT, TD_OPT_TIMEOUT);
  }
  return TD_SET_OK;
}

size_t td_settings_warnings(const td_settings_t *s, td_set_error_t *w,
                            size_t max) {
  size_t n = 0;
  if (s->warn_expiry_far && n < max) {
    error_reset(s, &w[n]);
    quote(s, TD_OPT_TOKEN_EXPIRES, w[n].value, sizeof(w[n].value));
    w[n].bound = TD_TOKEN_LIFE_DAYS;
    fail(&w[n++], TD_SET_W_EXPIRY_FAR, TD_OPT_TOKEN_EXPIRES);
  }
  if (s->warn_token_prefix && n < max) {
    error_reset(s, &w[n]);
    fail(&w[n++], TD_SET_W_TOKEN_PREFIX, TD_OPT_TOKEN);
  }
  return n;
}

void td_settings_policy(const td_settings_t *s, const char *account,
                        td_policy_t *pol) {
  *pol = (td_policy_t){
      .account = account,
      .has_expiry = s->has_expiry,
      .expires = s->expires,
      .warning_days = s->number[TD_OPT_WARNING_DAYS],
      .failure_days = s->number[TD_OPT_FAILURE_DAYS],
      .unreachable_after = (unsigned)s->number[TD_OPT_UNREACHABLE_AFTER],
      .expect_user = s->string[TD_OPT_EXPECT_USER],
      .tls_warning_days = s->number[TD_OPT_TLS_WARNING_DAYS],
      .tls_failure_days = s->number[TD_OPT_TLS_FAILURE_DAYS],
      .usage_warning_percent = s->number[TD_OPT_USAGE_WARNING],
      .usage_scale = s->usage_scale,
      .repeat_after = s->number[TD_OPT_REPEAT_AFTER],
  };
}

void td_settings_http(const td_settings_t *s, int organizations,
                      td_http_opts_t *o) {
  double limit = s->interval * TD_POLL_SHARE;
  *o = (td_http_opts_t){
      .url = s->string[organizations ? TD_OPT_ORGS_URL : TD_OPT_URL],
      .ca_cert = s->string[TD_OPT_CA_CERT],
      .verify_peer = s->boolean[TD_OPT_VERIFY_PEER],
      .verify_host = s->boolean[TD_OPT_VERIFY_HOST],
      .timeout = s->interval > 0 && limit < s->timeout ? limit : s->timeout,
      .proxy = s->string[TD_OPT_PROXY],
      .organizations = organizations,
      .family = s->family,
      .interface = s->string[TD_OPT_INTERFACE],
      .resolve = s->string[TD_OPT_RESOLVE],
      .max_life = (long)s->number[TD_OPT_CONN_LIFETIME],
  };
}

int td_settings_account_name_ok(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > TD_ACCOUNT_NAME_MAX)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (name[i] == '/' || (unsigned char)name[i] < 0x20 ||
        (unsigned char)name[i] == 0x7f)
      return 0;
  return 1;
}
