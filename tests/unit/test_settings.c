/* test_settings: the one settings module both front ends feed. A table of
 * bad values as collectd's configuration would hand them to the plugin,
 * each with the one ERROR it must give; the rules the plugin and
 * telemetrydeck-check once kept apart (and let drift), each with the
 * plugin's option and the check's flag side by side; and the defaults the
 * two resolve.
 *
 * Build and run, from the top of the tree:
 *   tools/build && _build/tests/unit/test_settings */
#include "td_settings.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "td_defaults.h"
#include "td_words.h"

#define NOW 1798761600.0 /* 2027-01-01T00:00:00Z */
#define LOOPBACK "https://127.0.0.1:1/api/v3/users/info"

#define S(x)                                                                   \
  { .kind = TD_KIND_STRING, .string = (x) }
#define N(x)                                                                   \
  { .kind = TD_KIND_NUMBER, .number = (x) }
#define B(x)                                                                   \
  { .kind = TD_KIND_BOOL, .boolean = (x) }

/* One option as collectd hands it over: its name and one value, or n
 * values. */
typedef struct {
  const char *name;
  td_value_t v[2];
  size_t n; /* how many values */
} opt_t;

#define O(name, value)                                                         \
  { (name), {value}, 1 }

#define MAX_OPTS 4

typedef struct {
  const char *what;
  opt_t opts[MAX_OPTS];
  double interval; /* collectd's; 0: 10 s */
  td_set_status_t status;
  const char *line; /* the ERROR, as the plugin logs it after the account */
} bad_t;

static const char *const ca_missing = "/nonexistent/ca.pem";

