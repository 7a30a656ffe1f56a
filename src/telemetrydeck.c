/* telemetrydeck: the collectd side of the plugin. Reads the <Plugin
 * telemetrydeck> blocks, loads tokens, schedules polls, and turns each
 * finished poll into values, notifications and log lines. The only file
 * that includes collectd's headers; the only one that logs. */
#include "collectd.h"
#include "plugin.h"
#include "utils/common/common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "td_defaults.h"
#include "td_file.h"
#include "td_http.h"
#include "td_orgstate.h"
#include "td_sched.h"
#include "td_settings.h"
#include "td_state.h"
#include "td_text.h"
#include "td_time.h"
#include "td_token.h"
#include "td_url.h"
#include "td_words.h"

#define PLUGIN_NAME "telemetrydeck"
#define LOG_PREFIX PLUGIN_NAME " plugin: "

typedef struct {
  char *name;
  td_settings_t set; /* every option, read and checked by td_settings */
  /* Copied out of set at configuration, for the read thread: */
  const char *token;      /* Token, or NULL; wiped with set */
  const char *token_file; /* TokenFile, or NULL */
  bool verify_peer;
  bool verify_host;
  bool notifications;
  bool collect_timings;
  bool collect_orgs;
  cdtime_t interval;
  cdtime_t orgs_interval;
  double usage_warning_percent;
  int unreachable_after;

  /* Run-time state, set up by init. */
  td_policy_t policy;
  td_state_t state;
  td_http_conn_t *conn;
  td_http_conn_t *orgs_conn;  /* NULL unless CollectOrganizations */
  td_orgstate_t *orgs_state;  /* with CollectOrganizations only: 4 KiB */
  char *active_token;         /* what libcurl holds now; wiped when replaced */
  mode_t warned_mode; /* TokenFile mode last warned about */
  td_text_once_t trust_warned;  /* who else could change TokenFile */
  td_text_once_t token_problem; /* the last token problem logged */
  unsigned job;                 /* td_sched's job of its users/info poll */
  unsigned orgs_job; /* and of its organizations poll, or TD_SCHED_NONE */
  bool first_done;   /* its first poll has finished */
} account_t;

static account_t **accounts;
static size_t accounts_num;
static td_http_t *http;
static bool curl_ready;
/* Set once collectd shuts down (see tdc_flush): from then on nothing is
 * dispatched, since the plugins that would take it may be gone. */
static atomic_bool io_stop;

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
  free(a->orgs_state);
  free_secret(&a->active_token);
  td_settings_free(&a->set);
  free(a->name);
  free(a);
}

/* ---- configuration ---- */

#define TD_CONFIG_VALUES 4 /* values of one option handed on: one is right */

/* Logs an error or a warning of the account's settings, in one line. */
static void setting_log(const account_t *a, const td_set_error_t *e) {
  char why[512];
  td_words_setting(e, why, sizeof(why));
  if (e->status == TD_SET_W_TOKEN_PREFIX) /* a question: no period */
    WARNING(LOG_PREFIX "account \"%s\": %s", a->name, why);
  else if (e->status == TD_SET_W_EXPIRY_FAR)
    WARNING(LOG_PREFIX "account \"%s\": %s.", a->name, why);
  else
    ERROR(LOG_PREFIX "account \"%s\": %s.", a->name, why);
}

/* collectd's interval in seconds as the operator wrote it: cdtime_t counts
 * 2^-30 s, so 0.1 comes back as 0.09999999963, and Timeout 0.1 would be
 * longer. Rounding to the nanosecond gives back any value written with up
 * to nine decimals. */
static double collectd_interval(void) {
  return (double)(long long)(CDTIME_T_TO_DOUBLE(plugin_get_interval()) * 1e9 +
                             0.5) /
         1e9;
}

/* Hands one option, with the values collectd read, to td_settings.
 * Returns 0, or -1 after logging. */
