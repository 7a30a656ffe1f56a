/* td_check_config: telemetrydeck-check --config FILE. The files are read
 * here and their Include globs expanded with glob(3), as collectd 5.12
 * expands them (sorted matches, a directory's files in strcmp order
 * without dot files, <Include> Filter matched against a file's name, a
 * pattern that matches nothing skipped); td_conf parses each file. Each
 * <Account> goes through td_settings_set, the entry point the plugin's
 * configuration callback uses, with the same values, so the options, the
 * rules and the words are the plugin's. */
#ifdef HAVE_CONFIG_H
#include "td_config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "td_check_config.h"
#include "td_conf.h"
#include "td_file.h"
#include "td_http.h"
#include "td_nagios.h"
#include "td_settings.h"
#include "td_state.h"
#include "td_text.h"
#include "td_time.h"
#include "td_token.h"
#include "td_words.h"

#define PLUGIN "telemetrydeck"
#define MAX_FILES 1024       /* files one configuration may include */
#define MAX_DIR_ENTRIES 4096 /* files of one included directory */
#define NAME_MAX_LEN TD_ACCOUNT_NAME_MAX
#define OPTION_VALUES 4 /* values of one option handed on */
#define LINE_MAX_LEN 1024

static const char *const status_names[] = {"OK", "WARNING", "CRITICAL",
                                           "UNKNOWN"};

/* The files read, by the number td_conf gives their items. */
typedef struct {
  char *path[MAX_FILES];
  unsigned n;
  char why[LINE_MAX_LEN]; /* the first problem, with its file and line */
} files_t;

/* One line of the report: an account, or a problem outside one. */
typedef struct {
  char label[NAME_MAX_LEN + 300];
  char name[NAME_MAX_LEN + 1]; /* "" for a problem outside an account */
  td_nagios_t status;
  char msg[LINE_MAX_LEN];
  int usable;  /* its settings are good: it is polled */
  int refused; /* a configuration error: collectd refuses the file */
  int done;
  td_settings_t set;
  td_policy_t policy;
  td_state_t state;
  td_step_t step;
  td_account_info_t info;
  td_http_conn_t *conn;
} entry_t;

typedef struct {
  entry_t *e;
  size_t n;
} report_t;