static const bad_t bad_values[] = {
    {"Timeout over Interval",
     {O("Interval", N(1)), O("Timeout", N(2))},
     0,
     TD_SET_E_TIMEOUT,
     "option Timeout 2 is longer than the interval (1 s)"},
    {"Timeout over collectd's interval",
     {O("Timeout", N(5))},
     0.5,
     TD_SET_E_TIMEOUT,
     "option Timeout 5 is longer than the interval (0.5 s)"},
    {"Timeout below 0",
     {O("Timeout", N(-0.25))},
     0,
     TD_SET_E_POSITIVE,
     "option Timeout -0.25 must be positive"},
    {"Timeout past its range",
     {O("Timeout", N(1e300))},
     0,
     TD_SET_E_MAX,
     "option Timeout 1e+300 is out of range (at most 3600)"},
    {"a file URL",
     {O("URL", S("file:///etc/passwd"))},
     0,
     TD_SET_E_URL,
     "option URL \"file:///etc/passwd\" is refused: only http and https "
     "URLs are allowed"},
    {"a gopher URL",
     {O("URL", S("gopher://127.0.0.1/1"))},
     0,
     TD_SET_E_URL,
     "option URL \"gopher://127.0.0.1/1\" is refused: only http and https "
     "URLs are allowed"},
    {"a URL that is none",
     {O("URL", S("not a url at all"))},
     0,
     TD_SET_E_URL,
     "option URL \"not a url at all\" is refused: it is not a valid URL"},
    {"an empty URL",
     {O("URL", S(""))},
     0,
     TD_SET_E_URL,
     "option URL \"\" is refused: it is not a valid URL"},
    {"plain http to a remote address",
     {O("URL", S("http://192.0.2.1/api/v3/users/info"))},
     0,
     TD_SET_E_URL,
     "option URL \"http://192.0.2.1/api/v3/users/info\" is refused: plain "
     "http would send the token in the clear to a host that is not loopback "
     "(AllowPlaintext true allows it)"},
    {"a URL with a password",
     {O("URL", S("https://alice:s3cret@127.0.0.1/x"))},
     0,
     TD_SET_E_URL,
     "option URL is refused: it holds a user name or password, which is "
     "never sent (only the Bearer token is); remove it"},
    {"an OrganizationsURL with a user",
     {O("CollectOrganizations", B(1)),
      O("OrganizationsURL", S("https://bob@127.0.0.1/organizations"))},
     0,
     TD_SET_E_URL,
     "option OrganizationsURL is refused: it holds a user name or password, "
     "which is never sent (only the Bearer token is); remove it"},
    {"words for a date",
     {O("TokenExpires", S("next tuesday"))},
     0,
     TD_SET_E_DATE,
     "option TokenExpires \"next tuesday\" is not a date (YYYY-MM-DD or "
     "YYYY-MM-DDTHH:MM:SSZ, UTC)"},
    {"hour 25",
     {O("TokenExpires", S("2027-11-27T25:00:00Z"))},
     0,
     TD_SET_E_DATE,
     "option TokenExpires \"2027-11-27T25:00:00Z\" is not a date (YYYY-MM-DD "
     "or YYYY-MM-DDTHH:MM:SSZ, UTC)"},
    {"a European date",
     {O("TokenExpires", S("27.11.2027"))},
     0,
     TD_SET_E_DATE,
     "option TokenExpires \"27.11.2027\" is not a date (YYYY-MM-DD or "
     "YYYY-MM-DDTHH:MM:SSZ, UTC)"},
    {"a failure below 0",
     {O("ExpiryWarningDays", N(30)), O("ExpiryFailureDays", N(-1))},
     0,
     TD_SET_E_ORDER,
     "options ExpiryWarningDays 30 and ExpiryFailureDays -1 must satisfy "
     "ExpiryWarningDays >= ExpiryFailureDays >= 0"},
    {"TLS days the wrong way round",
     {O("TLSExpiryWarningDays", N(1)), O("TLSExpiryFailureDays", N(5))},
     0,
     TD_SET_E_ORDER,
     "options TLSExpiryWarningDays 1 and TLSExpiryFailureDays 5 must satisfy "
     "TLSExpiryWarningDays >= TLSExpiryFailureDays >= 0"},
    {"days past ten years",
     {O("ExpiryWarningDays", N(4000))},
     0,
     TD_SET_E_MAX,
     "option ExpiryWarningDays 4000 is out of range (at most "
     "3660)"},
    {"UnreachableAfter 0",
     {O("UnreachableAfter", N(0))},
     0,
     TD_SET_E_MIN,
     "option UnreachableAfter 0 must be at least 1"},
    {"UnreachableAfter below 0",
     {O("UnreachableAfter", N(-2))},
     0,
     TD_SET_E_MIN,
     "option UnreachableAfter -2 must be at least 1"},
    {"a fraction of a poll",
     {O("UnreachableAfter", N(2.5))},
     0,
     TD_SET_E_WHOLE,
     "option UnreachableAfter 2.5 must be a whole number"},
    {"UnreachableAfter past its range",
     {O("UnreachableAfter", N(1e12))},
     0,
     TD_SET_E_MAX,
     "option UnreachableAfter 1000000000000 is out of range (at most "
     "1000000)"},
    {"ConnectionLifetime 0",
     {O("ConnectionLifetime", N(0))},
     0,
     TD_SET_E_MIN,
     "option ConnectionLifetime 0 must be at least 1"},
    {"a fraction of a second of ConnectionLifetime",
     {O("ConnectionLifetime", N(1.5))},
     0,
     TD_SET_E_WHOLE,
     "option ConnectionLifetime 1.5 must be a whole number"},
    {"ConnectionLifetime past a day",
     {O("ConnectionLifetime", N(86401))},
     0,
     TD_SET_E_MAX,
     "option ConnectionLifetime 86401 is out of range (at most 86400)"},
    {"ConnectionLifetime as a word",
     {O("ConnectionLifetime", S("1h"))},
     0,
     TD_SET_E_TYPE,
     "option ConnectionLifetime \"1h\" is not of the right type (or count) of "
     "value"},
    {"RepeatNotificationsAfter below 0",
     {O("RepeatNotificationsAfter", N(-1))},
     0,
     TD_SET_E_MIN,
     "option RepeatNotificationsAfter -1 must be at least 0"},
    {"RepeatNotificationsAfter past a year",
     {O("RepeatNotificationsAfter", N(4e7))},
     0,
     TD_SET_E_MAX,
     "option RepeatNotificationsAfter 40000000 is out of range (at most "
     "31622400)"},
    {"RepeatNotificationsAfter as a word",
     {O("RepeatNotificationsAfter", S("hourly"))},
     0,
     TD_SET_E_TYPE,
     "option RepeatNotificationsAfter \"hourly\" is not of the right type (or "
     "count) of value"},
    {"Interval below 0",
     {O("Interval", N(-1))},
     0,
     TD_SET_E_POSITIVE,
     "option Interval -1 must be positive"},
    {"Interval past what collectd holds",
     {O("Interval", N(2e10))},
     0,
     TD_SET_E_MAX,
     "option Interval 20000000000 is out of range (at most 31622400)"},
    {"Interval below 1 s for a remote URL",
     {O("URL", S("https://api.example.net/api/v3/users/info")),
      O("Interval", N(0.001)), O("Timeout", N(0.001))},
     0,
     TD_SET_E_INTERVAL,
     "option Interval 0.001 is below 1 s, which only a loopback URL may use"},
    {"OrganizationsInterval 0",
     {O("OrganizationsInterval", N(0))},
     0,
     TD_SET_E_POSITIVE,
     "option OrganizationsInterval 0 must be positive"},
    {"UsageWarningPercent below 0",
     {O("UsageWarningPercent", N(-1))},
     0,
     TD_SET_E_POSITIVE,
     "option UsageWarningPercent -1 must be positive"},
    {"a boolean that is a word",
     {O("VerifyPeer", S("maybe"))},
     0,
     TD_SET_E_TYPE,
     "option VerifyPeer \"maybe\" is not of the right type (or count) of "
     "value"},
    {"a boolean that is a number",
     {O("VerifyHost", N(3))},
     0,
     TD_SET_E_TYPE,
     "option VerifyHost 3 is not of the right type (or count) of value"},
    {"a quoted number",
     {O("Timeout", S("ten"))},
     0,
     TD_SET_E_TYPE,
     "option Timeout \"ten\" is not of the right type (or count) of value"},
    {"two values",
     {{"Timeout", {N(1), N(2)}, 2}},
     0,
     TD_SET_E_TYPE,
     "option Timeout 1 2 is not of the right type (or count) of value"},
    {"a number for a date",
     {O("TokenExpires", N(20271127))},
     0,
     TD_SET_E_TYPE,
     "option TokenExpires 20271127 is not of the right type (or count) of "
     "value"},
    {"an unknown option",
     {O("TokenExpire", S("2027-11-27"))},
     0,
     TD_SET_E_UNKNOWN,
     "unknown option \"TokenExpire\""},
    {"a string option twice",
     {O("ExpectUser", S("a")), O("ExpectUser", S("b"))},
     0,
     TD_SET_E_TWICE,
     "ExpectUser is given twice"},
    {"an empty ExpectUser",
     {O("ExpectUser", S(""))},
     0,
     TD_SET_E_EMPTY,
     "option ExpectUser is empty"},
    {"a CACert that is not there",
     {O("CACert", S(ca_missing))},
     0,
     TD_SET_E_FILE,
     "option CACert \"/nonexistent/ca.pem\" is refused: it cannot be "
     "opened: No such file or directory"},
    {"a CACert that is a directory",
     {O("CACert", S("/"))},
     0,
     TD_SET_E_FILE,
     "option CACert \"/\" is refused: it is not a regular file"},
    {"a CACert that is a device",
     {O("CACert", S("/dev/zero"))},
     0,
     TD_SET_E_FILE,
     "option CACert \"/dev/zero\" is refused: it is not a regular file"},
    {"a Proxy that is no URL",
     {O("Proxy", S("proxy.example.net"))},
     0,
     TD_SET_E_URL,
     "option Proxy is refused: it is not a valid proxy URL "
     "(scheme://host[:port])"},
    {"an ftp proxy",
     {O("Proxy", S("ftp://127.0.0.1:21"))},
     0,
     TD_SET_E_URL,
     "option Proxy is refused: only http, https and socks5h proxies are "
     "allowed"},
    {"organizations from a URL that is not users/info",
     {O("URL", S("https://127.0.0.1:1/other")),
      O("CollectOrganizations", B(1))},
     0,
     TD_SET_E_ORGS_URL,
     "URL \"https://127.0.0.1:1/other\" does not end in /users/info, so "
     "option OrganizationsURL is needed with CollectOrganizations"},
};