static int account_option(account_t *a, const oconfig_item_t *ci) {
  td_value_t v[TD_CONFIG_VALUES] = {{0}};
  size_t n = ci->values_num < TD_CONFIG_VALUES ? (size_t)ci->values_num
                                               : TD_CONFIG_VALUES;
  td_set_error_t e;
  for (size_t i = 0; i < n; i++) {
    const oconfig_value_t *cv = ci->values + i;
    if (cv->type == OCONFIG_TYPE_STRING)
      v[i] = (td_value_t){.kind = TD_KIND_STRING, .string = cv->value.string};
    else if (cv->type == OCONFIG_TYPE_NUMBER)
      v[i] = (td_value_t){.kind = TD_KIND_NUMBER, .number = cv->value.number};
    else
      v[i] = (td_value_t){.kind = TD_KIND_BOOL, .boolean = cv->value.boolean};
  }
  if (td_settings_set(&a->set, ci->key, v, n, &e) == TD_SET_OK)
    return 0;
  setting_log(a, &e);
  return -1;
}

/* What the read thread looks at every poll, out of the settings. */
static void account_copy(account_t *a) {
  const td_settings_t *s = &a->set;
  a->token = s->string[TD_OPT_TOKEN];
  a->token_file = s->string[TD_OPT_TOKEN_FILE];
  a->verify_peer = s->boolean[TD_OPT_VERIFY_PEER];
  a->verify_host = s->boolean[TD_OPT_VERIFY_HOST];
  a->notifications = s->boolean[TD_OPT_NOTIFICATIONS];
  a->collect_timings = s->boolean[TD_OPT_COLLECT_TIMINGS];
  a->collect_orgs = s->boolean[TD_OPT_COLLECT_ORGS];
  a->interval = DOUBLE_TO_CDTIME_T(s->interval);
  a->orgs_interval = DOUBLE_TO_CDTIME_T(s->number[TD_OPT_ORGS_INTERVAL]);
  a->usage_warning_percent = s->number[TD_OPT_USAGE_WARNING];
  a->unreachable_after = (int)s->number[TD_OPT_UNREACHABLE_AFTER];
}

static account_t *account_find(const char *name) {
  for (size_t i = 0; i < accounts_num; i++)
    if (strcmp(accounts[i]->name, name) == 0)
      return accounts[i];
  return NULL;
}

/* The account's name: one, valid, and not taken. Returns 0, or -1 after
 * logging. */
static int account_name(account_t *a, oconfig_item_t *ci) {
  char shown[DATA_MAX_NAME_LEN + 1], text[DATA_MAX_NAME_LEN + 128];
  td_account_error_t e;
  if (cf_util_get_string(ci, &a->name) != 0)
    e = TD_ACCOUNT_NO_NAME;
  else if (!td_settings_account_name_ok(a->name))
    e = TD_ACCOUNT_BAD_NAME;
  else if (account_find(a->name) != NULL)
    e = TD_ACCOUNT_TWICE;
  else
    return 0;
  td_text_clean(shown, sizeof(shown), a->name != NULL ? a->name : "",
                DATA_MAX_NAME_LEN);
  td_words_account(e, shown, text, sizeof(text));
  ERROR(LOG_PREFIX "%s.", text);
  return -1;
}

/* Every option of the block, then the rules across them. Returns 0, or -1
 * after logging each error. */
static int account_settings(account_t *a, oconfig_item_t *ci) {
  td_set_error_t e, warnings[2];
  int bad = 0;
  for (int i = 0; i < ci->children_num; i++)
    bad |= account_option(a, ci->children + i) != 0;
  if (bad)
    return -1;
  if (td_settings_finish(&a->set, CDTIME_T_TO_DOUBLE(cdtime()), &e) !=
          TD_SET_OK ||
      td_settings_resolve(&a->set, collectd_interval(), &e) != TD_SET_OK) {
    setting_log(a, &e);
    return -1;
  }
  size_t n = td_settings_warnings(&a->set, warnings, 2);
  for (size_t i = 0; i < n; i++)
    setting_log(a, &warnings[i]);
  return 0;
}