/* Appends to a message, with "; " between parts. */
static void say(char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(char *msg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  td_text_vappend(msg, LINE_MAX_LEN, fmt, ap);
  va_end(ap);
}

/* The entry's problem is this error of the <Account> blocks. */
static void account_error(entry_t *e, td_account_error_t err,
                          const char *shown) {
  char text[LINE_MAX_LEN];
  td_words_account(err, shown, text, sizeof(text));
  say(e->msg, "%s", text);
}

/* An item's place: "FILE line N", the path cleaned. */
static void where(const files_t *f, const td_conf_item_t *it, char *dst,
                  size_t size) {
  char path[256];
  td_text_clean(path, sizeof(path), it->file < f->n ? f->path[it->file] : "",
                sizeof(path) - 1);
  snprintf(dst, size, "%s line %u", path, it->line);
}

/* ---- reading the files ---- */

static int load_path(files_t *f, const char *path, const char *filter,
                     unsigned depth, td_conf_item_t *out);

static int problem(files_t *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int problem(files_t *f, const char *path, const char *fmt, ...) {
  char shown[256], why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  td_text_clean(shown, sizeof(shown), path, sizeof(shown) - 1);
  if (f->why[0] == '\0')
    snprintf(f->why, sizeof(f->why), "%s: %s", shown, why);
  return -1;
}

/* Moves sub's items to the end of out: a placeholder item at the end,
 * replaced by them. Returns 0, or -1. */
static int append(td_conf_item_t *out, td_conf_item_t *sub) {
  td_conf_item_t place = {.key = strdup("Include")};
  if (place.key == NULL)
    return -1;
  td_conf_item_t *grown =
      realloc(out->children, (out->n_children + 1) * sizeof(*grown));
  if (grown == NULL) {
    free(place.key);
    return -1;
  }
  out->children = grown;
  out->children[out->n_children++] = place;
  return td_conf_splice(out, out->n_children - 1, sub);
}

/* Replaces each top-level Include of root by what it names. */
static int expand_includes(files_t *f, td_conf_item_t *root, unsigned depth) {
  for (size_t i = 0; i < root->n_children;) {
    const char *path, *filter;
    char at[300];
    int r = td_conf_include(&root->children[i], &path, &filter);
    if (r == 0) {
      i++;
      continue;
    }
    where(f, &root->children[i], at, sizeof(at));
    if (r < 0 || depth + 1 >= TD_CONF_MAX_INCLUDE)
      return problem(
          f, at, "%s",
          td_words_conf(r < 0 ? TD_CONF_E_INCLUDE : TD_CONF_E_INCLUDE_DEEP));
    td_conf_item_t sub = {0};
    if (load_path(f, path, filter, depth + 1, &sub) != 0) {
      td_conf_free(&sub);
      return -1;
    }
    size_t n = sub.n_children;
    if (td_conf_splice(root, i, &sub) != 0) {
      td_conf_free(&sub);
      return problem(f, at, "%s", td_words_conf(TD_CONF_E_ITEMS));
    }
    i += n;
  }
  return 0;
}

/* Reads and parses one file, its Includes expanded, into *out. */
static int load_file(files_t *f, const char *path, unsigned depth,
                     td_conf_item_t *out) {
  if (f->n >= MAX_FILES)
    return problem(f, path, "more than %d files included", MAX_FILES);
  char *buf = malloc(TD_CONF_MAX_BYTES + 2);
  size_t len = 0;
  td_file_info_t info;
  if (buf == NULL)
    return problem(f, path, "%s", td_words_conf(TD_CONF_E_NOMEM));
  td_file_status_t fs =
      td_file_read(path, buf, TD_CONF_MAX_BYTES + 2, &len, &info);
  if (fs != TD_FILE_OK) {
    free(buf);
    if (fs == TD_FILE_E_OPEN || fs == TD_FILE_E_READ)
      return problem(f, path, "%s", strerror(info.err));
    return problem(f, path, "%s",
                   fs == TD_FILE_E_TOO_LARGE ? td_words_conf(TD_CONF_E_SIZE)
                                             : "not a regular file");
  }
  unsigned file = f->n;
  if ((f->path[f->n++] = strdup(path)) == NULL) {
    free(buf);
    return problem(f, path, "%s", td_words_conf(TD_CONF_E_NOMEM));
  }
  td_conf_error_t e;
  td_conf_status_t st = td_conf_parse(buf, len, file, out, &e);
  explicit_bzero(buf, len); /* it may hold a Token */
  free(buf);
  if (st != TD_CONF_OK)
    return problem(f, path, "line %u: %s", e.line, td_words_conf(st));
  return expand_includes(f, out, depth);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's files, dot files left out, in strcmp order. */
static int load_dir(files_t *f, const char *dir, const char *filter,
                    unsigned depth, td_conf_item_t *out) {
  DIR *dh = opendir(dir);
  if (dh == NULL)
    return problem(f, dir, "%s", strerror(errno));
  char *names[MAX_DIR_ENTRIES];
  size_t n = 0;
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(dh)) != NULL && n < MAX_DIR_ENTRIES) {
    if (de->d_name[0] == '.')
      continue;
    size_t len = strlen(dir) + strlen(de->d_name) + 2;
    if ((names[n] = malloc(len)) == NULL)
      break;
    snprintf(names[n++], len, "%s/%s", dir, de->d_name);
  }
  closedir(dh);
  qsort(names, n, sizeof(names[0]), by_name);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0)
      rc = load_path(f, names[i], filter, depth, out);
    free(names[i]);
  }
  return rc;
}

