/* The organizations extractor (td_orgs) against a table of bodies, each
 * replayed at every chunk size, and the organizations state machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "td_orgs.h"
#include "td_state.h"

/* One expected organization: name, usage ("-" none), restricted. */
typedef struct {
  const char *name;
  double usage; /* < -1e9: absent */
  int restricted;
} want_org_t;

#define NONE (-2e9)

static const struct {
  const char *what;
  const char *body;
  td_extract_status_t status;
  size_t count;
  want_org_t orgs[4];
} cases[] = {
    {"a top-level array of organizations",
     "[{\"id\":\"a\",\"name\":\"Acme\",\"usagePercentage\":42.5,"
     "\"isInRestrictedMode\":false,\"resolvedMaxSignals\":100000}]",
     TD_EXTRACT_OK, 1, {{"Acme", 42.5, 0}}},
    {"a wrapper object: its first array is the list",
     "{\"meta\":{\"x\":[1,2]},\"organizations\":[{\"name\":\"B\","
     "\"usagePercentage\":120}],\"other\":[{\"name\":\"not this\"}]}",
     TD_EXTRACT_OK, 1, {{"B", 120, -1}}},
    {"missing and mistyped fields are no value",
     "[{\"name\":\"N\"},{\"usagePercentage\":\"lots\",\"isInRestrictedMode\":"
     "\"yes\",\"name\":7},{\"isInRestrictedMode\":true}]",
     TD_EXTRACT_OK, 3, {{"N", NONE, -1}, {"", NONE, -1}, {"", NONE, 1}}},
    {"nested objects and arrays inside an organization are skipped",
     "[{\"members\":[{\"name\":\"x\",\"usagePercentage\":1}],\"owner\":"
     "{\"name\":\"y\"},\"name\":\"Z\",\"usagePercentage\":3e1}]",
     TD_EXTRACT_OK, 1, {{"Z", 30, -1}}},
    {"non-objects in the list are skipped",
     "[1,\"two\",null,[{\"name\":\"deep\"}],{\"name\":\"Real\"}]",
     TD_EXTRACT_OK, 1, {{"Real", NONE, -1}}},
    {"an empty list", "[]", TD_EXTRACT_OK, 0, {{0}}},
    {"an object without a list", "{\"error\":true,\"reason\":\"x\"}",
     TD_EXTRACT_OK, 0, {{0}}},
    {"a truncated list", "[{\"name\":\"A\"", TD_EXTRACT_E_TRUNCATED, 0, {{0}}},
    {"malformed", "[{\"name\":}]", TD_EXTRACT_E_SYNTAX, 0, {{0}}},
    {"empty", "", TD_EXTRACT_E_EMPTY, 0, {{0}}},
};

/* Feeds body in chunks of size step; returns the status. */
static td_extract_status_t replay(td_orgs_t *o, const char *body,
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
      td_extract_status_t st = replay(o, cases[i].body, step);
      if (st != cases[i].status ||
          (st == TD_EXTRACT_OK &&
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
  tap_is_int(replay(o, body, n), TD_EXTRACT_OK, "%d organizations parse",
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
  tap_is_int(replay(o, body, 3), TD_EXTRACT_E_DEPTH,
             "nesting beyond TD_EXTRACT_MAX_DEPTH stops the parse");
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

static void check_state(void) {
  td_policy_t pol = {.account = "main", .usage_warning_percent = 90};
  td_orgs_state_t st = {0};
  td_orgs_step_t out;
  td_org_list_t list = {.count = 1};
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
    td_state_orgs_step(&st, &pol, &list, &out);
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

int main(void) {
  check_bodies();
  check_bounds();
  check_identifier();
  check_state();
  return tap_done();
}