/* Reads one <Account> block. Returns 0, or -1 after logging. */
static int config_account(oconfig_item_t *ci) {
  account_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return -1;
  td_settings_init(&a->set, TD_FRONT_PLUGIN);
  if (account_name(a, ci) != 0) {
    account_free(a);
    return -1;
  }
  if (account_settings(a, ci) != 0) {
    account_free(a);
    return -1;
  }
  account_copy(a);
  account_t **grown = realloc(accounts, (accounts_num + 1) * sizeof(*grown));
  if (grown == NULL) {
    account_free(a);
    return -1;
  }
  accounts = grown;
  accounts[accounts_num++] = a;
  return 0;
}

/* Any error fails the configuration, so that collectd -t exits non-zero
 * and a restart with a typo fails where the operator sees it. */
static int tdc_config(oconfig_item_t *ci) {
  char shown[DATA_MAX_NAME_LEN + 1];
  int errors = 0;
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *child = ci->children + i;
    if (strcasecmp(child->key, "Account") == 0) {
      errors += config_account(child) != 0;
      continue;
    }
    char text[DATA_MAX_NAME_LEN + 128];
    td_text_clean(shown, sizeof(shown), child->key, DATA_MAX_NAME_LEN);
    td_words_account(TD_ACCOUNT_NOT_BLOCK, shown, text, sizeof(text));
    ERROR(LOG_PREFIX "%s.", text);
    errors++;
  }
  return errors > 0 ? -1 : 0;
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

/* Warns, once until it changes, when another user than collectd's (or
 * root) could change the TokenFile or replace it. */
static void warn_token_trust(account_t *a, const td_token_t *t,
                             const char *noun) {
  char why[256];
  td_words_token_trust(td_token_file_trust(t, geteuid()), t, geteuid(), noun,
                       why, sizeof(why));
  if (td_text_once(&a->trust_warned, why) && why[0] != '\0')
    WARNING(LOG_PREFIX "account \"%s\": %s.", a->name, why);
}

/* Reads TokenFile (at every poll: a rotated token is picked up at once),
 * warning about a file others can read. Returns 0, or -1 after noting
 * the problem. */
static int token_file_load(account_t *a) {
  static td_token_t t; /* one I/O thread; static keeps 4 KiB off it */
  char why[256], noun[160], path[128];
  td_token_status_t st = td_token_from_file(&t, a->token_file);
  td_text_clean(path, sizeof(path), a->token_file, sizeof(path) - 1);
  snprintf(noun, sizeof(noun), "TokenFile \"%s\"", path);
  if (t.file_status == TD_FILE_OK && td_token_file_is_open(&t) &&
      t.file.mode != a->warned_mode) {
    td_words_file_mode(noun, (unsigned)t.file.mode, why, sizeof(why));
    WARNING(LOG_PREFIX "account \"%s\": %s.", a->name, why);
    a->warned_mode = t.file.mode;
  }
  snprintf(noun, sizeof(noun), "TokenFile \"%s\"", a->token_file);
  if (t.file_status == TD_FILE_OK)
    warn_token_trust(a, &t, noun);
  if (st != TD_TOKEN_OK) {
    td_words_token(st, &t, noun, noun, why, sizeof(why));
    token_problem(a, why);
    td_token_wipe(&t);
    return -1;
  }
  if ((a->active_token == NULL || strcmp(a->active_token, t.text) != 0) &&
      !td_token_has_prefix(&t)) {
    td_words_token_prefix(why, sizeof(why));
    WARNING(LOG_PREFIX "account \"%s\": %s", a->name, why);
  }
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
  if (atomic_load(&io_stop))
    return;
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
  if (atomic_load(&io_stop))
    return;
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
  if (s->token_readable >= 0)
    submit(a, "bool", "token_readable", s->token_readable);
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
  static td_orgstate_step_t step; /* one read thread; 34 KiB off the stack */
  char line[TD_VERDICT_MAX_TEXT + 1], ti[DATA_MAX_NAME_LEN];
  td_orgstate_step(a->orgs_state, a->usage_warning_percent,
                   a->policy.usage_scale, poll, &step);
  td_orgstate_remind(a->orgs_state, a->usage_warning_percent,
                     a->policy.repeat_after, CDTIME_T_TO_DOUBLE(cdtime()),
                     &step);
  td_words_orgstate_step(&a->policy, &step);
  td_words_orgs_scale(&a->policy, &step, line, sizeof(line));
  if (line[0] != '\0')
    WARNING(LOG_PREFIX "%s", line);
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

/* ---- the I/O thread: carries out td_sched's actions ---- */

/* One thread of the plugin's own runs every transfer: collectd's read
 * threads are never held, a stop ends it at once (td_http_wakeup), and a
 * transfer's end is seen when it happens, so libcurl's times are the
 * transfer's own. Everything below runs on it, except where marked. */
static td_sched_t sched;
static unsigned long files_limit; /* the open-file limit, when it bounds */
static account_t **job_account;   /* job index -> account */
static td_act_t *acts;
static pthread_t io_thread;
static bool io_started;
static atomic_bool io_failed;
static bool stop_reported; /* each account heard of io_failed */

/* For collectd -T, which calls the read callback once on the main thread:
 * how many accounts still await their first finished poll, and whether
 * one of them found a problem. */
static pthread_mutex_t first_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t first_cond = PTHREAD_COND_INITIALIZER;
static size_t first_left;
static bool first_bad;

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void) { return CDTIME_T_TO_DOUBLE(cdtime()); }

