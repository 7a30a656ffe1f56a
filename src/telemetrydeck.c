/* telemetrydeck: the collectd side of the plugin. Reads the <Plugin
 * telemetrydeck> blocks, loads tokens, schedules polls, and turns each
 * finished poll into values, notifications and log lines. The only file
 * that includes collectd's headers; the only one that logs. */
#include "collectd.h"
#include "plugin.h"
#include "utils/common/common.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "td_defaults.h"
#include "td_file.h"
#include "td_http.h"
#include "td_orgstate.h"
#include "td_pace.h"
#include "td_state.h"
#include "td_text.h"
#include "td_time.h"
#include "td_token.h"
#include "td_url.h"
#include "td_words.h"

#define PLUGIN_NAME "telemetrydeck"
#define LOG_PREFIX PLUGIN_NAME " plugin: "
#define TD_MIN_TICK_MS 100         /* finest scheduling step */
#define TD_POLL_SHARE 0.9          /* of the interval a poll may use */
#define TD_USERS_PATH "/users/info"
#define TD_ORGS_PATH "/organizations"

typedef struct {
  char *name;
  char *token;      /* Token, or NULL; wiped when freed */
  char *token_file; /* TokenFile, or NULL */
  char *url;
  char *ca_cert;
  char *expires_text;
  char *expect_user; /* ExpectUser, or NULL */
  char *orgs_url;    /* OrganizationsURL, or NULL: derived from URL */
  char *proxy;       /* Proxy, or NULL: see td_http_opts_t */
  bool verify_peer;
  bool verify_host;
  bool notifications;
  bool allow_plaintext;
  bool collect_timings;
  bool collect_orgs;
  double interval_s;  /* Interval as written, 0: collectd's */
  double orgs_interval_s; /* OrganizationsInterval */
  double unreachable_after_n; /* UnreachableAfter as written */
  cdtime_t interval;
  cdtime_t orgs_interval;
  double timeout;    /* <= 0 until init: the default */
  double warning_days;
  double failure_days;
  double tls_warning_days;
  double tls_failure_days;
  double usage_warning_percent;
  int unreachable_after;

  /* Run-time state, set up by init. */
  td_policy_t policy;
  td_state_t state;
  td_http_conn_t *conn;
  td_http_conn_t *orgs_conn;  /* NULL unless CollectOrganizations */
  td_orgstate_t orgs_state;
  double orgs_next_due;
  char *active_token; /* what libcurl holds now; wiped when replaced */
  double next_due;    /* epoch seconds */
  mode_t warned_mode; /* TokenFile mode last warned about */
  bool overlap_logged; /* "still running" said since the last start */
  td_text_once_t token_problem; /* the last token problem logged */
  td_pace_t pace;      /* spacing of attempts while the API is silent */
  char pace_error[TD_VERDICT_MAX_ERROR + 1]; /* the last attempt's error */
} account_t;

static account_t **accounts;
static size_t accounts_num;
static td_http_t *http;
static cdtime_t tick;
static bool curl_ready;

/* Every default in one place; secure ones on. */
static void account_defaults(account_t *a) {
  a->verify_peer = true;
  a->verify_host = true;
  a->notifications = true;
  a->allow_plaintext = false;
  a->collect_timings = true;
  a->tls_warning_days = TD_DEFAULT_TLS_WARNING_DAYS;
  a->tls_failure_days = TD_DEFAULT_TLS_FAILURE_DAYS;
  a->collect_orgs = false;
  a->orgs_interval_s = TD_DEFAULT_ORGS_INTERVAL;
  a->usage_warning_percent = TD_DEFAULT_USAGE_WARNING;
  a->interval_s = 0;
  a->timeout = 0;
  a->warning_days = TD_DEFAULT_WARNING_DAYS;
  a->failure_days = TD_DEFAULT_FAILURE_DAYS;
  a->unreachable_after_n = TD_DEFAULT_UNREACHABLE_AFTER;
}

/* Frees a string that may hold a secret, wiping it first. */
static void free_secret(char **s) {
  if (*s == NULL)
    return;
  explicit_bzero(*s, strlen(*s));
  free(*s);
  *s = NULL;
}

static void account_free(account_t *a) {
  if (a == NULL)
    return;
  td_http_conn_free(a->conn);
  td_http_conn_free(a->orgs_conn);
  free_secret(&a->token);
  free_secret(&a->active_token);
  free(a->name);
  free(a->token_file);
  free(a->url);
  free(a->ca_cert);
  free(a->expires_text);
  free(a->expect_user);
  free(a->orgs_url);
  free(a->proxy);
  free(a);
}

/* ---- configuration ---- */

typedef enum { OPT_STRING, OPT_BOOL, OPT_NUMBER } opt_kind_t;

/* Every option of an <Account> block. Numbers are read as doubles and
 * must lie in [min, max]: nothing collectd cannot represent (its time
 * type overflows past about 1.7e10 s) slips through as another value. */
