/* telemetrydeck-check: one poll of TelemetryDeck's users/info endpoint,
 * reported the way Nagios, Icinga and their relatives expect: a single
 * status line with performance data and an exit code of 0 (OK), 1
 * (WARNING), 2 (CRITICAL) or 3 (UNKNOWN). Built from the plugin's own core
 * (td_answer, td_state, td_words), settings (td_settings), token module
 * (td_token) and HTTP layer (td_http), so it checks its options and judges
 * a token and its file exactly as the plugin does; its exit status is the
 * core's verdict as td_nagios maps it.
 *
 * The token is read from a file or from the environment, never from the
 * command line, where ps would show it. It is never printed. */
#ifdef HAVE_CONFIG_H
#include "td_config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "td_check_config.h"
#include "td_defaults.h"
#include "td_file.h"
#include "td_http.h"
#include "td_nagios.h"
#include "td_settings.h"
#include "td_state.h"
#include "td_text.h"
#include "td_time.h"
#include "td_token.h"
#include "td_url.h"
#include "td_words.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

#define PROGRAM "telemetrydeck-check"
#define ENV_TOKEN "TELEMETRYDECK_TOKEN"

static const char *const status_names[] = {"OK", "WARNING", "CRITICAL",
                                           "UNKNOWN"};

typedef struct {
  td_settings_t set; /* every flag that is a setting, read by td_settings */
  td_nagios_policy_t nagios; /* what the flags add to the verdict */
  int verbose;
  int shape;         /* --shape: print the answer's structure */
  int organizations; /* --organizations: also the organizations' */
} options_t;

/* What the one poll produced, copied out of the done callback. */
typedef struct {
  int done;
  int http_status;
  td_json_status_t body;
  char error[TD_VERDICT_MAX_ERROR + 1];
  td_account_info_t info;
  td_step_t step;
  int has_shape;
  td_shape_result_t shape;
} outcome_t;

/* The organizations answer, polled for --shape --organizations only. */
typedef struct {
  int done;
  int has_shape;
  td_shape_result_t shape;
} orgs_outcome_t;

typedef struct {
  td_state_t state;
  td_policy_t policy;
  outcome_t *out;
} poll_ctx_t;

static td_token_t token;

static void wipe_token(void) { td_token_wipe(&token); }

/* Prints the UNKNOWN line for a problem found before the poll could be
 * judged and exits. Never given the token, nor argv text that could hold
 * it. hint: add a pointer to --help (for mistakes in the command line). */
static void vunknown(int hint, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0), noreturn));
static void vunknown(int hint, const char *fmt, va_list ap) {
  fputs("TELEMETRYDECK UNKNOWN - ", stdout);
  vprintf(fmt, ap);
  fputs("\n", stdout);
  fflush(stdout);
  if (hint)
    fprintf(stderr, "Try '" PROGRAM " --help' for more information.\n");
  wipe_token();
  exit(TD_NAGIOS_UNKNOWN);
}

/* A mistake in the command line. */
static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vunknown(1, fmt, ap);
}

/* Anything else that leaves the state unknown (no usable token, a fault
 * of libcurl). */