static void first_poll_done(account_t *a, const td_step_t *s) {
  if (a->first_done)
    return;
  a->first_done = true;
  pthread_mutex_lock(&first_lock);
  if (s->problem.kind != TD_PROBLEM_NONE || s->token_valid == 0 ||
      s->token_readable == 0)
    first_bad = true;
  if (first_left > 0)
    first_left--;
  pthread_cond_broadcast(&first_cond);
  pthread_mutex_unlock(&first_lock);
}

static void users_done(account_t *a, const td_poll_t *poll) {
  td_step_t step;
  td_state_step(&a->state, &a->policy, poll, wall_now(), &step);
  dispatch_step(a, &step, 1);
  if (step.hold > 0)
    td_sched_hold(&sched, a->job, step.hold, mono_now());
  first_poll_done(a, &step);
}

static unsigned job_of(const account_t *a, const td_http_conn_t *c) {
  return c == a->orgs_conn ? a->orgs_job : a->job;
}

/* A transfer ended: the scheduler hears first, then the state. */
static void on_done(td_http_conn_t *c, const td_poll_t *poll,
                    const td_xfer_t *x, void *unused) {
  (void)unused;
  account_t *a = td_http_conn_user(c);
  if (!td_sched_finished(&sched, job_of(a, c), x, mono_now()))
    return; /* started again at once: the poll goes on */
  if (c == a->orgs_conn)
    orgs_done(a, poll);
  else
    users_done(a, poll);
}

static void on_ready(td_http_conn_t *c, int multiplexed, void *unused) {
  (void)unused;
  account_t *a = td_http_conn_user(c);
  td_sched_ready(&sched, job_of(a, c), multiplexed, mono_now());
}

/* A poll reported without a transfer: only the state hears of it. */
static void on_reported(td_http_conn_t *c, const td_poll_t *poll,
                        const td_xfer_t *x, void *unused) {
  (void)x, (void)unused;
  account_t *a = td_http_conn_user(c);
  if (c == a->orgs_conn)
    orgs_done(a, poll);
  else
    users_done(a, poll);
}

static const td_http_events_t transfer_events = {on_ready, on_done,
                                                 td_words_xfer};
static const td_http_events_t report_events = {NULL, on_reported,
                                               td_words_xfer};

