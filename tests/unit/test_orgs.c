/* The organizations extractor (td_orgs) against a table of bodies, each
 * replayed at every chunk size, their identifiers, and the organizations'
 * state machine (td_orgstate).
 *
 * Build and run, from the top of the tree (the core's sources are
 * in libtd.la, see Makefile.am):
 *   tools/build && _build/tests/unit/test_orgs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "td_orgs.h"
#include "td_orgstate.h"
#include "td_words.h"

/* One expected organization: name, usage ("-" none), restricted. */
typedef struct {
  const char *name;
  double usage; /* < -1e9: absent */
  int restricted;
} want_org_t;

#define NONE (-2e9)
#define T0 1800000000.0 /* 2027-01-15T08:00:00Z */

static const struct {
  const char *what;
  const char *body;
  td_json_status_t status;
  size_t count;
  want_org_t orgs[4];
} cases[] = {
    {"a top-level array of organizations",
     "[{\"id\":\"a\",\"name\":\"Acme\",\"usagePercentage\":42.5,"
     "\"isInRestrictedMode\":false,\"resolvedMaxSignals\":100000}]",
     TD_JSON_OK, 1, {{"Acme", 42.5, 0}}},
    {"a wrapper object: its first array is the list",
     "{\"meta\":{\"x\":[1,2]},\"organizations\":[{\"name\":\"B\","
     "\"usagePercentage\":120}],\"other\":[{\"name\":\"not this\"}]}",
     TD_JSON_OK, 1, {{"B", 120, -1}}},
    {"missing and mistyped fields are no value",
     "[{\"name\":\"N\"},{\"usagePercentage\":\"lots\",\"isInRestrictedMode\":"
     "\"yes\",\"name\":7},{\"isInRestrictedMode\":true}]",
     TD_JSON_OK, 3, {{"N", NONE, -1}, {"", NONE, -1}, {"", NONE, 1}}},
    {"nested objects and arrays inside an organization are skipped",
     "[{\"members\":[{\"name\":\"x\",\"usagePercentage\":1}],\"owner\":"
     "{\"name\":\"y\"},\"name\":\"Z\",\"usagePercentage\":3e1}]",
     TD_JSON_OK, 1, {{"Z", 30, -1}}},
    {"non-objects in the list are skipped",
     "[1,\"two\",null,[{\"name\":\"deep\"}],{\"name\":\"Real\"}]",
     TD_JSON_OK, 1, {{"Real", NONE, -1}}},
    {"an empty list", "[]", TD_JSON_OK, 0, {{0}}},
    {"an object without a list", "{\"error\":true,\"reason\":\"x\"}",
     TD_JSON_OK, 0, {{0}}},
    {"a truncated list", "[{\"name\":\"A\"", TD_JSON_E_TRUNCATED, 0, {{0}}},
    {"malformed", "[{\"name\":}]", TD_JSON_E_SYNTAX, 0, {{0}}},
    {"empty", "", TD_JSON_E_EMPTY, 0, {{0}}},
};

/* Feeds body in chunks of size step; returns the status. */
static td_json_status_t replay(td_orgs_t *o, const char *body,
                                  size_t step) {
  size_t len = strlen(body);
  td_orgs_reset(o);
  for (size_t at = 0; at < len; at += step)
    td_orgs_feed(o, body + at, len - at < step ? len - at : step);
  return td_orgs_finish(o);
}

static int same(const td_org_list_t *l, size_t count, const want_org_t *w) {
  if (l->count != count)
    return 0;
  for (size_t i = 0; i < count; i++) {
    const td_org_t *g = &l->orgs[i];
    int has = w[i].usage > -1e9;
    if (strcmp(g->name, w[i].name) != 0 || g->has_usage != has ||
        (has && g->usage_percent != w[i].usage) ||
        g->restricted != w[i].restricted)
      return 0;
  }
  return 1;
}

static void check_bodies(void) {
  td_orgs_t *o = td_orgs_new();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t len = strlen(cases[i].body), bad_step = 0;
    for (size_t step = 1; step <= (len ? len : 1) && !bad_step; step++) {
      td_json_status_t st = replay(o, cases[i].body, step);
      if (st != cases[i].status ||
          (st == TD_JSON_OK &&
           !same(td_orgs_list(o), cases[i].count, cases[i].orgs)))
        bad_step = step;
    }
    tap_ok(bad_step == 0, "%s: the same result at every chunk size",
           cases[i].what);
    if (bad_step)
      tap_diag("first differing chunk size: %zu", bad_step);
  }
  td_orgs_free(o);
}