static void unknown(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void unknown(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vunknown(0, fmt, ap);
}

/* The help text is laid out as it prints. */
/* clang-format off */
static void print_help(void) {
  printf(
      "Usage: " PROGRAM " [OPTION]...\n"
      "   or: " PROGRAM " --config FILE [--verbose]\n"
      "Polls TelemetryDeck's users/info endpoint once with a personal access\n"
      "token and reports whether the token works, in the monitoring-plugins\n"
      "convention: one status line with performance data, and exit status\n"
      "0 OK, 1 WARNING, 2 CRITICAL or 3 UNKNOWN.\n"
      "\n"
      "The token is read from --token-file, or else from the environment\n"
      "variable " ENV_TOKEN ". It is never accepted on the command line.\n"
      "\n"
      "Options:\n"
      "  -f, --token-file=FILE   read the token from FILE (one line)\n"
      "  -u, --url=URL           endpoint to poll (default:\n"
      "                          " TD_DEFAULT_URL ")\n"
      "      --allow-plaintext   allow a plain http URL to a host that is not\n"
      "                          loopback (sends the token unencrypted)\n"
      "  -t, --timeout=SECONDS   limit for the whole request (default %g)\n"
      "      --ca-cert=FILE      PEM file of CA certificates to trust instead\n"
      "                          of the system trust store\n"
      "      --proxy=URL         go through this proxy (http, https or\n"
      "                          socks5h; \"\" for none); without it, an https\n"
      "                          URL takes https_proxy or all_proxy from the\n"
      "                          environment and a plain http URL no proxy\n"
      "  -4, -6, --address-family=any|ipv4|ipv6\n"
      "                          connect over IPv4 or IPv6 only (default any)\n"
      "      --interface=NAME    connect from this interface or source\n"
      "                          address (if!NAME: an interface only,\n"
      "                          host!ADDRESS: an address only)\n"
      "      --resolve=HOST:PORT:ADDRESS\n"
      "                          connect to ADDRESS for HOST and PORT instead\n"
      "                          of asking DNS; TLS still verifies HOST\n"
      "  -e, --expires=DATE      the token's expiry, as chosen in the\n"
      "                          dashboard: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]\n"
      "                          with Z, UTC or +HH:MM (no suffix: UTC)\n"
      "  -w, --warning-days=N    WARNING when N days or fewer are left\n"
      "                          (default %g)\n"
      "  -c, --critical-days=N   CRITICAL when N days or fewer are left\n"
      "                          (default %g)\n"
      "      --tls-warning-days=N   WARNING when the API's TLS certificate\n"
      "                          has N days or fewer left (default %g)\n"
      "      --tls-critical-days=N  CRITICAL when it has N days or fewer\n"
      "                          left (default %g)\n"
      "      --time-warning=SECONDS   WARNING when the answer takes longer\n"
      "                          (default: no limit)\n"
      "      --time-critical=SECONDS  CRITICAL when the answer takes longer\n"
      "                          (default: no limit)\n"
      "      --outage-state=STATE  the status of an outage (no answer,\n"
      "                          timeout, TLS failure, HTTP 5xx): warning,\n"
      "                          critical or unknown (default critical)\n"
      "      --expect-user=USER  the account id or e-mail address the token\n"
      "                          must belong to; another user is CRITICAL\n"
      "  -v, --verbose           add lines with the account id, e-mail,\n"
      "                          organization and HTTP status\n"
      "      --shape             add the structure of the answer: key paths,\n"
      "                          JSON types, array lengths, the status and the\n"
      "                          headers that matter; never a value\n"
      "      --organizations     with --shape, also poll the organizations\n"
      "                          list (URL with /users/info replaced by\n"
      "                          /organizations) and show its structure\n"
      "      --config=FILE       instead: check every account of the\n"
      "                          <Plugin telemetrydeck> blocks of a collectd\n"
      "                          configuration and its Includes, one line\n"
      "                          each (only --verbose goes with it)\n"
      "  -h, --help              show this help and exit (status 3)\n"
      "  -V, --version           show the version and exit (status 3)\n"
      "\n"
      "Exit status:\n"
      "  0  OK: the token works (and is not close to --expires)\n"
      "  1  WARNING: the API is rate limiting (HTTP 429), or --expires is\n"
      "     --warning-days or fewer away\n"
      "  2  CRITICAL: the token is rejected (HTTP 401, 402 or 403, or\n"
      "     another user than --expect-user), the API is unreachable (no\n"
      "     answer, timeout, TLS failure, HTTP 5xx; see --outage-state), or\n"
      "     --expires is --critical-days or fewer away or past\n"
      "  3  UNKNOWN: bad usage, no usable token, or an answer that cannot be\n"
      "     judged (an unusable HTTP 200 body, an unexpected HTTP status)\n"
      "  Of several findings the worst counts: CRITICAL, then UNKNOWN, then\n"
      "  WARNING, then OK.\n"
      "\n"
      "See telemetrydeck-check(1) and collectd-telemetrydeck(5).\n",
      TD_DEFAULT_TIMEOUT, TD_DEFAULT_WARNING_DAYS, TD_DEFAULT_FAILURE_DAYS,
      TD_DEFAULT_TLS_WARNING_DAYS, TD_DEFAULT_TLS_FAILURE_DAYS);
}
/* clang-format on */

static void print_version(void) {
  printf(PROGRAM " (collectd-telemetrydeck) " PACKAGE_VERSION "\n");
  printf("libcurl: %s\n", curl_version());
}

/* The name of the option at argv[i], without any "=value" part, which
 * might be a secret. */
static void option_name(const char *arg, char *dst, size_t size) {
  size_t n = strcspn(arg, "=");
  if (n >= size)
    n = size - 1;
  memcpy(dst, arg, n);
  dst[n] = '\0';
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] == 0x7f)
      dst[i] = '?';
}