static const struct {
  const char *key;
  opt_kind_t kind;
  size_t offset;
  double min, max;
} account_options[] = {
    {"Token", OPT_STRING, offsetof(account_t, token), 0, 0},
    {"TokenFile", OPT_STRING, offsetof(account_t, token_file), 0, 0},
    {"URL", OPT_STRING, offsetof(account_t, url), 0, 0},
    {"CACert", OPT_STRING, offsetof(account_t, ca_cert), 0, 0},
    {"Proxy", OPT_STRING, offsetof(account_t, proxy), 0, 0},
    {"TokenExpires", OPT_STRING, offsetof(account_t, expires_text), 0, 0},
    {"ExpectUser", OPT_STRING, offsetof(account_t, expect_user), 0, 0},
    {"OrganizationsURL", OPT_STRING, offsetof(account_t, orgs_url), 0, 0},
    {"CollectOrganizations", OPT_BOOL, offsetof(account_t, collect_orgs), 0,
     0},
    {"OrganizationsInterval", OPT_NUMBER,
     offsetof(account_t, orgs_interval_s), 0.001, TD_MAX_INTERVAL},
    {"UsageWarningPercent", OPT_NUMBER,
     offsetof(account_t, usage_warning_percent), 0, 1e6},
    {"VerifyPeer", OPT_BOOL, offsetof(account_t, verify_peer), 0, 0},
    {"VerifyHost", OPT_BOOL, offsetof(account_t, verify_host), 0, 0},
    {"Notifications", OPT_BOOL, offsetof(account_t, notifications), 0, 0},
    {"AllowPlaintext", OPT_BOOL, offsetof(account_t, allow_plaintext), 0, 0},
    {"CollectTimings", OPT_BOOL, offsetof(account_t, collect_timings), 0, 0},
    {"TLSExpiryWarningDays", OPT_NUMBER,
     offsetof(account_t, tls_warning_days), -TD_MAX_DAYS,
     TD_MAX_DAYS},
    {"TLSExpiryFailureDays", OPT_NUMBER,
     offsetof(account_t, tls_failure_days), -TD_MAX_DAYS,
     TD_MAX_DAYS},
    {"Interval", OPT_NUMBER, offsetof(account_t, interval_s), 0,
     TD_MAX_INTERVAL},
    {"Timeout", OPT_NUMBER, offsetof(account_t, timeout), 0, TD_MAX_TIMEOUT},
    {"ExpiryWarningDays", OPT_NUMBER, offsetof(account_t, warning_days),
     -TD_MAX_DAYS, TD_MAX_DAYS},
    {"ExpiryFailureDays", OPT_NUMBER, offsetof(account_t, failure_days),
     -TD_MAX_DAYS, TD_MAX_DAYS},
    {"UnreachableAfter", OPT_NUMBER,
     offsetof(account_t, unreachable_after_n), 1, 1000000},
};