/* One path: a file (when its name matches filter) or a directory. */
static int load_one(files_t *f, const char *path, const char *filter,
                    unsigned depth, td_conf_item_t *out) {
  struct stat st;
  if (stat(path, &st) != 0)
    return 0; /* collectd warns and goes on */
  if (S_ISDIR(st.st_mode))
    return load_dir(f, path, filter, depth, out);
  if (!S_ISREG(st.st_mode))
    return 0;
  const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
  if (filter != NULL && fnmatch(filter, base, 0) != 0)
    return 0;
  td_conf_item_t sub = {0};
  int rc = load_file(f, path, depth, &sub);
  if (rc == 0 && append(out, &sub) != 0)
    rc = problem(f, path, "%s", td_words_conf(TD_CONF_E_NOMEM));
  td_conf_free(&sub);
  return rc;
}

/* Every path the pattern matches, in strcmp order. */
static int load_path(files_t *f, const char *pattern, const char *filter,
                     unsigned depth, td_conf_item_t *out) {
  glob_t g;
  int r = glob(pattern, 0, NULL, &g);
  if (r == GLOB_NOMATCH)
    return 0;
  if (r != 0)
    return problem(f, pattern, "cannot expand the pattern");
  qsort(g.gl_pathv, g.gl_pathc, sizeof(g.gl_pathv[0]), by_name);
  int rc = 0;
  for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
    rc = load_one(f, g.gl_pathv[i], filter, depth, out);
  globfree(&g);
  return rc;
}

/* ---- the accounts ---- */

static entry_t *entry_add(report_t *r) {
  entry_t *grown = realloc(r->e, (r->n + 1) * sizeof(*grown));
  if (grown == NULL)
    return NULL;
  r->e = grown;
  entry_t *e = &r->e[r->n++];
  memset(e, 0, sizeof(*e));
  e->status = TD_NAGIOS_UNKNOWN;
  td_settings_init(&e->set, TD_FRONT_PLUGIN);
  return e;
}

/* The plugin's rules for the name: one string, short enough, no '/' nor
 * control characters, not taken by an account accepted before. */
static int account_name(const report_t *r, entry_t *e,
                        const td_conf_item_t *it) {
  if (it->n_values != 1 || it->values[0].kind != TD_CONF_STRING) {
    account_error(e, TD_ACCOUNT_NO_NAME, "");
    return -1;
  }
  const char *name = it->values[0].string;
  td_text_clean(e->name, sizeof(e->name), name, NAME_MAX_LEN);
  snprintf(e->label, sizeof(e->label), "account \"%s\"", e->name);
  if (!td_settings_account_name_ok(name)) {
    account_error(e, TD_ACCOUNT_BAD_NAME, e->name);
    return -1;
  }
  for (size_t i = 0; i + 1 < r->n; i++)
    if (r->e[i].usable && strcmp(r->e[i].name, name) == 0) {
      account_error(e, TD_ACCOUNT_TWICE, e->name);
      return -1;
    }
  return 0;
}

/* One option, with the values as collectd read them, to td_settings. */
static int account_option(entry_t *e, const td_conf_item_t *it) {
  td_value_t v[OPTION_VALUES] = {{0}};
  size_t n = it->n_values < OPTION_VALUES ? it->n_values : OPTION_VALUES;
  for (size_t i = 0; i < n; i++) {
    const td_conf_value_t *cv = &it->values[i];
    if (cv->kind == TD_CONF_STRING)
      v[i] = (td_value_t){.kind = TD_KIND_STRING, .string = cv->string};
    else if (cv->kind == TD_CONF_NUMBER)
      v[i] = (td_value_t){.kind = TD_KIND_NUMBER, .number = cv->number};
    else
      v[i] = (td_value_t){.kind = TD_KIND_BOOL, .boolean = cv->boolean};
  }
  td_set_error_t err;
  char why[512];
  if (td_settings_set(&e->set, it->key, v, n, &err) == TD_SET_OK)
    return 0;
  td_words_setting(&err, why, sizeof(why));
  say(e->msg, "%s", why);
  return -1;
}