static td_http_conn_t *conn_of(const account_t *a, unsigned job) {
  return job == a->orgs_job ? a->orgs_conn : a->conn;
}

/* The token cannot be read: no poll, and the account says so (its
 * organizations poll says nothing of its own). */
static void token_unreadable(account_t *a, unsigned job) {
  td_step_t step;
  td_sched_dropped(&sched, job, mono_now());
  if (job != a->job)
    return;
  td_state_unreadable(&a->state, &a->policy, a->token_problem.last, wall_now(),
                      &step);
  dispatch_step(a, &step, 0);
  first_poll_done(a, &step);
}

static void act_start(account_t *a, const td_act_t *act) {
  td_http_conn_t *c = conn_of(a, act->job);
  if (token_load(a) != 0) {
    token_unreadable(a, act->job);
    return;
  }
  if (td_http_start(c, act->timeout) == 0)
    return;
  td_sched_dropped(&sched, act->job, mono_now());
  td_xfer_t x = {.kind = TD_XFER_NOT_STARTED};
  td_http_report(c, &x, &report_events, NULL);
}

static void carry_out(const td_act_t *act) {
  account_t *a = job_account[act->job];
  td_http_conn_t *c = conn_of(a, act->job);
  td_xfer_t x;
  switch (act->kind) {
  case TD_ACT_START:
    act_start(a, act);
    return;
  case TD_ACT_OVERLAP:
    if (c == a->orgs_conn)
      WARNING(LOG_PREFIX "account \"%s\": the previous organizations poll "
                         "is still running; polls are skipped until it ends.",
              a->name);
    else
      WARNING(LOG_PREFIX "account \"%s\": the previous poll is still "
                         "running; polls are skipped until it ends.",
              a->name);
    return;
  case TD_ACT_HELD: {
    td_step_t step = {0};
    td_state_tick(&a->state, &a->policy, wall_now(), &step);
    dispatch_step(a, &step, 0);
    return;
  }
  case TD_ACT_PACED:
    /* The last attempt's failure again: api_reachable 0 keeps coming
     * every interval, and nothing new is logged. */
    x = *td_http_conn_last(c);
    break;
  case TD_ACT_TAKEN:
    x = *td_http_conn_last(conn_of(job_account[act->from], act->from));
    /* A taken setup timeout is worded with its own Timeout, which is not
     * longer than the other's. */
    x.timeout = sched.jobs[act->job].conf.timeout;
    break;
  case TD_ACT_EXPIRED:
    if (act->from == TD_SCHED_FILES)
      x = (td_xfer_t){.kind = TD_XFER_FILES_LIMIT, .limit = files_limit};
    else if (act->from == TD_SCHED_SETUPS_FULL)
      x = (td_xfer_t){.kind = TD_XFER_SETUPS_FULL, .limit = TD_SCHED_SETUPS};
    else
      x = (td_xfer_t){.kind = TD_XFER_TIMEOUT, .timeout = act->timeout};
    break;
  }
  td_http_report(c, &x, &report_events, NULL);
}

/* Seconds between two looks of collectd's read callback at the thread. */
#define TD_WATCH_INTERVAL 10.0
/* The longest between two looks: a failed I/O thread is reported at the
 * next one, however long the accounts' intervals. */
#define TD_WATCH_MAX_INTERVAL 60.0

/* The longest the thread sleeps without a reason: a bound, not a tick. */
#define TD_IO_MAX_WAIT_MS 1000L

static void *io_main(void *unused) {
  (void)unused;
  size_t cap = td_sched_max_actions(&sched);
  while (!atomic_load(&io_stop)) {
    size_t n = td_sched_step(&sched, mono_now(), acts, cap);
    for (size_t i = 0; i < n && !atomic_load(&io_stop); i++)
      carry_out(&acts[i]);
    double left = td_sched_next(&sched) - mono_now();
    long wait = left <= 0 ? 0 : (long)(left * 1000.0) + 1;
    if (wait > TD_IO_MAX_WAIT_MS)
      wait = TD_IO_MAX_WAIT_MS;
    if (td_http_run(http, wait, &transfer_events, NULL) != 0) {
      /* The log and each account hear of it from the read callback
       * (report_stop): a multi handle fails for want of memory or of
       * descriptors, the moment at which logging and dispatching are
       * least likely to work. */
      atomic_store(&io_failed, true);
      break;
    }
  }
  return NULL;
}