/* The option's values as written, for an error message ("" for Token). */
static void config_values_text(const oconfig_item_t *ci, char *dst,
                               size_t size) {
  size_t used = 0;
  dst[0] = '\0';
  if (strcasecmp(ci->key, "Token") == 0)
    return;
  for (int i = 0; i < ci->values_num && used + 1 < size; i++) {
    const oconfig_value_t *v = ci->values + i;
    const char *sep = i > 0 ? " " : "";
    int n;
    if (v->type == OCONFIG_TYPE_STRING)
      n = snprintf(dst + used, size - used, "%s\"%.64s\"", sep,
                   v->value.string);
    else if (v->type == OCONFIG_TYPE_NUMBER)
      n = snprintf(dst + used, size - used, "%s%.15g", sep, v->value.number);
    else
      n = snprintf(dst + used, size - used, "%s%s", sep,
                   v->value.boolean ? "true" : "false");
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

/* A number outside [min, max] (or NaN) is refused by name; so is a
 * fraction for an option that counts (min 1). A minimum from 0 up to 1
 * words as "positive" (0, where allowed, means the default). */
static int check_range(const account_t *a, const char *key, double v,
                       double min, double max) {
  if (v >= min && v <= max && (min != 1 || v == (double)(long long)v))
    return 0;
  if (v >= min && v <= max)
    ERROR(LOG_PREFIX "account \"%s\": option %s %g must be a whole number.",
          a->name, key, v);
  else if (v < min && min >= 0 && min < 1)
    ERROR(LOG_PREFIX "account \"%s\": option %s %g must be positive.",
          a->name, key, v);
  else if (v < min)
    ERROR(LOG_PREFIX "account \"%s\": option %s %g must be at least %g.",
          a->name, key, v, min);
  else
    ERROR(LOG_PREFIX "account \"%s\": option %s %g is out of range (at most "
                     "%g).",
          a->name, key, v, max);
  return -1;
}

/* Reads one option into the account. Returns 0, or -1 after logging. */
static int account_option(account_t *a, oconfig_item_t *ci) {
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(account_options); i++) {
    if (strcasecmp(ci->key, account_options[i].key) != 0)
      continue;
    void *field = (char *)a + account_options[i].offset;
    int rc = -1;
    switch (account_options[i].kind) {
    case OPT_STRING:
      if (*(char **)field != NULL) {
        ERROR(LOG_PREFIX "account \"%s\": %s is given twice.", a->name,
              ci->key);
        return -1;
      }
      rc = cf_util_get_string(ci, field);
      break;
    case OPT_BOOL:
      rc = cf_util_get_boolean(ci, field);
      break;
    case OPT_NUMBER:
      rc = cf_util_get_double(ci, field);
      break;
    }
    if (rc != 0) {
      char shown[160];
      config_values_text(ci, shown, sizeof(shown));
      ERROR(LOG_PREFIX "account \"%s\": option %s %s is not of the right "
                       "type (or count) of value.",
            a->name, ci->key, shown[0] ? shown : "(value not shown)");
    }
    if (rc != 0)
      return -1;
    return account_options[i].kind == OPT_NUMBER
               ? check_range(a, ci->key, *(double *)field,
                             account_options[i].min, account_options[i].max)
               : 0;
  }
  ERROR(LOG_PREFIX "account \"%s\": unknown option \"%s\".", a->name,
        ci->key);
  return -1;
}

static void warn_token_prefix(const account_t *a, const td_token_t *t) {
  if (!td_token_has_prefix(t))
    WARNING(LOG_PREFIX "account \"%s\": the token does not start with "
                       "\"tdpat_\"; is it a TelemetryDeck personal access "
                       "token?",
            a->name);
}

/* A URL option by the rules of td_url; one with a user name or password
 * is not quoted. Returns 0, or -1 after logging. */
static int account_check_url(const account_t *a, const char *option,
                             const char *url) {
  char why[200];
  td_url_status_t st = td_url_check(url, a->allow_plaintext);
  if (st == TD_URL_OK)
    return 0;
  td_words_url(st, "AllowPlaintext true", why, sizeof(why));
  if (st == TD_URL_USERINFO)
    ERROR(LOG_PREFIX "account \"%s\": option %s is refused: %s.", a->name,
          option, why);
  else
    ERROR(LOG_PREFIX "account \"%s\": option %s \"%s\" is refused: %s.",
          a->name, option, url, why);
  return -1;
}

/* OrganizationsURL defaults to URL with ".../users/info" replaced by
 * ".../organizations". Returns 0, or -1 after logging. */
static int account_check_orgs(account_t *a) {
  if (a->orgs_url == NULL) {
    size_t len = strlen(a->url);
    if (len > 0 && a->url[len - 1] == '/')
      len--;
    size_t plen = strlen(TD_USERS_PATH);
    if (len < plen || strncmp(a->url + len - plen, TD_USERS_PATH, plen) != 0) {
      ERROR(LOG_PREFIX "account \"%s\": URL \"%s\" does not end in %s, so "
                       "option OrganizationsURL is needed with "
                       "CollectOrganizations.",
            a->name, a->url, TD_USERS_PATH);
      return -1;
    }
    size_t size = len - plen + strlen(TD_ORGS_PATH) + 1;
    if ((a->orgs_url = malloc(size)) == NULL)
      return -1;
    snprintf(a->orgs_url, size, "%.*s%s", (int)(len - plen), a->url,
             TD_ORGS_PATH);
  }
  return account_check_url(a, "OrganizationsURL", a->orgs_url);
}

/* The Token option, judged by the rules of every token. */
static int account_check_token(account_t *a) {
  td_token_t t;
  char why[160];
  td_token_status_t st = td_token_from_text(&t, a->token);
  if (st != TD_TOKEN_OK) {
    td_words_token(st, &t, "option Token", "option Token", why, sizeof(why));
    ERROR(LOG_PREFIX "account \"%s\": %s.", a->name, why);
    return -1;
  }
  warn_token_prefix(a, &t);
  /* Keep the trimmed token only. */
  free_secret(&a->token);
  a->token = strdup(t.text);
  td_token_wipe(&t);
  return a->token != NULL ? 0 : -1;
}

/* CACert must be a regular file of a bounded size: a FIFO or a device
 * would block or flood the read thread at every new connection. */
static int account_check_ca(account_t *a) {
  td_file_info_t info;
  char why[160];
  td_file_status_t st = td_file_check(a->ca_cert, TD_CA_FILE_MAX, &info);
  if (st == TD_FILE_OK)
    return 0;
  td_words_file(st, &info, TD_CA_FILE_MAX, why, sizeof(why));
  ERROR(LOG_PREFIX "account \"%s\": option CACert \"%s\" is refused: it %s.",
        a->name, a->ca_cert, why);
  return -1;
}

/* TokenExpires: a date, and one a token can have. */
static int account_check_expiry(account_t *a) {
  double expires;
  if (a->expires_text == NULL)
    return 0;
  if (td_time_parse_utc(a->expires_text, &expires) != 0) {
    ERROR(LOG_PREFIX "account \"%s\": option TokenExpires \"%s\" is not a "
                     "date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC).",
          a->name, a->expires_text);
    return -1;
  }
  double now = CDTIME_T_TO_DOUBLE(cdtime());
  if (expires > now + TD_TOKEN_LIFE_DAYS * 86400.0)
    WARNING(LOG_PREFIX "account \"%s\": option TokenExpires \"%s\" is more "
                       "than %d days away, but TelemetryDeck tokens live at "
                       "most one year: is the year a typo? It is used as "
                       "written.",
            a->name, a->expires_text, TD_TOKEN_LIFE_DAYS);
  return 0;
}

/* Interval below TD_MIN_REMOTE_INTERVAL hammers a real API: only a
 * loopback URL (our tests, a local fake) may poll that often. */
static int account_check_interval(account_t *a) {
  if (a->interval_s == 0 || a->interval_s >= TD_MIN_REMOTE_INTERVAL ||
      td_url_is_loopback(a->url))
    return 0;
  ERROR(LOG_PREFIX "account \"%s\": option Interval %g is below %g s, which "
                   "only a loopback URL may use.",
        a->name, a->interval_s, TD_MIN_REMOTE_INTERVAL);
  return -1;
}

static int account_check_proxy(account_t *a) {
  char why[200];
  td_url_status_t st = td_url_proxy_check(a->url, a->proxy, a->allow_plaintext);
  if (st == TD_URL_OK)
    return 0;
  td_words_url(st, "AllowPlaintext true", why, sizeof(why));
  /* The proxy URL may carry a password: never shown. */
  ERROR(LOG_PREFIX "account \"%s\": option Proxy is refused: %s.", a->name,
        why);
  return -1;
}

/* Checks what can be checked before init. Returns 0, or -1 after logging
 * the option and its offending value (never the token). */
static int account_check(account_t *a) {
  if ((a->token == NULL) == (a->token_file == NULL)) {
    ERROR(LOG_PREFIX "account \"%s\": exactly one of Token and TokenFile is "
                     "required.",
          a->name);
    return -1;
  }
  if (a->token != NULL && account_check_token(a) != 0)
    return -1;
  if (a->url == NULL && (a->url = strdup(TD_DEFAULT_URL)) == NULL)
    return -1;
  if (account_check_url(a, "URL", a->url) != 0)
    return -1;
  if (account_check_interval(a) != 0 || account_check_expiry(a) != 0 ||
      account_check_proxy(a) != 0 ||
      (a->ca_cert != NULL && account_check_ca(a) != 0))
    return -1;
  if (a->failure_days < 0 || a->warning_days < a->failure_days) {
    ERROR(LOG_PREFIX "account \"%s\": options ExpiryWarningDays %g and "
                     "ExpiryFailureDays %g must satisfy "
                     "ExpiryWarningDays >= ExpiryFailureDays >= 0.",
          a->name, a->warning_days, a->failure_days);
    return -1;
  }
  if (a->tls_failure_days < 0 || a->tls_warning_days < a->tls_failure_days) {
    ERROR(LOG_PREFIX "account \"%s\": options TLSExpiryWarningDays %g and "
                     "TLSExpiryFailureDays %g must satisfy "
                     "TLSExpiryWarningDays >= TLSExpiryFailureDays >= 0.",
          a->name, a->tls_warning_days, a->tls_failure_days);
    return -1;
  }
  if (a->collect_orgs && account_check_orgs(a) != 0)
    return -1;
  a->unreachable_after = (int)a->unreachable_after_n;
  a->orgs_interval = DOUBLE_TO_CDTIME_T(a->orgs_interval_s);
  a->interval = DOUBLE_TO_CDTIME_T(a->interval_s);
  return 0;
}

static account_t *account_find(const char *name) {
  for (size_t i = 0; i < accounts_num; i++)
    if (strcmp(accounts[i]->name, name) == 0)
      return accounts[i];
  return NULL;
}

/* The name becomes the plugin instance: it must fit and not break the
 * identifier. */
static int name_is_valid(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len >= DATA_MAX_NAME_LEN)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (name[i] == '/' || (unsigned char)name[i] < 0x20 ||
        (unsigned char)name[i] == 0x7f)
      return 0;
  return 1;
}