static void check_bounds(void) {
  td_orgs_t *o = td_orgs_new();
  char *body = malloc(64 * 1024);
  size_t n = 0;
  body[n++] = '[';
  for (int i = 0; i < TD_ORGS_MAX + 5; i++)
    n += (size_t)sprintf(body + n, "%s{\"name\":\"o%d\"}", i ? "," : "", i);
  body[n++] = ']';
  body[n] = '\0';
  tap_is_int(replay(o, body, n), TD_JSON_OK, "%d organizations parse",
             TD_ORGS_MAX + 5);
  tap_is_int((long long)td_orgs_list(o)->count, TD_ORGS_MAX,
             "only TD_ORGS_MAX are kept");
  tap_is_int((long long)td_orgs_list(o)->dropped, 5, "the rest are counted");
  char name[200];
  memset(name, 'x', sizeof(name));
  snprintf(body, 64 * 1024, "[{\"name\":\"%.*s\"}]", 150, name);
  replay(o, body, 7);
  tap_is_int((long long)strlen(td_orgs_list(o)->orgs[0].name),
             TD_ORGS_MAX_NAME, "a long name is cut at TD_ORGS_MAX_NAME");
  n = 0;
  for (int i = 0; i < 100; i++)
    body[n++] = '[';
  body[n] = '\0';
  tap_is_int(replay(o, body, 3), TD_JSON_E_DEPTH,
             "nesting beyond TD_JSON_MAX_DEPTH stops the parse");
  free(body);
  td_orgs_free(o);
}

static void check_identifier(void) {
  char id[16];
  td_orgs_identifier("Acme Inc./EU-1", id, sizeof(id));
  tap_is_str(id, "Acme_Inc._EU_1", "identifiers keep [A-Za-z0-9_.]");
  td_orgs_identifier("", id, sizeof(id));
  tap_is_str(id, "unnamed", "an empty name is \"unnamed\"");
  td_orgs_identifier("a-very-long-organization", id, sizeof(id));
  tap_is_str(id, "a_very_long_org", "identifiers are cut to fit");
}

/* An organizations poll that delivered list. */
static td_poll_t orgs_poll(const td_org_list_t *list) {
  return (td_poll_t){.http_status = 200, .body = TD_JSON_OK, .orgs = list,
                     .retry_after = -1};
}

static td_org_t org(const char *name, const char *id, double usage,
                    int restricted) {
  td_org_t o = {.has_usage = 1, .usage_percent = usage,
                .restricted = restricted};
  snprintf(o.name, sizeof(o.name), "%s", name);
  snprintf(o.id, sizeof(o.id), "%s", id);
  o.name_hash = td_orgs_hash((const unsigned char *)name, strlen(name));
  o.id_hash = td_orgs_hash((const unsigned char *)id, strlen(id));
  return o;
}

/* Names that clean up to one identifier, or to nothing readable, stay
 * apart: readable part plus eight hex digits of the id. */
static void check_collisions(void) {
  static td_orgstate_t st;
  static td_orgstate_step_t out;
  td_org_list_t list = {.count = 4};
  list.orgs[0] = org("Acme Inc", "A-1", 10, 0);
  list.orgs[1] = org("Acme-Inc", "B-2", 99.5, 1);
  list.orgs[2] = org("\xd0\x9a\xd0\xbe\xd0\xbc", "K-3", 1, 0);
  list.orgs[3] = org("Solo", "S-4", 1, 0);
  td_orgstate_init(&st);
  td_poll_t p = orgs_poll(&list);
  td_orgstate_step(&st, 90, TD_USAGE_PERCENT, &p, &out);
  tap_is_int((int)out.count, 4, "four organizations, four identifiers");
  tap_ok(strncmp(out.orgs[0].ident, "Acme_Inc_", 9) == 0 &&
             strlen(out.orgs[0].ident) == 17,
         "a colliding name keeps its readable part and gets 8 hex digits "
         "(%s)", out.orgs[0].ident);
  tap_ok(strcmp(out.orgs[0].ident, out.orgs[1].ident) != 0,
         "\"Acme Inc\" and \"Acme-Inc\" stay apart (%s, %s)",
         out.orgs[0].ident, out.orgs[1].ident);
  tap_ok(strlen(out.orgs[2].ident) == 15 && out.orgs[2].ident[6] == '_',
         "a name with no Latin letter gets the suffix too (%s)",
         out.orgs[2].ident);
  tap_is_str(out.orgs[3].ident, "Solo", "a name alone keeps its plain form");
  int restricted_note = 0;
  for (size_t i = 0; i < out.n_notes; i++)
    restricted_note |= out.notes[i].kind == TD_NOTE_ORG_RESTRICTED &&
                       strcmp(out.notes[i].instance, out.orgs[1].ident) == 0;
  tap_ok(restricted_note, "the restricted one of the pair gets its FAILURE");
  char first[TD_ORGS_MAX_IDENT + 1];
  memcpy(first, out.orgs[0].ident, sizeof(first));
  td_orgstate_step(&st, 90, TD_USAGE_PERCENT, &p, &out);
  tap_is_str(out.orgs[0].ident, first, "identifiers are the same next poll");
  tap_is_int((int)out.n_notes, 0, "and nothing is notified twice");
}