/* The options of one <Account>, then the rules across them. */
static void account_read(report_t *r, entry_t *e, const td_conf_item_t *it,
                         double interval) {
  td_set_error_t err, warn[2];
  char why[512];
  int bad = 0;
  if (account_name(r, e, it) != 0)
    return;
  for (size_t i = 0; i < it->n_children; i++)
    bad |= account_option(e, &it->children[i]) != 0;
  if (bad)
    return;
  if (td_settings_finish(&e->set, (double)time(NULL), &err) != TD_SET_OK ||
      td_settings_resolve(&e->set, interval, &err) != TD_SET_OK) {
    td_words_setting(&err, why, sizeof(why));
    say(e->msg, "%s", why);
    return;
  }
  size_t n = td_settings_warnings(&e->set, warn, 2);
  for (size_t i = 0; i < n; i++) {
    td_words_setting(&warn[i], why, sizeof(why));
    say(e->msg, "%s", why);
  }
  e->usable = 1;
}

/* Every child of every <Plugin telemetrydeck> block, in order. */
static int collect(const files_t *f, const td_conf_item_t *root, report_t *r) {
  double interval = td_conf_interval(root, PLUGIN);
  for (size_t b = td_conf_plugin(root, PLUGIN, 0); b < root->n_children;
       b = td_conf_plugin(root, PLUGIN, b + 1)) {
    const td_conf_item_t *block = &root->children[b];
    for (size_t i = 0; i < block->n_children; i++) {
      const td_conf_item_t *it = &block->children[i];
      entry_t *e = entry_add(r);
      if (e == NULL)
        return -1;
      where(f, it, e->label, sizeof(e->label));
      if (strcasecmp(it->key, "Account") == 0) {
        account_read(r, e, it, interval);
        if (!e->usable) {
          char at[300];
          size_t len = strlen(e->msg);
          where(f, it, at, sizeof(at));
          snprintf(e->msg + len, sizeof(e->msg) - len, " (%s)", at);
          e->refused = 1;
        }
        continue;
      }
      e->refused = 1;
      char key[64];
      td_text_clean(key, sizeof(key), it->key, sizeof(key) - 1);
      account_error(e, TD_ACCOUNT_NOT_BLOCK, key);
    }
  }
  return 0;
}

/* ---- the polls ---- */

static void on_done(td_http_conn_t *c, const td_poll_t *poll,
                    const td_xfer_t *x, void *unused) {
  (void)x, (void)unused;
  entry_t *e = td_http_conn_user(c);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  e->done = 1;
  if (poll->info != NULL)
    e->info = *poll->info;
  td_state_step(&e->state, &e->policy, poll,
                (double)now.tv_sec + (double)now.tv_nsec / 1e9, &e->step);
}

/* The token, from Token or TokenFile, handed to libcurl; a file judged as
 * the plugin judges it. Returns 0, or -1 with the problem said. */
static int hand_token(entry_t *e) {
  static td_token_t t;
  char why[512], noun[160], path[128];
  const char *file = e->set.string[TD_OPT_TOKEN_FILE];
  if (file == NULL)
    return td_http_set_token(e->conn, e->set.string[TD_OPT_TOKEN]);
  td_text_clean(path, sizeof(path), file, sizeof(path) - 1);
  snprintf(noun, sizeof(noun), "TokenFile \"%s\"", path);
  td_token_status_t st = td_token_from_file(&t, file);
  if (t.file_status == TD_FILE_OK) {
    td_words_token_trust(td_token_file_trust(&t, geteuid()), &t, geteuid(),
                         noun, why, sizeof(why));
    if (why[0] != '\0') {
      say(e->msg, "%s", why);
      e->status = TD_NAGIOS_WARNING;
    }
  }
  int rc = 0;
  if (st != TD_TOKEN_OK) {
    td_words_token(st, &t, noun, noun, why, sizeof(why));
    say(e->msg, "%s", why);
    rc = -1;
  } else if (td_http_set_token(e->conn, t.text) != 0) {
    say(e->msg, "libcurl refused the token");
    rc = -1;
  }
  td_token_wipe(&t);
  return rc;
}