/* Reads one <Account> block. A broken block is logged and skipped. */
static void config_account(oconfig_item_t *ci) {
  account_t *a = calloc(1, sizeof(*a));
  if (a == NULL || cf_util_get_string(ci, &a->name) != 0) {
    ERROR(LOG_PREFIX "an Account block needs exactly one name: "
                     "<Account \"main\">.");
    account_free(a);
    return;
  }
  account_defaults(a);
  int bad = 0;
  if (!name_is_valid(a->name)) {
    ERROR(LOG_PREFIX "account name \"%s\" is empty, too long or contains "
                     "'/' or control characters.",
          a->name);
    bad = 1;
  } else if (account_find(a->name) != NULL) {
    ERROR(LOG_PREFIX "account \"%s\" is defined twice; the second block is "
                     "ignored and the first one runs.",
          a->name);
    account_free(a);
    return;
  }
  for (int i = 0; i < ci->children_num && !bad; i++)
    bad = account_option(a, ci->children + i) != 0;
  if (bad || account_check(a) != 0) {
    ERROR(LOG_PREFIX "account \"%s\" is skipped because of the error above.",
          a->name);
    account_free(a);
    return;
  }
  account_t **grown = realloc(accounts, (accounts_num + 1) * sizeof(*grown));
  if (grown == NULL) {
    account_free(a);
    return;
  }
  accounts = grown;
  accounts[accounts_num++] = a;
}