/* An <Account> block: Token and (unless opts give one) a loopback URL,
 * then opts; every step as the plugin takes it. Returns the first error
 * and its words. */
static td_set_status_t plugin_block(td_settings_t *s, const opt_t *opts,
                                    size_t n, double interval, char *line,
                                    size_t size) {
  td_set_error_t e;
  int has_url = 0;
  td_value_t token = S("tdpat_test_token"), url = S(LOOPBACK);
  td_settings_init(s, TD_FRONT_PLUGIN);
  for (size_t i = 0; i < n && opts[i].name != NULL; i++)
    has_url |= strcmp(opts[i].name, "URL") == 0;
  td_settings_set(s, "Token", &token, 1, &e);
  if (!has_url)
    td_settings_set(s, "URL", &url, 1, &e);
  for (size_t i = 0; i < n && opts[i].name != NULL; i++) {
    if (td_settings_set(s, opts[i].name, opts[i].v, opts[i].n, &e) != TD_SET_OK)
      goto out;
  }
  if (td_settings_finish(s, NOW, &e) == TD_SET_OK)
    td_settings_resolve(s, interval > 0 ? interval : 10, &e);
out:
  td_words_setting(&e, line, size);
  return e.status;
}

/* AddressFamily, Interface and Resolve: values that would send the
 * connection somewhere the operator did not mean, or nowhere. */
