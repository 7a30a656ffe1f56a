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

#include "td_http.h"
#include "td_pace.h"
#include "td_state.h"
#include "td_time.h"

#define PLUGIN_NAME "telemetrydeck"
#define LOG_PREFIX PLUGIN_NAME " plugin: "
#define TD_DEFAULT_URL "https://api.telemetrydeckapi.com/api/v3/users/info"
#define TD_TOKEN_MAX 4096          /* bytes of a token, white space trimmed */
#define TD_TOKEN_SLACK 64          /* white space around it a file may hold */
#define TD_DEFAULT_TIMEOUT 10.0    /* seconds, or the interval if shorter */
#define TD_MIN_TICK_MS 100         /* finest scheduling step */
#define TD_POLL_SHARE 0.9          /* of the interval a poll may use */
#define TD_USERS_PATH "/users/info"
#define TD_ORGS_PATH "/organizations"
#define TD_DEFAULT_ORGS_INTERVAL 3600.0 /* seconds */

typedef struct {
  char *name;
  char *token;      /* Token, or NULL; wiped when freed */
  char *token_file; /* TokenFile, or NULL */
  char *url;
  char *ca_cert;
  char *expires_text;
  char *expect_user; /* ExpectUser, or NULL */
  char *orgs_url;    /* OrganizationsURL, or NULL: derived from URL */
  bool verify_peer;
  bool verify_host;
  bool notifications;
  bool allow_plaintext;
  bool collect_timings;
  bool collect_orgs;
  cdtime_t interval;
  cdtime_t orgs_interval; /* 0 until init: collectd's interval */
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
  td_orgs_state_t orgs_state;
  double orgs_next_due;
  char orgs_problem[TD_STATE_MAX_LOG + 1];
  char *active_token; /* what libcurl holds now; wiped when replaced */
  double next_due;    /* epoch seconds */
  mode_t warned_mode; /* TokenFile mode last warned about */
  bool overlap_logged; /* "still running" said since the last start */
  td_pace_t pace;      /* spacing of attempts while the API is silent */
  char pace_error[TD_STATE_MAX_ERROR + 1]; /* the last attempt's error */
  char token_problem[256];
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
  a->tls_warning_days = 14;
  a->tls_failure_days = 3;
  a->collect_orgs = false;
  a->orgs_interval = DOUBLE_TO_CDTIME_T(TD_DEFAULT_ORGS_INTERVAL);
  a->usage_warning_percent = 90;
  a->interval = 0;
  a->timeout = 0;
  a->warning_days = 30;
  a->failure_days = 7;
  a->unreachable_after = 3;
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
  free(a);
}

/* ---- configuration ---- */

typedef enum { OPT_STRING, OPT_BOOL, OPT_TIME, OPT_DOUBLE, OPT_INT } opt_kind_t;