static int tdc_config(oconfig_item_t *ci) {
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *child = ci->children + i;
    if (strcasecmp(child->key, "Account") == 0)
      config_account(child);
    else
      ERROR(LOG_PREFIX "unknown option \"%s\" (only <Account> blocks are "
                       "allowed here).",
            child->key);
  }
  return 0;
}

/* ---- tokens ---- */

/* Logs a token problem once, until it changes or goes away. */
static void token_problem(account_t *a, const char *msg) {
  if (td_text_once(&a->token_problem, msg))
    ERROR(LOG_PREFIX "account \"%s\": %s.", a->name, msg);
}

/* Hands the token to libcurl when it differs from the one it holds. */
static int token_use(account_t *a, const char *token) {
  if (a->active_token != NULL && strcmp(a->active_token, token) == 0)
    return 0;
  char *copy = strdup(token);
  if (copy == NULL || td_http_set_token(a->conn, token) != 0 ||
      (a->orgs_conn != NULL && td_http_set_token(a->orgs_conn, token) != 0)) {
    free_secret(&copy);
    token_problem(a, "could not hand the token to libcurl");
    return -1;
  }
  if (a->active_token != NULL)
    INFO(LOG_PREFIX "account \"%s\": using a new token.", a->name);
  free_secret(&a->active_token);
  a->active_token = copy;
  return 0;
}

/* Reads TokenFile (at every poll: a rotated token is picked up at once),
 * warning about a file others can read. Returns 0, or -1 after noting
 * the problem. */
static int token_file_load(account_t *a) {
  static td_token_t t; /* one read thread; static keeps 4 KiB off it */
  char why[256], noun[160];
  td_token_status_t st = td_token_from_file(&t, a->token_file);
  if (t.file_status == TD_FILE_OK && td_token_file_is_open(&t) &&
      t.file.mode != a->warned_mode) {
    WARNING(LOG_PREFIX "account \"%s\": TokenFile \"%s\" has mode %04o and "
                       "is readable by group or others; chmod 600 it.",
            a->name, a->token_file, (unsigned)(t.file.mode & 07777));
    a->warned_mode = t.file.mode;
  }
  if (st != TD_TOKEN_OK) {
    snprintf(noun, sizeof(noun), "TokenFile \"%s\"", a->token_file);
    td_words_token(st, &t, noun, noun, why, sizeof(why));
    token_problem(a, why);
    td_token_wipe(&t);
    return -1;
  }
  if (a->active_token == NULL || strcmp(a->active_token, t.text) != 0)
    warn_token_prefix(a, &t);
  int rc = token_use(a, t.text);
  td_token_wipe(&t);
  return rc;
}

/* Makes sure libcurl holds the account's current token. Returns 0, or -1
 * when there is no usable token (the problem is logged once). */
static int token_load(account_t *a) {
  int had_problem = a->token_problem.last[0] != '\0';
  int rc = a->token != NULL ? token_use(a, a->token) : token_file_load(a);
  if (rc == 0 && had_problem) {
    td_text_once(&a->token_problem, "");
    if (a->token_file != NULL)
      INFO(LOG_PREFIX "account \"%s\": TokenFile \"%s\" is usable again.",
           a->name, a->token_file);
  }
  return rc;
}

/* ---- dispatching ---- */

static void submit_every(const account_t *a, cdtime_t interval,
                         const char *type, const char *type_instance,
                         double value) {
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &(value_t){.gauge = value};
  vl.values_len = 1;
  vl.interval = interval;
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, a->name, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, type, sizeof(vl.type));
  sstrncpy(vl.type_instance, type_instance, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

static void submit(const account_t *a, const char *type,
                   const char *type_instance, double value) {
  submit_every(a, a->interval, type, type_instance, value);
}

static void notify(const account_t *a, const td_note_t *note) {
  notification_t n = {.severity = (int)note->severity, .time = cdtime()};
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, a->name, sizeof(n.plugin_instance));
  sstrncpy(n.type, td_words_note_type(note->kind), sizeof(n.type));
  if (note->instance[0] != '\0')
    snprintf(n.type_instance, sizeof(n.type_instance), "%s-%s",
             td_words_note_type_instance(note->kind), note->instance);
  else
    sstrncpy(n.type_instance, td_words_note_type_instance(note->kind),
             sizeof(n.type_instance));
  sstrncpy(n.message, note->message, sizeof(n.message));
  /* -1 only means no plugin handles notifications: not an error. */
  plugin_dispatch_notification(&n);
}