/* More organizations than kept: said once, again only when it changes. */
static void check_left_out_once(void) {
  static td_orgstate_t st;
  static td_orgstate_step_t out;
  static td_org_list_t list;
  char name[16];
  list.count = TD_ORGS_MAX;
  for (size_t i = 0; i < TD_ORGS_MAX; i++) {
    snprintf(name, sizeof(name), "Org%zu", i);
    list.orgs[i] = org(name, name, 1, 0);
  }
  list.dropped = 3;
  td_orgstate_init(&st);
  td_poll_t p = orgs_poll(&list);
  const struct {
    size_t dropped;
    int say;
  } polls[] = {{3, 1}, {3, 0}, {3, 0}, {4, 1}, {0, 0}, {0, 0}, {2, 1}};
  for (size_t i = 0; i < sizeof(polls) / sizeof(polls[0]); i++) {
    list.dropped = polls[i].dropped;
    td_orgstate_step(&st, 90, TD_USAGE_PERCENT, &p, &out);
    tap_is_int(out.log_left_out, polls[i].say,
               "poll %zu with %zu left out: said %s", i + 1, polls[i].dropped,
               polls[i].say ? "now" : "not again");
  }
}

static void check_state(void) {
  td_policy_t pol = {.account = "main", .usage_warning_percent = 90};
  static td_orgstate_t st;
  static td_orgstate_step_t out;
  td_org_list_t list = {.count = 1};
  td_orgstate_init(&st);
  snprintf(list.orgs[0].name, sizeof(list.orgs[0].name), "Acme");
  list.orgs[0].has_usage = 1;
  list.orgs[0].restricted = 0;
  const struct {
    double usage;
    int restricted;
    const char *notes; /* kinds and severities raised, in order */
  } steps[] = {
      {50, 0, ""},
      {89.9, 0, ""},
      {90, 0, "usage:WARNING"},
      {140, 0, ""},
      {140, 1, "restricted:FAILURE"},
      {140, 1, ""},
      {10, 0, "usage:OKAY restricted:OKAY"},
  };
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    list.orgs[0].usage_percent = steps[i].usage;
    list.orgs[0].restricted = steps[i].restricted;
    td_poll_t p = orgs_poll(&list);
    td_orgstate_step(&st, pol.usage_warning_percent, TD_USAGE_PERCENT, &p,
                     &out);
    td_words_orgstate_step(&pol, &out);
    char got[128] = "";
    for (size_t k = 0; k < out.n_notes; k++)
      snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%s",
               k ? " " : "",
               out.notes[k].kind == TD_NOTE_ORG_USAGE ? "usage" : "restricted",
               out.notes[k].severity == TD_SEV_OKAY      ? "OKAY"
               : out.notes[k].severity == TD_SEV_WARNING ? "WARNING"
                                                         : "FAILURE");
    tap_is_str(got, steps[i].notes, "usage %.1f%%, restricted %d", steps[i].usage,
               steps[i].restricted);
    tap_is_double(out.orgs[0].usage_percent, steps[i].usage, 0,
                  "usage %.1f%% is dispatched as is (above 100 too)",
                  steps[i].usage);
  }
  tap_is_str(out.notes[0].instance, "Acme", "notes carry the organization");
}