enum {
  OPT_ALLOW_PLAINTEXT = 256,
  OPT_CA_CERT,
  OPT_EXPECT_USER,
  OPT_PROXY,
  OPT_SHAPE,
  OPT_ORGANIZATIONS,
  OPT_TOKEN, /* refused */
  OPT_ADDRESS_FAMILY,
  OPT_INTERFACE,
  OPT_RESOLVE,
  OPT_TLS_WARNING_DAYS,
  OPT_TLS_CRITICAL_DAYS,
  OPT_TIME_WARNING,
  OPT_TIME_CRITICAL,
  OPT_OUTAGE_STATE,
};

/* Hands a flag and its value to td_settings; a refusal is a usage error. */
static void set_flag(options_t *o, const struct option *longopts, int c,
                     const char *value) {
  char flag[64], why[512];
  td_set_error_t e;
  for (const struct option *p = longopts; p->name != NULL; p++) {
    if (p->val != c)
      continue;
    snprintf(flag, sizeof(flag), "--%s", p->name);
    if (td_settings_set_text(&o->set, flag, value, &e) == TD_SET_OK)
      return;
    td_words_setting(&e, why, sizeof(why));
    usage_error("%s", why);
  }
  usage_error("unknown option -%c", isprint(c) ? c : '?');
}

/* -4 and -6: short for --address-family=ipv4 and =ipv6. */
static void set_family(options_t *o, const char *family) {
  char why[512];
  td_set_error_t e;
  if (td_settings_set_text(&o->set, "--address-family", family, &e) ==
      TD_SET_OK)
    return;
  td_words_setting(&e, why, sizeof(why));
  usage_error("%s", why);
}

static void parse_args(int argc, char **argv, options_t *o) {
  static const struct option longopts[] = {
      {"token-file", required_argument, NULL, 'f'},
      {"url", required_argument, NULL, 'u'},
      {"allow-plaintext", no_argument, NULL, OPT_ALLOW_PLAINTEXT},
      {"timeout", required_argument, NULL, 't'},
      {"ca-cert", required_argument, NULL, OPT_CA_CERT},
      {"expires", required_argument, NULL, 'e'},
      {"warning-days", required_argument, NULL, 'w'},
      {"critical-days", required_argument, NULL, 'c'},
      {"expect-user", required_argument, NULL, OPT_EXPECT_USER},
      {"tls-warning-days", required_argument, NULL, OPT_TLS_WARNING_DAYS},
      {"tls-critical-days", required_argument, NULL, OPT_TLS_CRITICAL_DAYS},
      {"time-warning", required_argument, NULL, OPT_TIME_WARNING},
      {"time-critical", required_argument, NULL, OPT_TIME_CRITICAL},
      {"outage-state", required_argument, NULL, OPT_OUTAGE_STATE},
      {"proxy", required_argument, NULL, OPT_PROXY},
      {"address-family", required_argument, NULL, OPT_ADDRESS_FAMILY},
      {"interface", required_argument, NULL, OPT_INTERFACE},
      {"resolve", required_argument, NULL, OPT_RESOLVE},
      {"verbose", no_argument, NULL, 'v'},
      {"shape", no_argument, NULL, OPT_SHAPE},
      {"organizations", no_argument, NULL, OPT_ORGANIZATIONS},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      /* Listed so that "--token" is refused by name instead of being taken
       * as an abbreviation of --token-file. */
      {"token", optional_argument, NULL, OPT_TOKEN},
      {NULL, 0, NULL, 0},
  };
  char name[64];
  int c;
  opterr = 0; /* getopt's own messages would quote "--x=value" whole */
  while ((c = getopt_long(argc, argv, ":f:u:t:e:w:c:vhV46", longopts, NULL)) !=
         -1) {
    switch (c) {
    case 'v':
      o->verbose = 1;
      break;
    case OPT_SHAPE:
      o->shape = 1;
      break;
    case OPT_ORGANIZATIONS:
      o->organizations = 1;
      break;
    case '4':
      set_family(o, "ipv4");
      break;
    case '6':
      set_family(o, "ipv6");
      break;
    /* The monitoring-plugins guidelines: --help and --version are no
     * check, so their status is UNKNOWN, as check_http's. */
    case 'h':
      print_help();
      exit(TD_NAGIOS_UNKNOWN);
    case 'V':
      print_version();
      exit(TD_NAGIOS_UNKNOWN);
    case OPT_TOKEN:
      usage_error("--token is refused: a token on the command line is "
                  "visible to every user through ps; use --token-file FILE "
                  "or the environment variable " ENV_TOKEN);
    case ':':
      option_name(argv[optind - 1], name, sizeof(name));
      usage_error("option %s needs a value", name);
    case '?':
      /* getopt sets optopt to a known long option given "=value" that
       * takes none, e.g. --verbose=1. */
      if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0 &&
          strchr(argv[optind - 1], '=') != NULL) {
        option_name(argv[optind - 1], name, sizeof(name));
        usage_error("option %s takes no value", name);
      }
      if (optopt != 0 && optopt < 256)
        usage_error("unknown option -%c", isprint(optopt) ? optopt : '?');
      option_name(argv[optind - 1], name, sizeof(name));
      usage_error("unknown or ambiguous option %s", name);
    default:
      set_flag(o, longopts, c, optarg);
    }
  }
  if (optind < argc)
    usage_error("unexpected argument (not shown, in case it is a secret); "
                "this command takes options only");
}