/* Makes the account's handle and starts its one poll. Returns the
 * timeout, or -1 when it could not start (said in its line). */
static double poll_start(td_http_t *h, entry_t *e) {
  td_http_opts_t o;
  const char *why;
  td_settings_policy(&e->set, e->name, &e->policy);
  td_state_init(&e->state);
  td_settings_http(&e->set, 0, &o);
  e->status = TD_NAGIOS_OK;
  if ((e->conn = td_http_conn_new(h, &o, e, &why)) == NULL) {
    say(e->msg, "libcurl refused the settings: %s", why);
    return -1;
  }
  if (hand_token(e) != 0)
    return -1;
  if (td_http_start(e->conn, o.timeout) != 0) {
    say(e->msg, "libcurl could not start the request");
    return -1;
  }
  return o.timeout;
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls every usable account at once, each with its own Timeout. */
static void poll_all(report_t *r) {
  const td_http_events_t ev = {NULL, on_done, td_words_xfer};
  td_http_t *h = td_http_new();
  double longest = 0;
  for (size_t i = 0; i < r->n && h != NULL; i++) {
    entry_t *e = &r->e[i];
    if (!e->usable)
      continue;
    double t = poll_start(h, e);
    if (t < 0) {
      e->status = TD_NAGIOS_UNKNOWN;
      e->usable = 0;
    } else if (t > longest) {
      longest = t;
    }
  }
  /* libcurl ends each transfer at its timeout; the extra seconds only
   * guard against one that never reports back. */
  double until = mono() + longest + 5;
  while (h != NULL && td_http_running(h) > 0 && mono() < until)
    if (td_http_run(h, 1000, &ev, NULL) != 0)
      break;
  for (size_t i = 0; i < r->n; i++)
    td_http_conn_free(r->e[i].conn);
  td_http_free(h);
}

/* The poll's verdict: the status by td_nagios, the words by td_words. */
static void judge(entry_t *e) {
  char text[TD_VERDICT_MAX_TEXT + 1], who[TD_EXTRACT_MAX_STRING + 1];
  char parts[LINE_MAX_LEN] = "";
  const td_step_t *s = &e->step;
  if (!e->done) {
    say(e->msg, "the request did not end in time");
    e->status = TD_NAGIOS_UNKNOWN;
    return;
  }
  if (s->problem.kind == TD_PROBLEM_NONE) {
    td_text_clean(who, sizeof(who),
                  e->info.email[0] != '\0' ? e->info.email : e->info.id,
                  TD_VERDICT_MAX_REASON);
    say(parts, "token valid for \"%s\"", who);
  } else {
    td_words_problem(&e->policy, &s->problem, text, sizeof(text));
    say(parts, "%s", text);
  }
  if (e->policy.has_expiry) {
    td_words_token_expiry(s->timeleft <= 0, s->timeleft / TD_TIME_DAY,
                          e->policy.expires, text, sizeof(text));
    say(parts, "%s", text);
  }
  if (e->msg[0] != '\0')
    say(parts, "%s", e->msg);
  snprintf(e->msg, sizeof(e->msg), "%s", parts);
  e->status = td_nagios_worse(e->status, td_nagios_step(s));
}

/* ---- the report ---- */

static td_nagios_t print_report(const char *path, report_t *r, int verbose) {
  td_nagios_t worst = TD_NAGIOS_OK;
  size_t count[4] = {0}, accounts = 0, refused = 0;
  char shown[256];
  for (size_t i = 0; i < r->n; i++) {
    worst = td_nagios_worse(worst, r->e[i].status);
    count[r->e[i].status]++;
    accounts += r->e[i].name[0] != '\0';
    refused += r->e[i].refused != 0;
  }
  td_text_clean(shown, sizeof(shown), path, sizeof(shown) - 1);
  printf("TELEMETRYDECK %s - %zu account%s in %s:", status_names[worst],
         accounts, accounts == 1 ? "" : "s", shown);
  for (int s = 0; s < 4; s++)
    if (count[s] > 0)
      printf(" %zu %s", count[s], status_names[s]);
  if (refused > 0)
    printf("; collectd refuses this configuration");
  printf("\n");
  for (size_t i = 0; i < r->n; i++) {
    entry_t *e = &r->e[i];
    for (char *p = e->msg; *p != '\0'; p++)
      if (*p == '|')
        *p = '/';
    printf("%s: %s - %s\n", e->label, status_names[e->status], e->msg);
    if (verbose && e->usable) {
      td_text_clean(shown, sizeof(shown), e->set.string[TD_OPT_URL],
                    sizeof(shown) - 1);
      printf("  URL %s, Timeout %g s, token from %s (not shown)\n", shown,
             e->set.timeout,
             e->set.string[TD_OPT_TOKEN_FILE] != NULL ? "TokenFile" : "Token");
    }
  }
  return worst;
}

int td_check_config(const char *path, int verbose) {
  static files_t f;
  td_conf_item_t root = {0};
  report_t r = {0};
  int rc;
  struct stat st;
  if (stat(path, &st) != 0)
    problem(&f, path, "%s", strerror(errno));
  if (f.why[0] != '\0' || load_one(&f, path, NULL, 0, &root) != 0 || f.n == 0) {
    if (f.why[0] == '\0')
      problem(&f, path, "not a regular file");
    printf("TELEMETRYDECK UNKNOWN - %s\n", f.why);
    rc = TD_NAGIOS_UNKNOWN;
  } else if (collect(&f, &root, &r) != 0 || r.n == 0) {
    char shown[256];
    td_text_clean(shown, sizeof(shown), path, sizeof(shown) - 1);
    printf("TELEMETRYDECK UNKNOWN - no <Account> in a <Plugin " PLUGIN
           "> block of %s\n",
           shown);
    rc = TD_NAGIOS_UNKNOWN;
  } else {
    poll_all(&r);
    for (size_t i = 0; i < r.n; i++)
      if (r.e[i].usable)
        judge(&r.e[i]);
    rc = (int)print_report(path, &r, verbose);
  }
  for (size_t i = 0; i < r.n; i++)
    td_settings_free(&r.e[i].set);
  free(r.e);
  td_conf_free(&root);
  for (unsigned i = 0; i < f.n; i++)
    free(f.path[i]);
  return fflush(stdout) != 0 ? TD_NAGIOS_UNKNOWN : rc;
}

/* The command line of --config: FILE, and --verbose (-v) at most. */
int td_check_config_main(int argc, char **argv) {
  const char *path = NULL;
  int verbose = 0, other = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      path = argv[++i];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      path = argv[i] + 9;
    else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
      verbose = 1;
    else
      other = 1;
  }
  if (path == NULL)
    return -1;
  if (other) {
    printf("TELEMETRYDECK UNKNOWN - --config takes a FILE and --verbose "
           "only: the accounts' settings come from the file\n");
    fprintf(stderr, "Try 'telemetrydeck-check --help' for more "
                    "information.\n");
    return TD_NAGIOS_UNKNOWN;
  }
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
    printf("TELEMETRYDECK UNKNOWN - curl_global_init failed\n");
    return TD_NAGIOS_UNKNOWN;
  }
  int rc = td_check_config(path, verbose);
  curl_global_cleanup();
  return rc;
}