static const struct {
  const char *key;
  opt_kind_t kind;
  size_t offset;
} account_options[] = {
    {"Token", OPT_STRING, offsetof(account_t, token)},
    {"TokenFile", OPT_STRING, offsetof(account_t, token_file)},
    {"URL", OPT_STRING, offsetof(account_t, url)},
    {"CACert", OPT_STRING, offsetof(account_t, ca_cert)},
    {"TokenExpires", OPT_STRING, offsetof(account_t, expires_text)},
    {"ExpectUser", OPT_STRING, offsetof(account_t, expect_user)},
    {"OrganizationsURL", OPT_STRING, offsetof(account_t, orgs_url)},
    {"CollectOrganizations", OPT_BOOL, offsetof(account_t, collect_orgs)},
    {"OrganizationsInterval", OPT_TIME, offsetof(account_t, orgs_interval)},
    {"UsageWarningPercent", OPT_DOUBLE,
     offsetof(account_t, usage_warning_percent)},
    {"VerifyPeer", OPT_BOOL, offsetof(account_t, verify_peer)},
    {"VerifyHost", OPT_BOOL, offsetof(account_t, verify_host)},
    {"Notifications", OPT_BOOL, offsetof(account_t, notifications)},
    {"AllowPlaintext", OPT_BOOL, offsetof(account_t, allow_plaintext)},
    {"CollectTimings", OPT_BOOL, offsetof(account_t, collect_timings)},
    {"TLSExpiryWarningDays", OPT_DOUBLE, offsetof(account_t, tls_warning_days)},
    {"TLSExpiryFailureDays", OPT_DOUBLE, offsetof(account_t, tls_failure_days)},
    {"Interval", OPT_TIME, offsetof(account_t, interval)},
    {"Timeout", OPT_DOUBLE, offsetof(account_t, timeout)},
    {"ExpiryWarningDays", OPT_DOUBLE, offsetof(account_t, warning_days)},
    {"ExpiryFailureDays", OPT_DOUBLE, offsetof(account_t, failure_days)},
    {"UnreachableAfter", OPT_INT, offsetof(account_t, unreachable_after)},
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
    case OPT_TIME:
      rc = cf_util_get_cdtime(ci, field);
      break;
    case OPT_DOUBLE:
      rc = cf_util_get_double(ci, field);
      break;
    case OPT_INT:
      rc = cf_util_get_int(ci, field);
      break;
    }
    if (rc != 0) {
      char shown[160];
      config_values_text(ci, shown, sizeof(shown));
      ERROR(LOG_PREFIX "account \"%s\": option %s %s is not of the right "
                       "type (or count) of value.",
            a->name, ci->key, shown[0] ? shown : "(value not shown)");
    }
    return rc == 0 ? 0 : -1;
  }
  ERROR(LOG_PREFIX "account \"%s\": unknown option \"%s\".", a->name,
        ci->key);
  return -1;
}

/* A token must be one line of printable text: it goes into a header. */
static int token_is_printable(const char *t) {
  for (; *t != '\0'; t++)
    if ((unsigned char)*t < 0x21 || (unsigned char)*t == 0x7f)
      return 0;
  return 1;
}

static void warn_token_prefix(const account_t *a, const char *token) {
  if (strncmp(token, "tdpat_", 6) != 0)
    WARNING(LOG_PREFIX "account \"%s\": the token does not start with "
                       "\"tdpat_\"; is it a TelemetryDeck personal access "
                       "token?",
            a->name);
}

/* OrganizationsURL defaults to URL with ".../users/info" replaced by
 * ".../organizations". Returns 0, or -1 after logging. */
static int account_check_orgs(account_t *a) {
  const char *why;
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
  if (td_http_url_check(a->orgs_url, a->allow_plaintext, &why) != 0) {
    ERROR(LOG_PREFIX "account \"%s\": option OrganizationsURL \"%s\" is "
                     "refused: %s.",
          a->name, a->orgs_url, why);
    return -1;
  }
  if (a->orgs_interval == 0) {
    ERROR(LOG_PREFIX "account \"%s\": option OrganizationsInterval must be "
                     "positive.",
          a->name);
    return -1;
  }
  return 0;
}

/* Checks what can be checked before init. Returns 0, or -1 after logging
 * the option and its offending value (never the token). */