static const bad_t bad_network[] = {
    {"a family by number",
     {O("AddressFamily", S("4"))},
     0,
     TD_SET_E_FAMILY,
     "option AddressFamily \"4\" must be any, ipv4 or ipv6"},
    {"a family curl has no name for",
     {O("AddressFamily", S("inet6"))},
     0,
     TD_SET_E_FAMILY,
     "option AddressFamily \"inet6\" must be any, ipv4 or ipv6"},
    {"a family as a boolean",
     {O("AddressFamily", B(1))},
     0,
     TD_SET_E_TYPE,
     "option AddressFamily true is not of the right type (or count) of value"},
    {"an empty interface",
     {O("Interface", S(""))},
     0,
     TD_SET_E_INTERFACE,
     "option Interface \"\" is not an interface name or address (1 to 255 "
     "bytes, no spaces or control characters)"},
    {"an interface with a space",
     {O("Interface", S("eth0 eth1"))},
     0,
     TD_SET_E_INTERFACE,
     "option Interface \"eth0 eth1\" is not an interface name or address (1 "
     "to 255 bytes, no spaces or control characters)"},
    {"if! with no name",
     {O("Interface", S("if!"))},
     0,
     TD_SET_E_INTERFACE,
     "option Interface \"if!\" is not an interface name or address (1 to "
     "255 bytes, no spaces or control characters)"},
    {"an interface with a newline",
     {O("Interface", S("lo\nfake"))},
     0,
     TD_SET_E_INTERFACE,
     "option Interface \"lo fake\" is not an interface name or address (1 "
     "to 255 bytes, no spaces or control characters)"},
    {"resolve without an address",
     {O("Resolve", S("api.telemetrydeck.test:443"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"api.telemetrydeck.test:443\" is not "
     "HOST:PORT:ADDRESS (a host name, a port from 1 to 65535 and one IPv4 or "
     "IPv6 address)"},
    {"resolve to port 0",
     {O("Resolve", S("api.telemetrydeck.test:0:127.0.0.1"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"api.telemetrydeck.test:0:127.0.0.1\" is not "
     "HOST:PORT:ADDRESS (a host name, a port from 1 to 65535 and one IPv4 or "
     "IPv6 address)"},
    {"resolve to port 65536",
     {O("Resolve", S("a.test:65536:127.0.0.1"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"a.test:65536:127.0.0.1\" is not HOST:PORT:ADDRESS (a "
     "host name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve with a port name",
     {O("Resolve", S("a.test:https:127.0.0.1"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"a.test:https:127.0.0.1\" is not HOST:PORT:ADDRESS (a "
     "host name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve to a name",
     {O("Resolve", S("a.test:443:localhost"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"a.test:443:localhost\" is not HOST:PORT:ADDRESS (a "
     "host name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve to an address out of range",
     {O("Resolve", S("a.test:443:127.0.0.256"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"a.test:443:127.0.0.256\" is not HOST:PORT:ADDRESS (a "
     "host name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve to two addresses",
     {O("Resolve", S("a.test:443:127.0.0.1,127.0.0.2"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"a.test:443:127.0.0.1,127.0.0.2\" is not "
     "HOST:PORT:ADDRESS (a host name, a port from 1 to 65535 and one IPv4 or "
     "IPv6 address)"},
    {"resolve with libcurl's removal form",
     {O("Resolve", S("-a.test:443:127.0.0.1"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"-a.test:443:127.0.0.1\" is not HOST:PORT:ADDRESS (a "
     "host name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve with an empty host",
     {O("Resolve", S(":443:127.0.0.1"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \":443:127.0.0.1\" is not HOST:PORT:ADDRESS (a host "
     "name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve with a half-bracketed IPv6 address",
     {O("Resolve", S("a.test:443:[::1"))},
     0,
     TD_SET_E_RESOLVE,
     "option Resolve \"a.test:443:[::1\" is not HOST:PORT:ADDRESS (a host "
     "name, a port from 1 to 65535 and one IPv4 or IPv6 address)"},
    {"resolve given twice",
     {O("Resolve", S("a.test:443:127.0.0.1")),
      O("Resolve", S("b.test:443:127.0.0.1"))},
     0,
     TD_SET_E_TWICE,
     "Resolve is given twice"},
};

/* Each row refused with its status and its one ERROR line. */
static void run_bad(const bad_t *rows, size_t n) {
  char line[512];
  for (size_t i = 0; i < n; i++) {
    const bad_t *b = &rows[i];
    td_settings_t s;
    td_set_status_t st =
        plugin_block(&s, b->opts, MAX_OPTS, b->interval, line, sizeof(line));
    tap_is_int(st, b->status, "%s: refused with status %d", b->what, b->status);
    tap_is_str(line, b->line, "%s: the ERROR names the option", b->what);
    td_settings_free(&s);
  }
}

static void test_bad_values(void) {
  run_bad(bad_values, sizeof(bad_values) / sizeof(bad_values[0]));
  run_bad(bad_network, sizeof(bad_network) / sizeof(bad_network[0]));
}

/* The check's command line: flag and text pairs, ending in NULL. */
static td_set_status_t check_line(td_settings_t *s, const char *const *args,
                                  char *line, size_t size) {
  td_set_error_t e;
  td_settings_init(s, TD_FRONT_CHECK);
  for (size_t i = 0; args[i] != NULL; i += 2)
    if (td_settings_set_text(s, args[i], args[i + 1], &e) != TD_SET_OK)
      goto out;
  if (td_settings_finish(s, NOW, &e) == TD_SET_OK)
    td_settings_resolve(s, 0, &e);
out:
  td_words_setting(&e, line, size);
  return e.status;
}

/* A rule the plugin and the check once kept apart: the plugin's block and
 * the check's command line that mean the same, the status both must give,
 * and each one's words. */
typedef struct {
  const char *what;
  opt_t opts[MAX_OPTS];
  const char *args[8]; /* flag, text, ..., NULL */
  td_set_status_t status;
  const char *plugin_line;
  const char *check_line;
} drift_t;

static const drift_t drift[] = {
    {"days the wrong way round",
     {O("ExpiryWarningDays", N(5)), O("ExpiryFailureDays", N(10))},
     {"--warning-days", "5", "--critical-days", "10", NULL},
     TD_SET_E_ORDER,
     "options ExpiryWarningDays 5 and ExpiryFailureDays 10 must satisfy "
     "ExpiryWarningDays >= ExpiryFailureDays >= 0",
     "--warning-days and --critical-days must satisfy --warning-days >= "
     "--critical-days >= 0"},
    {"days past ten years",
     {O("ExpiryWarningDays", N(4000))},
     {"--warning-days", "4000", NULL},
     TD_SET_E_MAX,
     "option ExpiryWarningDays 4000 is out of range (at most 3660)",
     "--warning-days is out of range (at most 3660)"},
    {"a failure below 0",
     {O("ExpiryFailureDays", N(-1))},
     {"--critical-days", "-1", NULL},
     TD_SET_E_ORDER,
     "options ExpiryWarningDays 30 and ExpiryFailureDays -1 must satisfy "
     "ExpiryWarningDays >= ExpiryFailureDays >= 0",
     "--warning-days and --critical-days must satisfy --warning-days >= "
     "--critical-days >= 0"},
    {"plain http",
     {O("URL", S("http://192.0.2.1/x"))},
     {"--url", "http://192.0.2.1/x", NULL},
     TD_SET_E_URL,
     "option URL \"http://192.0.2.1/x\" is refused: plain http would send "
     "the token in the clear to a host that is not loopback (AllowPlaintext "
     "true allows it)",
     "--url is refused: plain http would send the token in the clear to a "
     "host that is not loopback (--allow-plaintext allows it)"},
    {"a proxy for plain http",
     {O("URL", S("http://127.0.0.1:1/x")),
      O("Proxy", S("http://127.0.0.1:3128"))},
     {"--url", "http://127.0.0.1:1/x", "--proxy", "http://127.0.0.1:3128",
      NULL},
     TD_SET_E_URL,
     "option Proxy is refused: the proxy would see the token in the clear, "
     "since the URL is plain http (AllowPlaintext true allows it)",
     "--proxy is refused: the proxy would see the token in the clear, since "
     "the URL is plain http (--allow-plaintext allows it)"},
    {"a URL with a password",
     {O("URL", S("https://alice:pw@127.0.0.1/x"))},
     {"--url", "https://alice:pw@127.0.0.1/x", NULL},
     TD_SET_E_URL,
     "option URL is refused: it holds a user name or password, which is "
     "never sent (only the Bearer token is); remove it",
     "--url is refused: it holds a user name or password, which is never "
     "sent (only the Bearer token is); remove it"},
    {"plain http allowed",
     {O("URL", S("http://192.0.2.1/x")), O("AllowPlaintext", B(1))},
     {"--url", "http://192.0.2.1/x", "--allow-plaintext", NULL, NULL},
     TD_SET_OK,
     "",
     ""},
    {"a missing CACert",
     {O("CACert", S("/nonexistent/ca.pem"))},
     {"--ca-cert", "/nonexistent/ca.pem", NULL},
     TD_SET_E_FILE,
     "option CACert \"/nonexistent/ca.pem\" is refused: it cannot be "
     "opened: No such file or directory",
     "--ca-cert is refused: it cannot be opened: No such file or directory"},
};

static void test_drift(void) {
  char line[512];
  for (size_t i = 0; i < sizeof(drift) / sizeof(drift[0]); i++) {
    const drift_t *r = &drift[i];
    td_settings_t s;
    tap_is_int(plugin_block(&s, r->opts, MAX_OPTS, 0, line, sizeof(line)),
               r->status, "%s: the plugin's status", r->what);
    tap_is_str(line, r->plugin_line, "%s: in the plugin's words", r->what);
    td_settings_free(&s);
    tap_is_int(check_line(&s, r->args, line, sizeof(line)), r->status,
               "%s: the check's status is the same", r->what);
    tap_is_str(line, r->check_line, "%s: in the check's words", r->what);
    td_settings_free(&s);
  }
}

/* TokenExpires: parsed once, and the warning in both front ends. */
static void test_drift_expiry(void) {
  char line[512];
  td_settings_t s;
  td_set_error_t w[2];
  static const opt_t far[] = {O("TokenExpires", S("2028-06-01"))};
  static const char *const far_args[] = {"--expires", "2028-06-01", NULL};
  tap_is_int(plugin_block(&s, far, 1, 0, line, sizeof(line)), TD_SET_OK,
             "a date 517 days ahead: the plugin takes it");
  tap_ok(s.has_expiry && s.expires == 1843430400.0,
         "the plugin's policy has the date, parsed once");
  tap_is_int((long long)td_settings_warnings(&s, w, 2), 1,
             "the plugin has one warning");
  td_words_setting(&w[0], line, sizeof(line));
  tap_is_str(line,
             "option TokenExpires \"2028-06-01\" is more than 366 days away, "
             "but TelemetryDeck tokens live at most one year: is the year a "
             "typo? It is used as written",
             "the plugin's WARNING");
  td_settings_free(&s);
  tap_is_int(check_line(&s, far_args, line, sizeof(line)), TD_SET_OK,
             "the check takes it");
  tap_is_int((long long)td_settings_warnings(&s, w, 2), 1,
             "the check has the same warning");
  td_words_setting(&w[0], line, sizeof(line));
  tap_is_str(line,
             "--expires is more than 366 days away, but TelemetryDeck tokens "
             "live at most one year: is the year a typo? It is used as "
             "written",
             "the check's words");
  td_settings_free(&s);
  static const opt_t near[] = {O("TokenExpires", S("2027-06-01"))};
  plugin_block(&s, near, 1, 0, line, sizeof(line));
  tap_is_int((long long)td_settings_warnings(&s, w, 2), 0,
             "a date five months ahead: no warning");
  td_settings_free(&s);
}

/* The file-mode and tdpat_ sentences: worded once. */
static void test_drift_sentences(void) {
  char a[256], b[256];
  td_settings_t s;
  td_set_error_t w[2];
  static const opt_t legacy[] = {O("Token", S("LEGACY123"))};
  td_settings_init(&s, TD_FRONT_PLUGIN);
  td_settings_set(&s, legacy[0].name, legacy[0].v, legacy[0].n, &w[0]);
  td_settings_finish(&s, NOW, &w[0]);
  tap_is_int((long long)td_settings_warnings(&s, w, 2), 1,
             "a Token without tdpat_: one warning");
  td_words_setting(&w[0], a, sizeof(a));
  td_words_token_prefix(b, sizeof(b));
  tap_is_str(a, b,
             "the Token warning is the sentence TokenFile and the "
             "check use");
  tap_is_str(b,
             "the token does not start with \"tdpat_\"; is it a "
             "TelemetryDeck personal access token?",
             "the tdpat_ sentence");
  td_settings_free(&s);
  td_words_file_mode("TokenFile \"/etc/t\"", 0100644, a, sizeof(a));
  tap_is_str(a,
             "TokenFile \"/etc/t\" has mode 0644 and is readable by group or "
             "others; chmod 600 it",
             "the plugin's file-mode sentence");
  td_words_file_mode("the token file", 0100640, a, sizeof(a));
  tap_is_str(a,
             "the token file has mode 0640 and is readable by group or "
             "others; chmod 600 it",
             "the check's, from the same words");
}

/* The policy: built by one function, TLS thresholds included. */
static void test_drift_policy(void) {
  char line[512];
  td_settings_t s;
  td_policy_t pol;
  static const char *const args[] = {"--warning-days", "20", "--critical-days",
                                     "5", NULL};
  check_line(&s, args, line, sizeof(line));
  td_settings_policy(&s, NULL, &pol);
  tap_is_double(pol.tls_warning_days, TD_DEFAULT_TLS_WARNING_DAYS, 0,
                "the check's policy has the TLS warning threshold");
  tap_is_double(pol.tls_failure_days, TD_DEFAULT_TLS_FAILURE_DAYS, 0,
                "and the TLS failure threshold");
  tap_is_double(pol.warning_days, 20, 0, "and --warning-days");
  tap_is_double(pol.failure_days, 5, 0, "and --critical-days");
  tap_is_int(pol.unreachable_after, 1,
             "one failed poll is the check's "
             "verdict");
  td_settings_free(&s);
  static const opt_t opts[] = {O("UnreachableAfter", N(5)),
                               O("TLSExpiryWarningDays", N(20))};
  plugin_block(&s, opts, 2, 0, line, sizeof(line));
  td_settings_policy(&s, "main", &pol);
  tap_is_int(pol.unreachable_after, 5, "UnreachableAfter is one unsigned");
  tap_is_double(pol.tls_warning_days, 20, 0, "TLSExpiryWarningDays");
  tap_is_str(pol.account, "main", "the account's name");
  td_settings_free(&s);
}

/* RepeatNotificationsAfter: seconds, fractions allowed, off unless given;
 * the check, one poll, has no such flag. */
static void test_repeat_after(void) {
  char line[512];
  td_settings_t s;
  td_policy_t pol;
  td_set_error_t e;
  static const opt_t none[] = {O(NULL, N(0))};
  plugin_block(&s, none, 0, 0, line, sizeof(line));
  td_settings_policy(&s, "main", &pol);
  tap_is_double(pol.repeat_after, 0, 0, "no RepeatNotificationsAfter: never");
  td_settings_free(&s);
  static const opt_t hour[] = {O("RepeatNotificationsAfter", N(3600))};
  plugin_block(&s, hour, 1, 0, line, sizeof(line));
  td_settings_policy(&s, "main", &pol);
  tap_is_double(pol.repeat_after, 3600, 0, "RepeatNotificationsAfter 3600");
  td_settings_free(&s);
  static const opt_t part[] = {O("RepeatNotificationsAfter", N(1.5))};
  tap_is_int(plugin_block(&s, part, 1, 0, line, sizeof(line)), TD_SET_OK,
             "RepeatNotificationsAfter 1.5: fractions allowed");
  td_settings_policy(&s, "main", &pol);
  tap_is_double(pol.repeat_after, 1.5, 0, "and kept as written");
  td_settings_free(&s);
  tap_ok(td_settings_name(TD_OPT_REPEAT_AFTER, TD_FRONT_CHECK) == NULL,
         "telemetrydeck-check has no reminder flag");
  td_settings_init(&s, TD_FRONT_CHECK);
  tap_is_int(td_settings_set_text(&s, "--repeat-notifications-after", "60", &e),
             TD_SET_E_UNKNOWN, "and refuses one");
  td_settings_free(&s);
}

/* Interval and Timeout: seconds throughout, the defaults resolved from
 * collectd's interval or none. */
static void test_interval_and_timeout(void) {
  char line[512];
  td_settings_t s;
  td_http_opts_t o;
  static const opt_t none[] = {O(NULL, N(0))};
  plugin_block(&s, none, 0, 60, line, sizeof(line));
  tap_is_double(s.interval, 60, 0, "no Interval: collectd's");
  tap_is_double(s.timeout, TD_DEFAULT_TIMEOUT, 0, "Timeout: 10 s at most");
  td_settings_free(&s);
  plugin_block(&s, none, 0, 5, line, sizeof(line));
  tap_is_double(s.timeout, 5, 0, "Timeout: the interval when shorter");
  td_settings_http(&s, 0, &o);
  tap_is_double(o.timeout, 5 * TD_POLL_SHARE, 1e-12,
                "the transfer ends before the next poll is due");
  td_settings_free(&s);
  static const opt_t tenth[] = {O("Interval", N(0.1)), O("Timeout", N(0.1))};
  tap_is_int(plugin_block(&s, tenth, 2, 10, line, sizeof(line)), TD_SET_OK,
             "Timeout 0.1 with Interval 0.1: equal is allowed, no fudge");
  tap_is_double(s.interval, 0.1, 0, "Interval as written");
  td_settings_free(&s);
  static const char *const none_args[] = {NULL};
  check_line(&s, none_args, line, sizeof(line));
  tap_is_double(s.timeout, TD_DEFAULT_TIMEOUT, 0, "the check: Timeout 10");
  td_settings_http(&s, 0, &o);
  tap_is_double(o.timeout, TD_DEFAULT_TIMEOUT, 0, "and no interval to cut it");
  tap_is_str(o.url, TD_DEFAULT_URL, "the default URL");
  tap_ok(o.verify_peer && o.verify_host, "verification on by default");
  td_settings_free(&s);
  static const char *const zero_args[] = {"--timeout", "0", NULL};
  check_line(&s, zero_args, line, sizeof(line));
  tap_is_double(s.timeout, TD_DEFAULT_TIMEOUT, 0,
                "--timeout 0 means the default, as Timeout 0 does");
  td_settings_free(&s);
  static const char *const word_args[] = {"--timeout", "ten", NULL};
  tap_is_int(check_line(&s, word_args, line, sizeof(line)), TD_SET_E_TYPE,
             "--timeout ten: not a number");
  tap_is_str(line, "--timeout must be a number",
             "the check never repeats a value");
  td_settings_free(&s);
}

/* ConnectionLifetime: whole seconds, an hour unless given, carried to
 * the HTTP options of both polls; the check, one poll, has no flag and
 * keeps the default. */
static void test_connection_lifetime(void) {
  char line[512];
  td_settings_t s;
  td_set_error_t e;
  td_http_opts_t o;
  static const opt_t none[] = {O(NULL, N(0))};
  plugin_block(&s, none, 0, 0, line, sizeof(line));
  td_settings_http(&s, 0, &o);
  tap_is_int(o.max_life, 3600, "no ConnectionLifetime: an hour");
  td_settings_free(&s);
  static const opt_t short_life[] = {O("ConnectionLifetime", N(4)),
                                     O("CollectOrganizations", B(1))};
  tap_is_int(plugin_block(&s, short_life, 2, 0, line, sizeof(line)), TD_SET_OK,
             "ConnectionLifetime 4 is taken");
  td_settings_http(&s, 0, &o);
  tap_is_int(o.max_life, 4, "and reaches the users/info poll");
  td_settings_http(&s, 1, &o);
  tap_is_int(o.max_life, 4, "and the organizations poll");
  td_settings_free(&s);
  static const opt_t ends[] = {O("ConnectionLifetime", N(1))};
  tap_is_int(plugin_block(&s, ends, 1, 0, line, sizeof(line)), TD_SET_OK,
             "ConnectionLifetime 1, the range's low end");
  td_settings_free(&s);
  static const opt_t day[] = {O("ConnectionLifetime", N(86400))};
  tap_is_int(plugin_block(&s, day, 1, 0, line, sizeof(line)), TD_SET_OK,
             "ConnectionLifetime 86400, its high end");
  td_settings_http(&s, 0, &o);
  tap_is_int(o.max_life, 86400, "a day");
  td_settings_free(&s);
  tap_ok(td_settings_name(TD_OPT_CONN_LIFETIME, TD_FRONT_CHECK) == NULL,
         "telemetrydeck-check has no connection lifetime flag");
  static const char *const no_args[] = {NULL};
  check_line(&s, no_args, line, sizeof(line));
  td_settings_http(&s, 0, &o);
  tap_is_int(o.max_life, 3600, "and its one poll has the default");
  td_settings_free(&s);
  td_settings_init(&s, TD_FRONT_CHECK);
  tap_is_int(td_settings_set_text(&s, "--connection-lifetime", "4", &e),
             TD_SET_E_UNKNOWN, "and refuses one");
  td_settings_free(&s);
}

/* What else the rules across options decide. */
static void test_rules(void) {
  char line[512];
  td_settings_t s;
  td_set_error_t e;
  td_http_opts_t o;
  td_value_t v = S("https://127.0.0.1:1/api/v3/users/info/");
  td_settings_init(&s, TD_FRONT_PLUGIN);
  td_settings_finish(&s, NOW, &e);
  tap_is_int(e.status, TD_SET_E_TOKEN_ONE, "neither Token nor TokenFile");
  td_settings_free(&s);
  static const opt_t both[] = {O("TokenFile", S("/etc/t"))};
  tap_is_int(plugin_block(&s, both, 1, 0, line, sizeof(line)),
             TD_SET_E_TOKEN_ONE, "both Token and TokenFile");
  tap_is_str(line, "exactly one of Token and TokenFile is required", "worded");
  td_settings_free(&s);
  static const opt_t orgs[] = {O("URL", S("https://127.0.0.1:1/api/v3/"
                                          "users/info/")),
                               O("CollectOrganizations", B(1))};
  tap_is_int(plugin_block(&s, orgs, 2, 0, line, sizeof(line)), TD_SET_OK,
             "OrganizationsURL derived");
  td_settings_http(&s, 1, &o);
  tap_is_str(o.url, "https://127.0.0.1:1/api/v3/organizations",
             "from .../users/info/");
  tap_is_int(o.organizations, 1, "for the organizations poll");
  td_settings_free(&s);
  static const opt_t yes[] = {O("VerifyPeer", S("no")),
                              O("Notifications", S("Off"))};
  tap_is_int(plugin_block(&s, yes, 2, 0, line, sizeof(line)), TD_SET_OK,
             "booleans as collectd reads strings (no, Off)");
  tap_ok(!s.boolean[TD_OPT_VERIFY_PEER] && !s.boolean[TD_OPT_NOTIFICATIONS],
         "both false");
  td_settings_free(&s);
  td_settings_init(&s, TD_FRONT_PLUGIN);
  tap_is_int(td_settings_set(&s, "Notifications", &v, 0, &e), TD_SET_E_TYPE,
             "an option without a value");
  td_settings_free(&s);
  td_settings_init(&s, TD_FRONT_PLUGIN);
  v = (td_value_t)S("tdpat_x");
  td_settings_set(&s, "Token", &v, 1, &e);
  v = (td_value_t)S("ftp://127.0.0.1/x\r\nfake line\tend");
  td_settings_set(&s, "URL", &v, 1, &e);
  td_settings_finish(&s, NOW, &e);
  td_words_setting(&e, line, sizeof(line));
  tap_is_str(line,
             "option URL \"ftp://127.0.0.1/x  fake line end\" is refused: "
             "it is not a valid URL",
             "CR, LF and TAB in a quoted URL are cleaned: one line");
  td_settings_free(&s);
  td_settings_init(&s, TD_FRONT_PLUGIN);
  v = (td_value_t)N(5);
  td_settings_set(&s, "Token", &v, 1, &e);
  td_words_setting(&e, line, sizeof(line));
  tap_is_str(line,
             "option Token (value not shown) is not of the right type (or "
             "count) of value",
             "a Token of the wrong type is not quoted");
  td_settings_free(&s);
  tap_is_str(td_settings_name(TD_OPT_WARNING_DAYS, TD_FRONT_PLUGIN),
             "ExpiryWarningDays", "the plugin's name");
  tap_is_str(td_settings_name(TD_OPT_WARNING_DAYS, TD_FRONT_CHECK),
             "--warning-days", "the check's flag");
  tap_is_str(td_settings_name(TD_OPT_UNREACHABLE_AFTER, TD_FRONT_CHECK), NULL,
             "an option the check does not have");
}

/* Good network values reach the HTTP options, Resolve as libcurl takes
 * it; the check's flags mean the same as the plugin's options. */
typedef struct {
  const char *what;
  opt_t opts[MAX_OPTS];
  const char *args[8];
  td_http_family_t family;
  const char *interface;
  const char *resolve;
} network_t;

static const network_t network[] = {
    {"nothing given", {O(NULL, N(0))}, {NULL}, TD_HTTP_FAMILY_ANY, NULL, NULL},
    {"ipv4, any case",
     {O("AddressFamily", S("IPv4"))},
     {"--address-family", "IPv4", NULL},
     TD_HTTP_FAMILY_IPV4,
     NULL,
     NULL},
    {"ipv6",
     {O("AddressFamily", S("ipv6"))},
     {"--address-family", "ipv6", NULL},
     TD_HTTP_FAMILY_IPV6,
     NULL,
     NULL},
    {"any",
     {O("AddressFamily", S("any"))},
     {"--address-family", "any", NULL},
     TD_HTTP_FAMILY_ANY,
     NULL,
     NULL},
    {"a source address",
     {O("Interface", S("127.0.0.2"))},
     {"--interface", "127.0.0.2", NULL},
     TD_HTTP_FAMILY_ANY,
     "127.0.0.2",
     NULL},
    {"libcurl's if! form",
     {O("Interface", S("if!lo"))},
     {"--interface", "if!lo", NULL},
     TD_HTTP_FAMILY_ANY,
     "if!lo",
     NULL},
    {"an IPv4 resolve",
     {O("Resolve", S("api.telemetrydeck.test:443:127.0.0.1"))},
     {"--resolve", "api.telemetrydeck.test:443:127.0.0.1", NULL},
     TD_HTTP_FAMILY_ANY,
     NULL,
     "api.telemetrydeck.test:443:127.0.0.1"},
    {"a bare IPv6 resolve gains brackets",
     {O("Resolve", S("a.test:8443:::1"))},
     {"--resolve", "a.test:8443:::1", NULL},
     TD_HTTP_FAMILY_ANY,
     NULL,
     "a.test:8443:[::1]"},
    {"a bracketed IPv6 resolve",
     {O("Resolve", S("a.test:1:[::1]"))},
     {"--resolve", "a.test:1:[::1]", NULL},
     TD_HTTP_FAMILY_ANY,
     NULL,
     "a.test:1:[::1]"},
};

static void network_is(const td_settings_t *s, const network_t *r,
                       const char *front) {
  td_http_opts_t o;
  td_settings_http(s, 0, &o);
  tap_is_int(o.family, r->family, "%s (%s): the family", r->what, front);
  tap_is_str(o.interface, r->interface, "%s (%s): the interface", r->what,
             front);
  tap_is_str(o.resolve, r->resolve, "%s (%s): the resolve entry", r->what,
             front);
}

static void test_network(void) {
  char line[512];
  for (size_t i = 0; i < sizeof(network) / sizeof(network[0]); i++) {
    const network_t *r = &network[i];
    td_settings_t s;
    tap_is_int(plugin_block(&s, r->opts, MAX_OPTS, 0, line, sizeof(line)),
               TD_SET_OK, "%s: the plugin takes it", r->what);
    network_is(&s, r, "plugin");
    td_settings_free(&s);
    tap_is_int(check_line(&s, r->args, line, sizeof(line)), TD_SET_OK,
               "%s: the check takes it", r->what);
    network_is(&s, r, "check");
    td_settings_free(&s);
  }
  td_settings_t s;
  static const char *const bad[] = {"--resolve", "a.test:0:127.0.0.1", NULL};
  tap_is_int(check_line(&s, bad, line, sizeof(line)), TD_SET_E_RESOLVE,
             "--resolve with port 0");
  tap_is_str(line,
             "--resolve is not HOST:PORT:ADDRESS (a host name, a port from 1 "
             "to 65535 and one IPv4 or IPv6 address)",
             "the check never repeats the value");
  td_settings_free(&s);
}

/* The check's own rows: the TLS days under the plugin's options, the
 * response-time thresholds and the outage state, which the plugin has
 * not. */
static void test_check_rows(void) {
  td_settings_t s;
  char line[512];
  const char *const tls[] = {"--tls-warning-days", "20", "--tls-critical-days",
                             "5", NULL};
  tap_is_int(check_line(&s, tls, line, sizeof(line)), TD_SET_OK,
             "the TLS days flags are read");
  td_policy_t pol;
  td_settings_policy(&s, NULL, &pol);
  tap_ok(pol.tls_warning_days == 20 && pol.tls_failure_days == 5,
         "the TLS days flags reach the policy");
  td_settings_free(&s);
  td_settings_init(&s, TD_FRONT_CHECK);
  td_settings_policy(&s, NULL, &pol);
  tap_ok(pol.tls_warning_days == TD_DEFAULT_TLS_WARNING_DAYS &&
             pol.tls_failure_days == TD_DEFAULT_TLS_FAILURE_DAYS,
         "the check's TLS days default to the plugin's");
  td_settings_free(&s);
  const char *const tls_order[] = {"--tls-warning-days", "3",
                                   "--tls-critical-days", "14", NULL};
  tap_is_int(check_line(&s, tls_order, line, sizeof(line)), TD_SET_E_ORDER,
             "TLS days the wrong way round are refused");
  tap_is_str(line,
             "--tls-warning-days and --tls-critical-days must satisfy "
             "--tls-warning-days >= --tls-critical-days >= 0",
             "in the flags' names");
  td_settings_free(&s);
  const char *const times[] = {
      "--time-warning", "1.5", "--time-critical", "3", "--outage-state",
      "warning",        NULL};
  tap_is_int(check_line(&s, times, line, sizeof(line)), TD_SET_OK,
             "the response-time thresholds and the outage state are read");
  tap_ok(s.number[TD_OPT_TIME_WARNING] == 1.5 &&
             s.number[TD_OPT_TIME_CRITICAL] == 3,
         "the response-time thresholds, in seconds");
  tap_is_str(s.string[TD_OPT_OUTAGE_STATE], "warning",
             "the outage state's word, for td_nagios");
  td_settings_free(&s);
  const char *const negative[] = {"--time-warning", "-1", NULL};
  tap_is_int(check_line(&s, negative, line, sizeof(line)), TD_SET_E_POSITIVE,
             "a negative response time is refused");
  td_settings_free(&s);
  td_settings_init(&s, TD_FRONT_PLUGIN);
  td_set_error_t e;
  td_value_t v = N(2);
  tap_is_int(td_settings_set(&s, "--time-warning", &v, 1, &e), TD_SET_E_UNKNOWN,
             "the plugin has no response-time option");
  tap_is_str(td_settings_name(TD_OPT_OUTAGE_STATE, TD_FRONT_PLUGIN), NULL,
             "nor an outage state");
  td_settings_free(&s);
}

/* One rule for an account's name in both front ends, and one text for
 * each error of the <Account> blocks. */
static void test_account_names(void) {
  char longest[TD_ACCOUNT_NAME_MAX + 2];
  memset(longest, 'n', sizeof(longest));
  longest[TD_ACCOUNT_NAME_MAX] = '\0';
  static const struct {
    const char *name;
    int ok;
  } rows[] = {{"main", 1},      {"", 0},          {"a/b", 0},
              {"tab\there", 0}, {"del\x7f", 0},   {"new\nline", 0},
              {"Zürich", 1},    {"with space", 1}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    tap_is_int(td_settings_account_name_ok(rows[i].name), rows[i].ok,
               "account name row %zu", i);
  tap_is_int(td_settings_account_name_ok(longest), 1,
             "a name of %d bytes is taken", TD_ACCOUNT_NAME_MAX);
  longest[TD_ACCOUNT_NAME_MAX] = 'n';
  longest[TD_ACCOUNT_NAME_MAX + 1] = '\0';
  tap_is_int(td_settings_account_name_ok(longest), 0,
             "one byte more is refused");
  char text[256];
  td_words_account(TD_ACCOUNT_NO_NAME, "", text, sizeof(text));
  tap_is_str(text,
             "an Account block needs exactly one name: "
             "<Account \"main\">",
             "no name");
  td_words_account(TD_ACCOUNT_BAD_NAME, "a/b", text, sizeof(text));
  tap_is_str(text,
             "account name \"a/b\" is empty, too long or contains '/' or "
             "control characters",
             "a bad name");
  td_words_account(TD_ACCOUNT_TWICE, "main", text, sizeof(text));
  tap_is_str(text, "account \"main\" is defined twice", "a name twice");
  td_words_account(TD_ACCOUNT_NOT_BLOCK, "Token", text, sizeof(text));
  tap_is_str(text,
             "unknown option \"Token\" (only <Account> blocks are allowed "
             "here)",
             "an option outside a block");
}

int main(void) {
  test_account_names();
  test_bad_values();
  test_check_rows();
  test_drift();
  test_drift_expiry();
  test_drift_sentences();
  test_drift_policy();
  test_repeat_after();
  test_interval_and_timeout();
  test_connection_lifetime();
  test_rules();
  test_network();
  return tap_done();
}