/* ---- collectd's read callback: a watchdog, and collectd -T ---- */

/* collectd -T runs read callbacks once, on its main thread; the daemon
 * runs them on read threads. */
static bool on_main_thread(void) {
  return (pid_t)syscall(SYS_gettid) == getpid();
}

/* The longest -T waits for the first polls, beyond every Timeout. */
#define TD_TEST_READ_SLACK 2.0

static int test_read(void) {
  double longest = 0;
  for (size_t i = 0; i < accounts_num; i++)
    if (accounts[i]->set.timeout > longest)
      longest = accounts[i]->set.timeout;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)(longest + TD_TEST_READ_SLACK) + 1;
  pthread_mutex_lock(&first_lock);
  while (first_left > 0 &&
         pthread_cond_timedwait(&first_cond, &first_lock, &until) == 0)
    ;
  bool bad = first_bad || first_left > 0;
  pthread_mutex_unlock(&first_lock);
  return bad ? -1 : 0;
}

/* The I/O thread's failed multi handle, in one line. */
static void log_stop(void) {
  ERROR(LOG_PREFIX "libcurl's multi handle failed (%s); no account is "
                   "polled any more.",
        td_http_failure(http));
}

/* The I/O thread ended on a failed multi handle: no account is polled
 * any more, and each says so with its FAILURE, once. Runs on a read
 * thread of collectd, after the I/O thread's end, which it waits for
 * (the thread is past its last step), so the accounts are its own. */
static void report_stop(void) {
  if (stop_reported)
    return;
  stop_reported = true;
  if (io_started) {
    pthread_join(io_thread, NULL);
    io_started = false;
  }
  log_stop();
  for (size_t i = 0; i < accounts_num; i++) {
    td_step_t step;
    td_state_stopped(&accounts[i]->state, td_http_failure(http), &step);
    dispatch_step(accounts[i], &step, 0);
  }
}

/* Never waits on the daemon's read threads: the transfers run on the
 * plugin's own thread. */
static int tdc_read(user_data_t *ud) {
  (void)ud;
  if (on_main_thread())
    return test_read();
  if (!atomic_load(&io_failed))
    return 0;
  report_stop();
  return -1;
}

/* ---- life cycle ---- */

/* What the account polls, how often, and where its token comes from
 * (never the token). */
static void log_start(const account_t *a) {
  char url[256], file[160];
  td_text_clean(url, sizeof(url), a->set.string[TD_OPT_URL], sizeof(url) - 1);
  if (a->token_file != NULL) {
    td_text_clean(file, sizeof(file), a->token_file, sizeof(file) - 1);
    INFO(LOG_PREFIX "account \"%s\": polls %s every %g s (Timeout %g s), "
                    "the token from TokenFile \"%s\".",
         a->name, url, a->set.interval, a->set.timeout, file);
  } else
    INFO(LOG_PREFIX "account \"%s\": polls %s every %g s (Timeout %g s), "
                    "the token from the Token option.",
         a->name, url, a->set.interval, a->set.timeout);
}

/* Completes an account once collectd's interval is known and makes its
 * handle. Returns 0, or -1 after logging. */