/* The organizations list's URL for --organizations: the plugin's
 * default for OrganizationsURL. Returns 0, or -1 when url does not end in
 * /users/info. */
static int orgs_url(const char *url, char *dst, size_t size) {
  static const char users[] = "/users/info";
  size_t len = strlen(url);
  if (len > 0 && url[len - 1] == '/')
    len--;
  size_t base = len >= sizeof(users) - 1 ? len - (sizeof(users) - 1) : 0;
  if (len < sizeof(users) - 1 ||
      strncmp(url + base, users, sizeof(users) - 1) != 0)
    return -1;
  int n = snprintf(dst, size, "%.*s/organizations", (int)base, url);
  return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The rules across the settings, by the plugin's own code; a refusal is a
 * usage error. Returns a warning's words for the status line, or NULL. */
static const char *check_options(options_t *o) {
  static char note[512];
  char why[512];
  td_set_error_t e;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (td_settings_finish(&o->set, (double)now.tv_sec, &e) != TD_SET_OK ||
      td_settings_resolve(&o->set, 0, &e) != TD_SET_OK) {
    td_words_setting(&e, why, sizeof(why));
    usage_error("%s", why);
  }
  char at[1024];
  if (o->organizations && !o->shape)
    usage_error("--organizations goes with --shape");
  if (o->organizations &&
      orgs_url(o->set.string[TD_OPT_URL], at, sizeof(at)) != 0)
    usage_error("--organizations needs a --url ending in /users/info");
  if (td_settings_warnings(&o->set, &e, 1) == 0)
    return NULL;
  td_words_setting(&e, note, sizeof(note));
  return note;
}

/* What the check's own flags add to the verdict, for td_nagios; a word
 * --outage-state does not know is a usage error. */
static void nagios_policy(options_t *o) {
  td_nagios_policy_init(&o->nagios);
  o->nagios.time_warning = o->set.number[TD_OPT_TIME_WARNING];
  o->nagios.time_critical = o->set.number[TD_OPT_TIME_CRITICAL];
  const char *word = o->set.string[TD_OPT_OUTAGE_STATE];
  if (word != NULL && td_nagios_parse_state(word, &o->nagios.outage) != 0)
    usage_error("--outage-state takes warning, critical or unknown");
}

/* Reads the token file with the plugin's rules for TokenFile. Returns
 * NULL, or a note for --verbose (the file's mode). Fills trust with who
 * else could change the file ("" when nobody), for the status line. */
static const char *read_token_file(const char *path, char *trust, size_t size) {
  static char note[128];
  char why[200];
  td_token_status_t st = td_token_from_file(&token, path);
  trust[0] = '\0';
  if (token.file_status == TD_FILE_OK)
    td_words_token_trust(td_token_file_trust(&token, geteuid()), &token,
                         geteuid(), "the token file", trust, size);
  if (st != TD_TOKEN_OK) {
    td_words_token(st, &token, "the token file", "the token", why,
                   sizeof(why));
    unknown("%s", why);
  }
  if (td_token_file_is_open(&token)) {
    td_words_file_mode("the token file", (unsigned)token.file.mode, note,
                       sizeof(note));
    return note;
  }
  return NULL;
}

/* Copies the token from the environment, then wipes and removes the
 * variable so nothing started later could inherit it. */
static void read_token_env(void) {
  char *value = getenv(ENV_TOKEN);
  if (value == NULL || value[0] == '\0')
    unknown("no token: give --token-file FILE or set the environment "
                "variable " ENV_TOKEN);
  char why[200];
  td_token_status_t st = td_token_from_text(&token, value);
  explicit_bzero(value, strlen(value));
  unsetenv(ENV_TOKEN);
  if (st != TD_TOKEN_OK) {
    td_words_token(st, &token, ENV_TOKEN, "the token in " ENV_TOKEN, why,
                   sizeof(why));
    unknown("%s", why);
  }
}

/* Text that came from the network, made fit for a status line: no control
 * characters and no '|', which would start the performance data. */
static void clean(char *dst, size_t size, const char *text, size_t max) {
  td_text_clean(dst, size, text, max);
  for (char *p = dst; *p != '\0'; p++)
    if (*p == '|')
      *p = '/';
}

static void on_done(td_http_conn_t *c, const td_poll_t *poll,
                    const td_xfer_t *x, void *user) {
  (void)c, (void)x;
  poll_ctx_t *ctx = user;
  outcome_t *out = ctx->out;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  out->done = 1;
  out->http_status = poll->http_status;
  out->body = poll->body;
  snprintf(out->error, sizeof(out->error), "%s",
           poll->error != NULL ? poll->error : "");
  if (poll->info != NULL)
    out->info = *poll->info;
  if (poll->shape != NULL) {
    out->has_shape = 1;
    out->shape = *poll->shape;
  }
  td_state_step(&ctx->state, &ctx->policy, poll,
                (double)now.tv_sec + (double)now.tv_nsec / 1e9, &out->step);
}

/* The core's verdict on the poll's problem, worded without an account. */
static const char *problem_text(const poll_ctx_t *ctx, const td_step_t *s) {
  static char text[TD_VERDICT_MAX_TEXT + 1];
  td_words_problem(&ctx->policy, &s->problem, text, sizeof(text));
  return text;
}

/* Appends to a message buffer, with "; " between parts. */
static void add_part(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_part(char *msg, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  td_text_vappend(msg, size, fmt, ap);
  va_end(ap);
}

/* The step's note of an event, or NULL. */
static const td_note_t *note_of(const td_step_t *s, td_event_t ev) {
  for (size_t i = 0; i < s->n_notes && i < TD_STATE_MAX_NOTES; i++)
    if (s->notes[i].event == ev)
      return &s->notes[i];
  return NULL;
}

/* The words of the poll's verdict, by the core's problem kind. */
static void verdict_words(const poll_ctx_t *ctx, const outcome_t *r, char *msg,
                          size_t size) {
  const td_step_t *s = &r->step;
  const td_note_t *n;
  char who[TD_EXTRACT_MAX_STRING + 1], why[80];
  switch (s->problem.kind) {
  case TD_PROBLEM_NONE:
    clean(who, sizeof(who),
          r->info.email[0] != '\0' ? r->info.email : r->info.id,
          TD_VERDICT_MAX_REASON);
    add_part(msg, size, "token valid for \"%s\"", who);
    break;
  case TD_PROBLEM_OTHER_USER:
    clean(who, sizeof(who), ctx->policy.expect_user, TD_VERDICT_MAX_REASON);
    add_part(msg, size,
             "the token works but belongs to another user, not \"%s\"", who);
    break;
  case TD_PROBLEM_REJECTED:
    snprintf(why, sizeof(why), "was revoked or has expired");
    if ((n = note_of(s, TD_EV_TOKEN_REJECTED)) != NULL)
      td_words_rejection(n, "its expiry date", why, sizeof(why));
    add_part(msg, size, "%s: the token %s", problem_text(ctx, s), why);
    break;
  case TD_PROBLEM_RATE_LIMITED:
    if ((n = note_of(s, TD_EV_RATE_LIMITED)) != NULL && n->number > 0)
      add_part(msg, size, "%s, Retry-After %.0f s", problem_text(ctx, s),
               n->number);
    else
      add_part(msg, size, "%s", problem_text(ctx, s));
    break;
  default:
    add_part(msg, size, "%s", problem_text(ctx, s));
    break;
  }
}

/* The findings besides the token's verdict: the API's certificate close
 * to its end, a slow answer. */
static void finding_words(const options_t *o, const td_step_t *s, char *msg,
                          size_t size) {
  int tls_noted = 0;
  for (size_t i = 0; i < s->n_notes && i < TD_STATE_MAX_NOTES; i++)
    tls_noted |= s->notes[i].kind == TD_NOTE_TLS_EXPIRY &&
                 s->notes[i].severity != TD_SEV_OKAY;
  if (tls_noted && s->has_tls_timeleft) {
    if (s->tls_timeleft <= 0)
      add_part(msg, size, "the API's TLS certificate has expired");
    else
      add_part(msg, size, "the API's TLS certificate expires in %.1f days",
               s->tls_timeleft / TD_TIME_DAY);
  }
  double limit = 0;
  if (s->has_response_time &&
      td_nagios_time(&o->nagios, s->response_time, &limit) != TD_NAGIOS_OK)
    add_part(msg, size, "the answer took %.3f s, more than %g s",
             s->response_time, limit);
}

/* Judges the poll: the core's verdict, as a status (td_nagios) and in
 * words. Fills msg and returns the status. */
static td_nagios_t judge(const poll_ctx_t *ctx, const options_t *o,
                         const outcome_t *r, char *msg, size_t size) {
  const td_policy_t *pol = &ctx->policy;
  const td_step_t *s = &r->step;
  msg[0] = '\0';
  verdict_words(ctx, r, msg, size);
  /* The text from the core is already free of control characters; keep
   * '|' out of the status line as well. */
  for (char *p = msg; *p != '\0'; p++)
    if (*p == '|')
      *p = '/';
  finding_words(o, s, msg, size);
  /* A rejected token's words say what became of it; its expiry date no
   * longer matters. */
  if (pol->has_expiry && s->problem.kind != TD_PROBLEM_REJECTED) {
    char when[96];
    td_words_token_expiry(s->timeleft <= 0, s->timeleft / TD_TIME_DAY,
                          pol->expires, when, sizeof(when));
    add_part(msg, size, "%s", when);
  }
  return td_nagios_judge(s, &o->nagios);
}

/* A threshold of perfdata: "" when none. */
static const char *threshold(double v, char *dst, size_t size) {
  dst[0] = '\0';
  if (v > 0)
    snprintf(dst, size, "%g", v);
  return dst;
}

static void print_perfdata(const options_t *o, const td_policy_t *pol,
                           const outcome_t *r) {
  const td_step_t *s = &r->step;
  const char *sep = " | ";
  char warn[32], crit[32];
  /* Microseconds, the precision check_http gives. */
  if (s->has_response_time) {
    printf("%sresponse_time=%.6fs;%s;%s;0", sep, s->response_time,
           threshold(o->nagios.time_warning, warn, sizeof(warn)),
           threshold(o->nagios.time_critical, crit, sizeof(crit)));
    sep = " ";
  }
  printf("%sapi_reachable=%d;;;0;1", sep, s->api_reachable ? 1 : 0);
  if (s->token_valid >= 0)
    printf(" token_valid=%d;;;0;1", s->token_valid);
  /* In days, as the thresholds are given; the label says so. (The
   * plugin's timeleft values are seconds.) */
  if (pol->has_expiry)
    printf(" days_left=%.3f;%g:;%g:;0", s->timeleft / TD_TIME_DAY,
           pol->warning_days, pol->failure_days);
  /* The API's own certificate, against the TLS days thresholds. */
  if (s->has_tls_timeleft)
    printf(" tls_days_left=%.3f;%g:;%g:;0", s->tls_timeleft / TD_TIME_DAY,
           pol->tls_warning_days, pol->tls_failure_days);
}

static void print_verbose(const options_t *o, const outcome_t *r,
                          const char *token_source, const char *file_note) {
  char text[TD_EXTRACT_MAX_STRING + 1];
  char url[512];
  clean(url, sizeof(url), o->set.string[TD_OPT_URL], sizeof(url) - 1);
  printf("URL: %s\n", url);
  printf("token: %s (not shown)\n", token_source);
  if (file_note != NULL)
    printf("note: %s\n", file_note);
  if (!td_token_has_prefix(&token)) {
    td_words_token_prefix(text, sizeof(text));
    printf("note: %s\n", text);
  }
  if (r->http_status > 0)
    printf("HTTP status: %d\n", r->http_status);
  else
    printf("HTTP status: none\n");
  if (r->error[0] != '\0') {
    clean(text, sizeof(text), r->error, TD_VERDICT_MAX_ERROR);
    printf("transfer error: %s\n", text);
  }
  if (r->step.has_response_time)
    printf("response time: %.3f s\n", r->step.response_time);
  if (r->step.has_tls_timeleft)
    printf("API's TLS certificate: %.1f days left\n",
           r->step.tls_timeleft / TD_TIME_DAY);
  if (r->http_status != 200 || r->body != TD_JSON_OK) {
    if (r->body == TD_JSON_OK && r->info.reason[0] != '\0') {
      clean(text, sizeof(text), r->info.reason, TD_VERDICT_MAX_REASON);
      printf("API reason: %s\n", text);
    }
    return;
  }
  if (r->info.id[0] != '\0') {
    clean(text, sizeof(text), r->info.id, TD_EXTRACT_MAX_STRING);
    printf("account id: %s\n", text);
  }
  if (r->info.email[0] != '\0') {
    clean(text, sizeof(text), r->info.email, TD_EXTRACT_MAX_STRING);
    printf("e-mail: %s%s\n", text,
           r->info.email_verified == 1   ? " (verified)"
           : r->info.email_verified == 0 ? " (not verified)"
                                         : "");
  }
  if (r->info.org_name[0] != '\0') {
    clean(text, sizeof(text), r->info.org_name, TD_EXTRACT_MAX_STRING);
    printf("organization: %s\n", text);
  }
}

static double now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_orgs_done(td_http_conn_t *c, const td_poll_t *poll,
                         const td_xfer_t *x, void *user) {
  (void)c, (void)x;
  orgs_outcome_t *out = user;
  out->done = 1;
  if (poll->shape != NULL) {
    out->has_shape = 1;
    out->shape = *poll->shape;
  }
}

/* --shape: what the answer looked like, without a value. */
static void print_shape(const char *what, const td_shape_result_t *r) {
  char line[TD_SHAPE_MAX_LINE + 1];
  printf("shape of the %s answer (no values):\n", what);
  if (r == NULL || r->protocol[0] == '\0') {
    printf("  no HTTP answer\n");
    return;
  }
  printf("  %s %d\n", r->protocol, r->status);
  for (size_t i = 0; i < r->n_headers; i++)
    printf("  header %s\n", r->headers[i]);
  for (size_t i = 0; i < r->count; i++) {
    td_shape_line(&r->paths[i], line, sizeof(line));
    printf("  %s\n", line);
  }
  if (r->dropped > 0)
    printf("  (%zu more paths left out)\n", r->dropped);
  if (r->body != TD_JSON_OK)
    printf("  body: %s\n", td_words_json(r->body));
}

/* Makes the handle, runs the one poll of url and reports it to ev with
 * ctx; *finished tells whether it was. Returns 0, or -1 with a reason in
 * *why when libcurl itself failed. */
static int run_poll(const options_t *o, const char *url, int organizations,
                    const td_http_events_t *ev, void *ctx, const int *finished,
                    const char **why) {
  td_http_opts_t ho;
  td_settings_http(&o->set, 0, &ho);
  ho.url = url;
  ho.organizations = organizations;
  ho.shape = o->shape;
  int rc = -1;
  td_http_t *h = td_http_new();
  td_http_conn_t *c = NULL;
  *why = "could not create libcurl's multi handle";
  if (h == NULL)
    return -1;
  c = td_http_conn_new(h, &ho, ctx, why);
  if (c == NULL)
    goto out;
  *why = "libcurl refused the token";
  if (td_http_set_token(c, token.text) != 0)
    goto out;
  *why = "libcurl could not start the request";
  if (td_http_start(c, ho.timeout) != 0)
    goto out;
  /* libcurl ends the transfer at the timeout; the extra seconds are only
   * a guard against a transfer that never reports back. */
  double until = now_mono() + ho.timeout + 5;
  *why = "libcurl's multi handle failed";
  while (td_http_running(h) > 0 && now_mono() < until)
    if (td_http_run(h, 1000, ev, ctx) != 0)
      goto out;
  *why = "the request did not end in time";
  if (!*finished)
    goto out;
  rc = 0;
out:
  td_http_conn_free(c);
  td_http_free(h);
  return rc;
}

int main(int argc, char **argv) {
  static options_t o;
  static outcome_t result;
  poll_ctx_t ctx = {.out = &result};
  const char *token_source;
  const char *file_note = NULL;
  const char *why;
  char msg[1024], trust[200] = "";

  int config = td_check_config_main(argc, argv);
  if (config >= 0)
    return config;
  td_settings_init(&o.set, TD_FRONT_CHECK);
  parse_args(argc, argv, &o);
  const char *warning = check_options(&o);
  nagios_policy(&o);
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
    unknown("curl_global_init failed");
  td_settings_policy(&o.set, NULL, &ctx.policy);
  td_state_init(&ctx.state);

  const char *token_file = o.set.string[TD_OPT_TOKEN_FILE];
  if (token_file != NULL) {
    file_note = read_token_file(token_file, trust, sizeof(trust));
    token_source = "from --token-file";
  } else {
    read_token_env();
    token_source = "from the environment variable " ENV_TOKEN;
  }

  const td_http_events_t users_ev = {NULL, on_done, td_words_xfer};
  int rc = run_poll(&o, o.set.string[TD_OPT_URL], 0, &users_ev, &ctx,
                    &result.done, &why);
  static orgs_outcome_t orgs;
  const td_http_events_t orgs_ev = {NULL, on_orgs_done, td_words_xfer};
  const char *orgs_why;
  char orgs_at[1024];
  /* check_options made sure the URL names users/info. */
  if (rc == 0 && o.organizations &&
      orgs_url(o.set.string[TD_OPT_URL], orgs_at, sizeof(orgs_at)) == 0 &&
      run_poll(&o, orgs_at, 1, &orgs_ev, &orgs, &orgs.done, &orgs_why) != 0)
    orgs.has_shape = 0;
  curl_global_cleanup();
  if (rc != 0)
    unknown("%s", why);

  td_nagios_t st = judge(&ctx, &o, &result, msg, sizeof(msg));
  /* Said, as the plugin logs it; the status stays the poll's. */
  if (warning != NULL)
    add_part(msg, sizeof(msg), "%s", warning);
  /* As the plugin warns about it, so does the check. */
  if (trust[0] != '\0') {
    add_part(msg, sizeof(msg), "%s", trust);
    st = td_nagios_worse(st, TD_NAGIOS_WARNING);
  }
  printf("TELEMETRYDECK %s - %s", status_names[st], msg);
  print_perfdata(&o, &ctx.policy, &result);
  printf("\n");
  if (o.verbose)
    print_verbose(&o, &result, token_source, file_note);
  if (o.shape)
    print_shape("users/info", result.has_shape ? &result.shape : NULL);
  if (o.organizations)
    print_shape("organizations", orgs.has_shape ? &orgs.shape : NULL);
  wipe_token();
  td_settings_free(&o.set);
  if (fflush(stdout) != 0)
    return TD_NAGIOS_UNKNOWN;
  return (int)st;
}