/* Reminders with RepeatNotificationsAfter an hour, polls at the times
 * given: a standing WARNING or FAILURE comes again with this answer's
 * facts, an OKAY ends it and is never repeated, an unusable answer
 * reminds of nothing. */
static void check_reminders(void) {
  td_policy_t pol = {.account = "main", .usage_warning_percent = 90};
  static td_orgstate_t st;
  static td_orgstate_step_t out;
  td_org_list_t list = {.count = 1};
  list.orgs[0] = org("Acme", "A-1", 0, 0);
  td_orgstate_init(&st);
  const struct {
    double t; /* seconds */
    double usage;
    int restricted; /* 2: an unusable answer */
    const char *notes;
  } steps[] = {
      {0, 50, 0, ""},
      {600, 95, 0, "usage:WARNING"},
      {3599, 96, 0, ""},
      {4200, 97, 1, "restricted:FAILURE usage:WARNING+"},
      {7800, 98, 2, ""},
      {7900, 99, 1, "usage:WARNING+ restricted:FAILURE+"},
      {9000, 99, 1, ""},
      {11500, 50, 1, "usage:OKAY restricted:FAILURE+"},
      {15100, 50, 0, "restricted:OKAY"},
      {30000, 50, 0, ""},
  };
  char msg[TD_VERDICT_MAX_TEXT + 1] = "";
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    list.orgs[0].usage_percent = steps[i].usage;
    list.orgs[0].restricted = steps[i].restricted == 1;
    td_poll_t p = orgs_poll(&list);
    if (steps[i].restricted == 2)
      p.http_status = 503;
    td_orgstate_step(&st, pol.usage_warning_percent, TD_USAGE_PERCENT, &p,
                     &out);
    td_orgstate_remind(&st, pol.usage_warning_percent, 3600, T0 + steps[i].t,
                       &out);
    td_words_orgstate_step(&pol, &out);
    char got[128] = "";
    for (size_t k = 0; k < out.n_notes; k++) {
      const td_note_t *n = &out.notes[k];
      snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%s%s",
               k ? " " : "",
               n->kind == TD_NOTE_ORG_USAGE ? "usage" : "restricted",
               n->severity == TD_SEV_OKAY      ? "OKAY"
               : n->severity == TD_SEV_WARNING ? "WARNING"
                                               : "FAILURE",
               n->reminder ? "+" : "");
      if (n->reminder && n->kind == TD_NOTE_ORG_USAGE && i == 5)
        snprintf(msg, sizeof(msg), "%s", n->message);
    }
    tap_is_str(got, steps[i].notes, "reminders: at %.0f s, usage %.0f%%%s",
               steps[i].t, steps[i].usage,
               steps[i].restricted == 2 ? ", an unusable answer" : "");
  }
  tap_is_str(msg,
             "Account \"main\": organization Acme has used 99.0% of its "
             "signals (UsageWarningPercent 90) (reminder: standing since "
             "2027-01-15T08:10:00Z).",
             "an organization's reminder gives its usage now and since when "
             "it stands");
}

/* UsageScale: usagePercentage read as a fraction (the default) or as a
 * percent, dispatched in percent either way; and the self-check that
 * speaks once when the answer contradicts the scale. */