static int account_start(account_t *a) {
  /* ---- settings: the interval, the policy and the HTTP options ---- */
  td_set_error_t err;
  if (td_settings_resolve(&a->set, collectd_interval(), &err) != TD_SET_OK) {
    setting_log(a, &err);
    return -1;
  }
  a->interval = DOUBLE_TO_CDTIME_T(a->set.interval);
  td_settings_policy(&a->set, a->name, &a->policy);
  td_http_opts_t o;
  td_settings_http(&a->set, 0, &o);
  /* ---- end of settings ---- */
  td_state_init(&a->state);
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
    if ((a->orgs_state = malloc(sizeof(*a->orgs_state))) == NULL) {
      ERROR(LOG_PREFIX "out of memory.");
      return -1;
    }
    td_orgstate_init(a->orgs_state);
    td_settings_http(&a->set, 1, &o);
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
  log_start(a);
  return 0;
}

/* Raises the soft open-file limit for the connections as far as the hard
 * one allows. Returns how many connections may be open at once: 0 for no
 * bound. */
static size_t ensure_fd_limit(size_t connections) {
  struct rlimit rl;
  rlim_t want = (rlim_t)td_sched_files_want(connections);
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
    return 0;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
                    ? want
                    : rl.rlim_max;
  if (rl.rlim_cur <= was || setrlimit(RLIMIT_NOFILE, &rl) != 0)
    rl.rlim_cur = was; /* at the hard limit already, or not allowed */
  else
    INFO(LOG_PREFIX "raised the open-file limit from %llu to %llu for %zu "
                    "kept connections.",
         (unsigned long long)was, (unsigned long long)rl.rlim_cur,
         connections);
  size_t budget = td_sched_files_bound((unsigned long)rl.rlim_cur, connections);
  if (budget == 0)
    return 0; /* room for them all, if less for the rest of the daemon */
  files_limit = (unsigned long)rl.rlim_cur;
  WARNING(LOG_PREFIX "%zu kept connections need about %llu open files; "
                     "the limit is %llu (raise LimitNOFILE): until then at "
                     "most %zu are open at once.",
          connections, (unsigned long long)want,
          (unsigned long long)rl.rlim_cur, budget);
  return budget;
}

/* The scheduler's jobs: each account's users/info poll, and its
 * organizations poll. Returns 0, or -1 after logging. */
static int jobs_start(void) {
  size_t n = 0;
  for (size_t i = 0; i < accounts_num; i++)
    n += accounts[i]->collect_orgs ? 2 : 1;
  td_job_conf_t *conf = calloc(n, sizeof(*conf));
  job_account = calloc(n, sizeof(*job_account));
  if (conf == NULL || job_account == NULL) {
    free(conf);
    ERROR(LOG_PREFIX "out of memory.");
    return -1;
  }
  size_t j = 0;
  for (size_t i = 0; i < accounts_num; i++) {
    account_t *a = accounts[i];
    double interval = CDTIME_T_TO_DOUBLE(a->interval);
    a->job = (unsigned)j;
    job_account[j] = a;
    conf[j++] = (td_job_conf_t){interval, a->set.timeout,
                                (unsigned)a->unreachable_after,
                                td_http_conn_group(a->conn)};
    if (a->orgs_conn == NULL) {
      a->orgs_job = TD_SCHED_NONE;
      continue;
    }
    a->orgs_job = (unsigned)j;
    job_account[j] = a;
    conf[j++] = (td_job_conf_t){
        CDTIME_T_TO_DOUBLE(a->orgs_interval),
        a->set.timeout < interval ? a->set.timeout : interval,
        (unsigned)a->unreachable_after, td_http_conn_group(a->orgs_conn)};
  }
  int rc = td_sched_init(&sched, conf, n, td_http_groups(http), mono_now());
  free(conf);
  if (rc == 0)
    acts = calloc(td_sched_max_actions(&sched), sizeof(*acts));
  if (rc != 0 || acts == NULL) {
    ERROR(LOG_PREFIX "could not set up the schedule of %zu polls.", n);
    return -1;
  }
  first_left = accounts_num;
  return 0;
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
  size_t kept = 0;
  cdtime_t shortest = 0;
  for (size_t i = 0; i < accounts_num; i++) {
    if (account_start(accounts[i]) != 0) {
      ERROR(LOG_PREFIX "account \"%s\" is skipped.", accounts[i]->name);
      account_free(accounts[i]);
      continue;
    }
    if (shortest == 0 || accounts[i]->interval < shortest)
      shortest = accounts[i]->interval;
    accounts[kept++] = accounts[i];
  }
  accounts_num = kept;
  if (accounts_num == 0) {
    ERROR(LOG_PREFIX "no usable <Account> block; the plugin does nothing.");
    return -1;
  }
  size_t connections = 0;
  for (size_t i = 0; i < accounts_num; i++)
    connections += accounts[i]->collect_orgs ? 2 : 1;
  size_t budget = ensure_fd_limit(connections);
  if (jobs_start() != 0)
    return -1;
  if (budget > 0) {
    td_sched_limit(&sched, budget);
    if (td_http_max_connections(http, budget) != 0)
      WARNING(LOG_PREFIX "libcurl refused a bound of %zu connections.", budget);
  }
  atomic_store(&io_stop, false);
  if (plugin_thread_create(&io_thread, io_main, NULL, "telemetrydeck") != 0) {
    ERROR(LOG_PREFIX "could not start its thread.");
    return -1;
  }
  io_started = true;
  /* The read callback only watches the thread: at most every
   * TD_WATCH_INTERVAL, so it costs the daemon a wake-up per poll at no
   * interval, and at least every TD_WATCH_MAX_INTERVAL, so that a failed
   * thread is told within a minute (report_stop). */
  cdtime_t watch = DOUBLE_TO_CDTIME_T(TD_WATCH_INTERVAL);
  cdtime_t most = DOUBLE_TO_CDTIME_T(TD_WATCH_MAX_INTERVAL);
  cdtime_t look = shortest > watch ? shortest : watch;
  return plugin_register_complex_read(NULL, PLUGIN_NAME, tdc_read,
                                      look < most ? look : most, NULL);
}