/* duration-dns, -connect, -tls, -ttfb, -transfer for a poll that got an
 * answer. */
static void submit_phases(const account_t *a, const td_step_t *s) {
  static const char *names[TD_PHASES] = {
      [TD_PHASE_DNS] = "dns",   [TD_PHASE_CONNECT] = "connect",
      [TD_PHASE_TLS] = "tls",   [TD_PHASE_TTFB] = "ttfb",
      [TD_PHASE_TRANSFER] = "transfer",
  };
  if (!a->collect_timings || !s->has_phases)
    return;
  for (int i = 0; i < TD_PHASES; i++)
    submit(a, "duration", names[i], s->phases[i]);
}

/* Sends what one step produced; polled is 0 for a time-only step. */
static void dispatch_step(const account_t *a, td_step_t *s, int polled) {
  td_words_step(&a->policy, s);
  if (polled) {
    submit(a, "bool", "api_reachable", s->api_reachable);
    submit(a, "response_code", "", s->response_code);
    if (s->has_response_time)
      submit(a, "response_time", "", s->response_time);
    if (s->token_valid >= 0)
      submit(a, "bool", "token_valid", s->token_valid);
    if (s->email_verified >= 0)
      submit(a, "bool", "email_verified", s->email_verified);
  }
  /* timeleft is seconds, as collectd's other timeleft sources report it
   * and Prometheus expects base units; the options stay in days. */
  if (s->has_timeleft)
    submit(a, "timeleft", "token", s->timeleft);
  if (s->has_tls_timeleft)
    submit(a, "timeleft", "tls_certificate", s->tls_timeleft);
  for (size_t i = 0; i < s->n_notes && a->notifications; i++)
    notify(a, &s->notes[i]);
  if (s->log[0] != '\0' && s->log_is_problem)
    WARNING(LOG_PREFIX "%s", s->log);
  else if (s->log[0] != '\0')
    INFO(LOG_PREFIX "%s", s->log);
  if (polled)
    submit_phases(a, s);
}

/* gauge-usage_percent-ORG and bool-restricted_mode-ORG, their notes, and
 * the lines worth logging once until they change. */
static void orgs_done(account_t *a, const td_poll_t *poll) {
  static td_orgstate_step_t step; /* one read thread; 5 KiB off the stack */
  char line[TD_VERDICT_MAX_TEXT + 1], ti[DATA_MAX_NAME_LEN];
  td_orgstate_step(&a->orgs_state, a->usage_warning_percent, poll, &step);
  td_words_orgstate_step(&a->policy, &step);
  if (step.news == TD_LOG_PROBLEM) {
    td_words_orgs_problem(&a->policy, &step, line, sizeof(line));
    WARNING(LOG_PREFIX "%s", line);
  }
  for (size_t i = 0; i < step.count; i++) {
    if (step.orgs[i].has_usage) {
      snprintf(ti, sizeof(ti), "usage_percent-%s", step.orgs[i].ident);
      submit_every(a, a->orgs_interval, "gauge", ti, step.orgs[i].usage_percent);
    }
    if (step.orgs[i].restricted >= 0) {
      snprintf(ti, sizeof(ti), "restricted_mode-%s", step.orgs[i].ident);
      submit_every(a, a->orgs_interval, "bool", ti, step.orgs[i].restricted);
    }
  }
  for (size_t i = 0; i < step.n_notes && a->notifications; i++)
    notify(a, &step.notes[i]);
  if (step.log_left_out) {
    td_words_orgs_left_out(&a->policy, &step, line, sizeof(line));
    WARNING(LOG_PREFIX "%s", line);
  }
}

static void on_done(td_http_conn_t *c, const td_poll_t *poll, void *unused) {
  (void)unused;
  account_t *a = td_http_conn_user(c);
  if (c == a->orgs_conn) {
    orgs_done(a, poll);
    return;
  }
  td_step_t step;
  double now = CDTIME_T_TO_DOUBLE(cdtime());
  td_state_step(&a->state, &a->policy, poll, now, &step);
  dispatch_step(a, &step, 1);
  /* Only failures after a connection was made are paced: a refused
   * connection or an unknown host costs nothing to try again, and a
   * transfer reported with another's error tried nothing. */
  int answered = poll->http_status > 0 || !td_http_conn_tried(c);
  td_pace_record(&a->pace, answered, now, CDTIME_T_TO_DOUBLE(a->interval),
                 (unsigned)a->unreachable_after);
  sstrncpy(a->pace_error, poll->error != NULL ? poll->error : "",
           sizeof(a->pace_error));
}

/* A poll not attempted because the API has been silent: reported as the
 * last attempt's failure, so api_reachable 0 keeps coming every interval
 * and nothing new is logged. */
static void paced_poll(account_t *a, double now) {
  td_poll_t poll = {
      .http_status = 0,
      .error = a->pace_error[0] != '\0' ? a->pace_error : "no answer",
      .body = TD_JSON_OK,
      .retry_after = -1,
  };
  td_step_t step;
  td_pace_skipped(&a->pace);
  td_state_step(&a->state, &a->policy, &poll, now, &step);
  dispatch_step(a, &step, 1);
}