static int account_check(account_t *a) {
  const char *why;
  double expires;
  if ((a->token == NULL) == (a->token_file == NULL)) {
    ERROR(LOG_PREFIX "account \"%s\": exactly one of Token and TokenFile is "
                     "required.",
          a->name);
    return -1;
  }
  if (a->token != NULL && (a->token[0] == '\0' || !token_is_printable(a->token))) {
    ERROR(LOG_PREFIX "account \"%s\": option Token is empty or contains "
                     "spaces or control characters.",
          a->name);
    return -1;
  }
  if (a->token != NULL)
    warn_token_prefix(a, a->token);
  if (a->url == NULL && (a->url = strdup(TD_DEFAULT_URL)) == NULL)
    return -1;
  if (td_http_url_check(a->url, a->allow_plaintext, &why) != 0) {
    ERROR(LOG_PREFIX "account \"%s\": option URL \"%s\" is refused: %s.",
          a->name, a->url, why);
    return -1;
  }
  if (a->expires_text != NULL &&
      td_time_parse_utc(a->expires_text, &expires) != 0) {
    ERROR(LOG_PREFIX "account \"%s\": option TokenExpires \"%s\" is not a "
                     "date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC).",
          a->name, a->expires_text);
    return -1;
  }
  if (a->timeout < 0) {
    ERROR(LOG_PREFIX "account \"%s\": option Timeout %g must be positive.",
          a->name, a->timeout);
    return -1;
  }
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
  if (a->unreachable_after < 1) {
    ERROR(LOG_PREFIX "account \"%s\": option UnreachableAfter %d must be at "
                     "least 1.",
          a->name, a->unreachable_after);
    return -1;
  }
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

/* Logs a token-file problem once, until it changes or goes away. */
static void token_problem(account_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void token_problem(account_t *a, const char *fmt, ...) {
  char msg[sizeof(a->token_problem)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (strcmp(msg, a->token_problem) != 0)
    ERROR(LOG_PREFIX "account \"%s\": %s", a->name, msg);
  sstrncpy(a->token_problem, msg, sizeof(a->token_problem));
}

/* Hands the token to libcurl when it differs from the one it holds. */
static int token_use(account_t *a, const char *token) {
  if (a->active_token != NULL && strcmp(a->active_token, token) == 0)
    return 0;
  char *copy = strdup(token);
  if (copy == NULL || td_http_set_token(a->conn, token) != 0 ||
      (a->orgs_conn != NULL && td_http_set_token(a->orgs_conn, token) != 0)) {
    free_secret(&copy);
    token_problem(a, "could not hand the token to libcurl.");
    return -1;
  }
  if (a->active_token != NULL)
    INFO(LOG_PREFIX "account \"%s\": using a new token.", a->name);
  free_secret(&a->active_token);
  a->active_token = copy;
  return 0;
}

/* Reads the token file into buf (size bytes). Returns 0, or -1 after
 * noting the problem. */
static int token_file_read(account_t *a, char *buf, size_t size) {
  /* O_NONBLOCK: a FIFO must be refused by fstat below, not block a read
   * thread in open. */
  int fd = open(a->token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  struct stat st;
  if (fd < 0) {
    token_problem(a, "cannot open TokenFile \"%s\": %s.", a->token_file,
                  STRERRNO);
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    token_problem(a, "TokenFile \"%s\" is not a regular file.",
                  a->token_file);
    return -1;
  }
  if ((st.st_mode & 077) != 0 && st.st_mode != a->warned_mode) {
    WARNING(LOG_PREFIX "account \"%s\": TokenFile \"%s\" has mode %04o and "
                       "is readable by group or others; chmod 600 it.",
            a->name, a->token_file, (unsigned)(st.st_mode & 07777));
    a->warned_mode = st.st_mode;
  }
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) {
    token_problem(a, "cannot read TokenFile \"%s\": %s.", a->token_file,
                  STRERRNO);
    return -1;
  }
  if ((size_t)n == size - 1) { /* more than any token and its white space */
    token_problem(a, "TokenFile \"%s\" is longer than %d bytes.",
                  a->token_file, TD_TOKEN_MAX);
    return -1;
  }
  buf[n] = '\0';
  return 0;
}

/* Makes sure libcurl holds the account's current token. Returns 0, or -1
 * when there is no usable token (the problem is logged once). */
static int token_load(account_t *a) {
  if (a->token != NULL)
    return token_use(a, a->token);
  char buf[TD_TOKEN_MAX + TD_TOKEN_SLACK + 1];
  int rc = -1;
  if (token_file_read(a, buf, sizeof(buf)) == 0) {
    size_t len = strlen(buf);
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
      buf[--len] = '\0';
    size_t lead = strspn(buf, " \t\r\n");
    memmove(buf, buf + lead, len - lead + 1);
    len -= lead;
    if (len == 0)
      token_problem(a, "TokenFile \"%s\" is empty.", a->token_file);
    else if (len > TD_TOKEN_MAX)
      token_problem(a, "TokenFile \"%s\" is longer than %d bytes.",
                    a->token_file, TD_TOKEN_MAX);
    else if (!token_is_printable(buf))
      token_problem(a, "TokenFile \"%s\" holds more than one line or "
                       "control characters.",
                    a->token_file);
    else {
      if (a->active_token == NULL || strcmp(a->active_token, buf) != 0)
        warn_token_prefix(a, buf);
      rc = token_use(a, buf);
    }
  }
  explicit_bzero(buf, sizeof(buf));
  if (rc == 0 && a->token_problem[0] != '\0') {
    INFO(LOG_PREFIX "account \"%s\": TokenFile \"%s\" is usable again.",
         a->name, a->token_file);
    a->token_problem[0] = '\0';
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
  sstrncpy(n.type, td_note_type(note->kind), sizeof(n.type));
  if (note->instance[0] != '\0')
    snprintf(n.type_instance, sizeof(n.type_instance), "%s-%s",
             td_note_type_instance(note->kind), note->instance);
  else
    sstrncpy(n.type_instance, td_note_type_instance(note->kind),
             sizeof(n.type_instance));
  sstrncpy(n.message, note->message, sizeof(n.message));
  /* -1 only means no plugin handles notifications: not an error. */
  plugin_dispatch_notification(&n);
}

/* Sends what one step produced; polled is 0 for a time-only step. */
static void dispatch_step(const account_t *a, const td_step_t *s, int polled) {
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
    submit(a, "timeleft", "token", s->timeleft_days * 86400.0);
  if (s->has_tls_timeleft)
    submit(a, "timeleft", "tls_certificate", s->tls_timeleft_days * 86400.0);
  for (size_t i = 0; i < s->n_notes && a->notifications; i++)
    notify(a, &s->notes[i]);
  if (s->log[0] != '\0' && s->log_is_problem)
    WARNING(LOG_PREFIX "%s", s->log);
  else if (s->log[0] != '\0')
    INFO(LOG_PREFIX "%s", s->log);
}

/* duration-dns, -connect, -tls, -ttfb, -transfer for a poll that got an
 * answer. */
static void submit_phases(const account_t *a, const td_poll_t *poll) {
  static const char *names[TD_PHASES] = {
      [TD_PHASE_DNS] = "dns",   [TD_PHASE_CONNECT] = "connect",
      [TD_PHASE_TLS] = "tls",   [TD_PHASE_TTFB] = "ttfb",
      [TD_PHASE_TRANSFER] = "transfer",
  };
  if (!a->collect_timings || poll->http_status <= 0)
    return;
  for (int i = 0; i < TD_PHASES; i++)
    submit(a, "duration", names[i], poll->phases[i]);
}

/* gauge-usage_percent-ORG and bool-restricted_mode-ORG, and their notes;
 * an unusable answer is logged once until it changes. */
static void orgs_done(account_t *a, const td_poll_t *poll) {
  char problem[sizeof(a->orgs_problem)] = "";
  if (poll->error != NULL && poll->error[0] != '\0')
    snprintf(problem, sizeof(problem), "no answer: %s", poll->error);
  else if (poll->http_status != 200)
    snprintf(problem, sizeof(problem), "HTTP %d", poll->http_status);
  else if (poll->body != TD_EXTRACT_OK || poll->orgs == NULL)
    snprintf(problem, sizeof(problem), "%s", td_extract_strerror(poll->body));
  if (strcmp(problem, a->orgs_problem) != 0 && problem[0] != '\0')
    WARNING(LOG_PREFIX "account \"%s\": the organizations answer is "
                       "unusable: %s",
            a->name, problem);
  sstrncpy(a->orgs_problem, problem, sizeof(a->orgs_problem));
  if (problem[0] != '\0')
    return;
  td_orgs_step_t step;
  char ti[DATA_MAX_NAME_LEN];
  td_state_orgs_step(&a->orgs_state, &a->policy, poll->orgs, &step);
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
  if (poll->orgs->dropped > 0)
    WARNING(LOG_PREFIX "account \"%s\": only the first %d organizations are "
                       "reported; %zu more were left out.",
            a->name, TD_ORGS_MAX, poll->orgs->dropped);
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
  submit_phases(a, poll);
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
      .body = TD_EXTRACT_OK,
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
  };
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