/* Ends the I/O thread and every dispatch: a transfer that ends while it
 * stops, or an action under way, dispatches nothing (submit_every and
 * notify look at io_stop). Returns once the thread is gone. */
static void io_halt(void) {
  atomic_store(&io_stop, true);
  if (atomic_load(&io_failed) && !stop_reported) {
    stop_reported = true; /* too late to notify: only the log says so */
    log_stop();
  }
  if (!io_started)
    return;
  if (http != NULL)
    (void)td_http_wakeup(http);
  pthread_join(io_thread, NULL);
  io_started = false;
  INFO(LOG_PREFIX "collectd is shutting down; the plugin stopped polling.");
}

/* collectd 5.12's shutdown stops the read and write threads, then flushes
 * every plugin from its main thread (timeout 0, no identifier), then
 * calls the shutdown callbacks in turn, in the order the plugins were
 * loaded: by the time tdc_shutdown runs, a notification plugin loaded
 * before this one may have freed its state. That flush is the first call
 * of shutdown the plugin gets, so the I/O thread ends there. Other
 * flushes (SIGUSR1, the FLUSH command of unixsock or exec) run on threads
 * of their own, and change nothing. */
static int tdc_flush(cdtime_t timeout, const char *identifier,
                     user_data_t *ud) {
  (void)ud;
  if (on_main_thread() && timeout == 0 && identifier == NULL)
    io_halt();
  return 0;
}

static int tdc_shutdown(void) {
  io_halt();
  for (size_t i = 0; i < accounts_num; i++)
    account_free(accounts[i]);
  free(accounts);
  accounts = NULL;
  accounts_num = 0;
  td_http_free(http);
  http = NULL;
  td_sched_free(&sched);
  free(job_account);
  job_account = NULL;
  free(acts);
  acts = NULL;
  if (curl_ready)
    curl_global_cleanup();
  curl_ready = false;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, tdc_config);
  plugin_register_init(PLUGIN_NAME, tdc_init);
  plugin_register_flush(PLUGIN_NAME, tdc_flush, NULL);
  plugin_register_shutdown(PLUGIN_NAME, tdc_shutdown);
}