/* ---- reading ---- */

/* 1 when a schedule is due at now, moving it to its next time. */
static int due(double *next, cdtime_t every, double now, double slack) {
  double interval = CDTIME_T_TO_DOUBLE(every);
  /* The wall clock went back: poll now rather than wait for it to catch
   * up with a schedule made before the step. */
  if (*next - now > interval + slack)
    *next = now;
  if (now + slack < *next)
    return 0;
  *next += interval;
  if (*next <= now)
    *next = now + interval; /* fell behind: skip, do not burst */
  return 1;
}

/* Starts the organizations poll when it is due; the token is loaded. */
static void orgs_poll(account_t *a, double now, double slack) {
  if (a->orgs_conn == NULL || !due(&a->orgs_next_due, a->orgs_interval, now,
                                   slack))
    return;
  if (td_http_start(a->orgs_conn) < 0)
    ERROR(LOG_PREFIX "account \"%s\": libcurl could not start the "
                     "organizations poll.",
          a->name);
}

/* Starts the account's poll if it is due. */
static void account_poll(account_t *a, double now, double slack) {
  if (!due(&a->next_due, a->interval, now, slack))
    return;
  if (!td_state_may_poll(&a->state, now)) {
    td_step_t step = {0};
    td_state_tick(&a->state, &a->policy, now, &step);
    dispatch_step(a, &step, 0);
    return;
  }
  if (token_load(a) != 0)
    return;
  orgs_poll(a, now, slack);
  if (!td_pace_may_try(&a->pace, now, slack)) {
    paced_poll(a, now);
    return;
  }
  int rc = td_http_start(a->conn);
  if (rc == 0)
    a->overlap_logged = false;
  else if (rc == 1 && !a->overlap_logged) {
    WARNING(LOG_PREFIX "account \"%s\": the previous poll is still running; "
                       "polls are skipped until it ends.",
            a->name);
    a->overlap_logged = true;
  } else if (rc < 0)
    ERROR(LOG_PREFIX "account \"%s\": libcurl could not start the poll.",
          a->name);
}

static int tdc_read(user_data_t *ud) {
  (void)ud;
  /* First report what finished since the last call (a poll whose Timeout
   * ends right at this tick), so its account can be polled again now. */
  if (td_http_running(http) > 0 && td_http_run(http, 0, on_done, NULL) != 0) {
    ERROR(LOG_PREFIX "libcurl's multi handle failed.");
    return -1;
  }
  double now = CDTIME_T_TO_DOUBLE(cdtime());
  double slack = CDTIME_T_TO_DOUBLE(tick) / 2;
  for (size_t i = 0; i < accounts_num; i++)
    account_poll(accounts[i], now, slack);
  /* Leave before the next tick; slow transfers go on at the next call. */
  long wait_ms = (long)(CDTIME_T_TO_MS(tick) * TD_POLL_SHARE);
  if (td_http_run(http, wait_ms, on_done, NULL) != 0) {
    ERROR(LOG_PREFIX "libcurl's multi handle failed.");
    return -1;
  }
  return 0;
}

/* ---- life cycle ---- */