static void check_scale(void) {
  const struct {
    td_usage_scale_t scale;
    double sent;
    int restricted;
    double percent; /* dispatched */
    td_scale_doubt_t doubt;
  } scales[] = {
      {TD_USAGE_FRACTION, 0.25, 0, 25, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_FRACTION, 0.425, 0, 42.5, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_FRACTION, 1.175, 1, 117.5, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_FRACTION, 0, 0, 0, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_FRACTION, 10, 0, 1000, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_FRACTION, 42.5, 0, 4250, TD_SCALE_LOOKS_PERCENT},
      {TD_USAGE_FRACTION, 42.5, -1, 4250, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_FRACTION, 42.5, 1, 4250, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_PERCENT, 25, 0, 25, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_PERCENT, 117.5, 1, 117.5, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_PERCENT, 10, 1, 10, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_PERCENT, 1.175, 1, 1.175, TD_SCALE_LOOKS_FRACTION},
      {TD_USAGE_PERCENT, 0.5, 1, 0.5, TD_SCALE_LOOKS_FRACTION},
      {TD_USAGE_PERCENT, 0.5, 0, 0.5, TD_SCALE_PLAUSIBLE},
      {TD_USAGE_PERCENT, 5000, 0, 5000, TD_SCALE_PLAUSIBLE},
  };
  static td_orgstate_t st;
  static td_orgstate_step_t out;
  td_org_list_t list = {.count = 1};
  list.orgs[0] = org("Acme", "A-1", 0, 0);
  for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
    const char *scale =
        scales[i].scale == TD_USAGE_FRACTION ? "fraction" : "percent";
    list.orgs[0].usage_percent = scales[i].sent;
    list.orgs[0].restricted = scales[i].restricted;
    td_orgstate_init(&st);
    td_poll_t p = orgs_poll(&list);
    td_orgstate_step(&st, 90, scales[i].scale, &p, &out);
    tap_is_double(out.orgs[0].usage_percent, scales[i].percent, 1e-9,
                  "UsageScale %s, %g sent: %g%% dispatched", scale,
                  scales[i].sent, scales[i].percent);
    tap_is_int(out.scale.doubt, scales[i].doubt,
               "UsageScale %s, %g sent, restricted %d: self-check %d", scale,
               scales[i].sent, scales[i].restricted, (int)scales[i].doubt);
  }

  /* It speaks once, for the first organization that shows it, however
   * many do and however many polls follow. */
  td_policy_t pol = {.account = "main", .usage_warning_percent = 90};
  char line[TD_VERDICT_MAX_TEXT + 1];
  list.count = 2;
  list.orgs[0] = org("Calm", "C-1", 0.2, 0);
  list.orgs[1] = org("Loud", "L-2", 55, 0);
  td_orgstate_init(&st);
  td_poll_t p = orgs_poll(&list);
  td_orgstate_step(&st, 90, TD_USAGE_FRACTION, &p, &out);
  td_words_orgs_scale(&pol, &out, line, sizeof(line));
  tap_is_str(line,
             "account \"main\": organization Loud is not restricted at 5500% "
             "of its signals: usagePercentage looks like a percent, not a "
             "fraction; check UsageScale (fraction here).",
             "the self-check names the organization, its usage and the option");
  tap_ok(out.n_notes == 1 && out.notes[0].number == 5500,
         "and the usage WARNING carries the usage as read");
  td_orgstate_step(&st, 90, TD_USAGE_FRACTION, &p, &out);
  td_words_orgs_scale(&pol, &out, line, sizeof(line));
  tap_is_str(line, "", "the next poll: not again");
  list.orgs[0] = org("Held", "H-1", 1.02, 1);
  td_orgstate_init(&st);
  td_orgstate_step(&st, 90, TD_USAGE_PERCENT, &p, &out);
  td_words_orgs_scale(&pol, &out, line, sizeof(line));
  tap_is_str(line,
             "account \"main\": organization Held is in restricted mode at "
             "only 1.02% of its signals: usagePercentage looks like a "
             "fraction, not a percent; check UsageScale (percent here).",
             "restricted at 1.02%% read as percent: the other way round");

  /* A usage that does not fit a double once scaled is no usage. */
  list.count = 1;
  list.orgs[0] = org("Huge", "H-9", 1e307, 0);
  td_orgstate_init(&st);
  td_orgstate_step(&st, 90, TD_USAGE_FRACTION, &p, &out);
  tap_ok(out.orgs[0].has_usage == 0 && out.n_notes == 0,
         "1e307 read as a fraction overflows: not dispatched, no note");

  td_usage_scale_t sc = TD_USAGE_PERCENT;
  tap_ok(td_orgstate_scale_parse("Fraction", &sc) == 0 &&
             sc == TD_USAGE_FRACTION,
         "\"Fraction\" parses, without regard to case");
  tap_ok(td_orgstate_scale_parse("percent", &sc) == 0 && sc == TD_USAGE_PERCENT,
         "\"percent\" parses");
  tap_ok(td_orgstate_scale_parse("percentage", &sc) != 0 &&
             td_orgstate_scale_parse("", &sc) != 0 &&
             td_orgstate_scale_parse(NULL, &sc) != 0,
         "anything else is refused");
}

int main(void) {
  check_bodies();
  check_bounds();
  check_identifier();
  check_state();
  check_collisions();
  check_left_out_once();
  check_scale();
  check_reminders();
  return tap_done();
}