static long gcd(long a, long b) {
  while (b != 0) {
    long t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Completes an account once collectd's interval is known and makes its
 * handle. Returns 0, or -1 after logging. */
static int account_start(account_t *a, double now) {
  if (a->interval == 0)
    a->interval = plugin_get_interval();
  double interval = CDTIME_T_TO_DOUBLE(a->interval);
  if (a->timeout == 0)
    a->timeout = interval < TD_DEFAULT_TIMEOUT ? interval : TD_DEFAULT_TIMEOUT;
  /* A fractional Interval comes back from cdtime_t a hair short (0.1 as
   * 0.0999...): Timeout equal to it must still be accepted. */
  if (a->timeout > interval + 1e-6) {
    ERROR(LOG_PREFIX "account \"%s\": option Timeout %g is longer than the "
                     "interval (%g s).",
          a->name, a->timeout, interval);
    return -1;
  }
  a->policy = (td_policy_t){
      .account = a->name,
      .has_expiry = a->expires_text != NULL,
      .warning_days = a->warning_days,
      .failure_days = a->failure_days,
      .unreachable_after = (unsigned)a->unreachable_after,
      .expect_user = a->expect_user,
      .tls_warning_days = a->tls_warning_days,
      .tls_failure_days = a->tls_failure_days,
      .usage_warning_percent = a->usage_warning_percent,
  };
  if (a->expires_text != NULL)
    td_time_parse_utc(a->expires_text, &a->policy.expires);
  td_state_init(&a->state);
  td_orgstate_init(&a->orgs_state);
  td_pace_init(&a->pace);
  a->next_due = now;
  td_http_opts_t o = {
      .url = a->url,
      .ca_cert = a->ca_cert,
      .verify_peer = a->verify_peer,
      .verify_host = a->verify_host,
      /* A poll always ends before the next one is due, even with Timeout
       * equal to Interval, so no poll is skipped for a hanging API. */
      .timeout = a->timeout < interval * TD_POLL_SHARE
                     ? a->timeout
                     : interval * TD_POLL_SHARE,
      .proxy = a->proxy,
  };
  char proxy[320];
  if (td_url_proxy_describe(o.url, o.proxy, proxy, sizeof(proxy)))
    INFO(LOG_PREFIX "account \"%s\": using proxy %s.", a->name, proxy);
  const char *why;
  a->conn = td_http_conn_new(http, &o, a, &why);
  if (a->conn == NULL) {
    ERROR(LOG_PREFIX "account \"%s\": libcurl refused the settings: %s.",
          a->name, why);
    return -1;
  }
  if (a->collect_orgs) {
    o.url = a->orgs_url;
    o.organizations = 1;
    a->orgs_next_due = now;
    if ((a->orgs_conn = td_http_conn_new(http, &o, a, &why)) == NULL) {
      ERROR(LOG_PREFIX "account \"%s\": libcurl refused the organizations "
                       "settings: %s.",
            a->name, why);
      return -1;
    }
  }
  if (!a->verify_peer || !a->verify_host)
    WARNING(LOG_PREFIX "account \"%s\": TLS verification is off; the token "
                       "goes to whoever answers.",
            a->name);
  return 0;
}

/* Each account keeps a connection open (two with CollectOrganizations):
 * with hundreds of accounts, collectd's usual soft limit of 1024 open files
 * runs out. Raise the soft limit as far as the hard one allows. */
static void ensure_fd_limit(size_t connections) {
  struct rlimit rl;
  rlim_t want = (rlim_t)connections + 256; /* the daemon's own files too */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
    return;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
                    ? want
                    : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
    INFO(LOG_PREFIX "raised the open-file limit from %llu to %llu for %zu "
                    "kept connections.",
         (unsigned long long)was, (unsigned long long)rl.rlim_cur,
         connections);
  if (rl.rlim_cur < want)
    WARNING(LOG_PREFIX "%zu kept connections need about %llu open files; "
                       "the hard limit is %llu (raise LimitNOFILE).",
            connections, (unsigned long long)want,
            (unsigned long long)rl.rlim_max);
}

static int tdc_init(void) {
  if (http != NULL)
    return 0; /* init runs again after a reload of other plugins */
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
    ERROR(LOG_PREFIX "curl_global_init failed.");
    return -1;
  }
  curl_ready = true;
  if ((http = td_http_new()) == NULL) {
    ERROR(LOG_PREFIX "could not create libcurl's multi handle.");
    return -1;
  }
  double now = CDTIME_T_TO_DOUBLE(cdtime());
  size_t kept = 0;
  long tick_ms = 0, shortest_ms = 0;
  for (size_t i = 0; i < accounts_num; i++) {
    if (account_start(accounts[i], now) != 0) {
      ERROR(LOG_PREFIX "account \"%s\" is skipped.", accounts[i]->name);
      account_free(accounts[i]);
      continue;
    }
    tick_ms = gcd(tick_ms, (long)CDTIME_T_TO_MS(accounts[i]->interval));
    if (shortest_ms == 0 ||
        (long)CDTIME_T_TO_MS(accounts[i]->interval) < shortest_ms)
      shortest_ms = (long)CDTIME_T_TO_MS(accounts[i]->interval);
    if (accounts[i]->collect_orgs)
      tick_ms = gcd(tick_ms, (long)CDTIME_T_TO_MS(accounts[i]->orgs_interval));
    accounts[kept++] = accounts[i];
  }
  accounts_num = kept;
  if (accounts_num == 0) {
    ERROR(LOG_PREFIX "no usable <Account> block; the plugin does nothing.");
    return -1;
  }
  /* Intervals like 60 and 60.001 s would make the tick 1 ms: keep it at
   * TD_MIN_TICK_MS or the shortest interval, whichever is smaller. */
  if (tick_ms < TD_MIN_TICK_MS)
    tick_ms = TD_MIN_TICK_MS < shortest_ms ? TD_MIN_TICK_MS : shortest_ms;
  size_t connections = 0;
  for (size_t i = 0; i < accounts_num; i++)
    connections += accounts[i]->collect_orgs ? 2 : 1;
  ensure_fd_limit(connections);
  tick = MS_TO_CDTIME_T(tick_ms);
  return plugin_register_complex_read(NULL, PLUGIN_NAME, tdc_read, tick,
                                      NULL);
}

static int tdc_shutdown(void) {
  for (size_t i = 0; i < accounts_num; i++)
    account_free(accounts[i]);
  free(accounts);
  accounts = NULL;
  accounts_num = 0;
  td_http_free(http);
  http = NULL;
  if (curl_ready)
    curl_global_cleanup();
  curl_ready = false;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, tdc_config);
  plugin_register_init(PLUGIN_NAME, tdc_init);
  plugin_register_shutdown(PLUGIN_NAME, tdc_shutdown);
}
