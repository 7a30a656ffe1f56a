/* fuzz_orgs: libFuzzer target for the organizations extractor (td_orgs)
 * and the organizations' state (td_orgstate_step).
 *
 * The whole input is one GET /api/v3/organizations body (corpus:
 * tests/fuzz/corpus/orgs/). Like fuzz_extract, pass 1 feeds it in chunks
 * whose sizes come from a PRNG seeded with a hash of the input (one input
 * in 16 padded with spaces past TD_JSON_MAX_BODY), pass 2 resets the
 * same extractor and feeds it in one chunk.
 *
 * Checked (abort() on a breach):
 *  - statuses are td_json_status_t values, errors sticky;
 *  - count <= TD_ORGS_MAX; names NUL-terminated within their arrays and,
 *    after OK, whole UTF-8 characters; has_usage 0 or 1 with a finite
 *    usage; restricted -1, 0 or 1;
 *  - chunking never changes the status nor, after OK, the list;
 *  - td_orgstate_step on the list (UsageWarningPercent from the hash,
 *    NaN and infinities included): at most one entry per identifier, in
 *    the list's order, identifiers of [A-Za-z0-9_.] only; from a fresh
 *    state exactly one WARNING per organization at or over the threshold
 *    and one FAILURE per restricted one, nothing else; the same list again
 *    gives no note; an empty list forgets them all, silently; every note's
 *    instance is its organization's identifier and its message is non-empty,
 *    NUL-terminated and free of control bytes;
 *  - td_orgs_identifier on the input's first bytes, any size.
 *
 * Build: tools/fuzz build (clang -fsanitize=fuzzer,address,undefined). */
#include "td_extract.h"
#include "td_orgs.h"
#include "td_orgstate.h"
#include "td_state.h"
#include "td_words.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_orgs"
#include "fuzz_common.h"

static int ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static void check_ident(const char *id, size_t size) {
  CHECK(memchr(id, '\0', size) != NULL);
  CHECK(id[0] != '\0');
  for (const char *c = id; *c; c++)
    CHECK(ident_char(*c));
}

static void check_list(const td_org_list_t *l, int ok) {
  CHECK(l->count <= TD_ORGS_MAX);
  for (size_t i = 0; i < l->count; i++) {
    const td_org_t *o = &l->orgs[i];
    CHECK(memchr(o->name, '\0', sizeof(o->name)) != NULL);
    if (ok)
      CHECK(whole_utf8(o->name));
    CHECK(o->has_usage == 0 || o->has_usage == 1);
    if (o->has_usage)
      CHECK(isfinite(o->usage_percent));
    CHECK(o->restricted >= -1 && o->restricted <= 1);
  }
}

static void same_list(const td_org_list_t *a, const td_org_list_t *b) {
  CHECK(a->count == b->count && a->dropped == b->dropped);
  for (size_t i = 0; i < a->count; i++) {
    CHECK(strcmp(a->orgs[i].name, b->orgs[i].name) == 0);
    CHECK(a->orgs[i].has_usage == b->orgs[i].has_usage);
    if (a->orgs[i].has_usage)
      CHECK(a->orgs[i].usage_percent == b->orgs[i].usage_percent);
    CHECK(a->orgs[i].restricted == b->orgs[i].restricted);
  }
}

/* Feeds buf in PRNG chunks (seed != NULL) or whole; errors are sticky. */
static td_json_status_t feed_all(td_orgs_t *o, const uint8_t *buf,
                                    size_t len, uint32_t *seed,
                                    td_json_status_t err) {
  size_t off = 0;
  do {
    size_t n = seed == NULL ? len : body_chunk_size(seed);
    if (n > len - off)
      n = len - off;
    td_json_status_t s = td_orgs_feed(o, buf + off, n);
    CHECK(status_known(s));
    if (err != TD_JSON_OK)
      CHECK(s == err);
    err = s;
    off += n;
  } while (off < len);
  return err;
}

static td_json_status_t parse(td_orgs_t *o, const uint8_t *data,
                                 size_t size, int padded, uint32_t *seed,
                                 td_org_list_t *out) {
  CHECK(td_orgs_reset(o) == TD_JSON_OK);
  td_json_status_t err = feed_all(o, data, size, seed, TD_JSON_OK);
  if (padded)
    err = feed_all(o, (const uint8_t *)pad, sizeof(pad), seed, err);
  td_json_status_t s = td_orgs_finish(o);
  CHECK(status_known(s));
  if (err != TD_JSON_OK)
    CHECK(s == err);
  if (s != TD_JSON_OK)
    CHECK(td_orgs_feed(o, "[]", 2) == s);
  memcpy(out, td_orgs_list(o), sizeof(*out));
  check_list(out, s == TD_JSON_OK);
  return s;
}

static size_t count_notes(const td_orgstate_step_t *out, td_note_kind_t k,
                          td_severity_t s) {
  size_t c = 0;
  for (size_t i = 0; i < out->n_notes; i++)
    if (out->notes[i].kind == k && out->notes[i].severity == s)
      c++;
  return c;
}

static void check_orgs_step(const td_orgstate_step_t *out,
                            const td_orgstate_t *st) {
  CHECK(out->count <= TD_ORGS_MAX && out->count == st->count);
  CHECK(out->n_notes <= 2 * TD_ORGS_MAX);
  for (size_t i = 0; i < out->count; i++) {
    check_ident(out->orgs[i].ident, sizeof(out->orgs[i].ident));
    CHECK(strcmp(out->orgs[i].ident, st->orgs[i].ident) == 0);
    CHECK(out->orgs[i].restricted >= -1 && out->orgs[i].restricted <= 1);
    for (size_t j = 0; j < i; j++)
      CHECK(strcmp(out->orgs[i].ident, out->orgs[j].ident) != 0);
  }
  for (size_t i = 0; i < out->n_notes; i++) {
    const td_note_t *n = &out->notes[i];
    CHECK(n->kind == TD_NOTE_ORG_USAGE || n->kind == TD_NOTE_ORG_RESTRICTED);
    CHECK(n->severity == TD_SEV_FAILURE || n->severity == TD_SEV_WARNING ||
          n->severity == TD_SEV_OKAY);
    CHECK(memchr(n->instance, '\0', sizeof(n->instance)) != NULL);
    CHECK(memchr(n->message, '\0', sizeof(n->message)) != NULL);
    CHECK(n->message[0] != '\0');
    for (const unsigned char *c = (const unsigned char *)n->message; *c; c++)
      CHECK(*c >= 0x20 && *c != 0x7f);
    int found = 0;
    for (size_t j = 0; j < out->count; j++)
      found |= strcmp(n->instance, out->orgs[j].ident) == 0;
    CHECK(found);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static td_org_list_t chunked, whole;
  fill_pad();
  uint32_t h = hash_input(data, size);
  uint32_t seed = h ? h : 1;
  int padded = (h & 0xF) == 0;

  td_orgs_t *o = td_orgs_new();
  if (o == NULL)
    return 0;
  td_json_status_t s1 = parse(o, data, size, padded, &seed, &chunked);
  td_json_status_t s2 = parse(o, data, size, padded, NULL, &whole);
  td_orgs_free(o);
  if (padded)
    CHECK(s1 != TD_JSON_OK && s2 != TD_JSON_OK);
  if (size <= TD_JSON_MAX_BODY && !padded)
    CHECK(s1 == s2);
  else if (size <= TD_JSON_MAX_BODY) /* see fuzz_extract.c */
    CHECK(s1 == s2 || s2 == TD_JSON_E_SIZE);
  if (s1 == TD_JSON_OK && s2 == TD_JSON_OK)
    same_list(&chunked, &whole);

  /* td_orgs_identifier on the input's first bytes. */
  char name[TD_ORGS_MAX_NAME + 1], id[TD_ORGS_MAX_NAME + 1];
  size_t nlen = size < TD_ORGS_MAX_NAME ? size : TD_ORGS_MAX_NAME;
  memcpy(name, data, nlen);
  name[nlen] = '\0';
  size_t idsize = 1 + (h >> 8) % sizeof(id);
  memset(id, 'Z', sizeof(id));
  td_orgs_identifier(name, id, idsize);
  CHECK(memchr(id, '\0', idsize) != NULL);
  for (size_t k = idsize; k < sizeof(id); k++)
    CHECK(id[k] == 'Z');
  for (const char *c = id; *c; c++)
    CHECK(ident_char(*c));
  if (idsize > 1)
    CHECK(id[0] != '\0');

  /* The organizations' state over three answers. */
  if (s1 != TD_JSON_OK)
    return 0;
  static const double warn[] = {0, 50, 80, 90, 100, 1e308, -1, NAN,
                                INFINITY, -INFINITY, 42.5, 99.999};
  td_policy_t pol = {
      .account = "main",
      .usage_warning_percent = warn[(h >> 16) % (sizeof(warn) / sizeof(warn[0]))],
  };
  static td_orgstate_t st;
  static td_orgstate_step_t out;
  static td_org_list_t empty;
  td_poll_t p = {.http_status = 200, .body = TD_JSON_OK, .orgs = &chunked};
  td_poll_t none = {.http_status = 200, .body = TD_JSON_OK, .orgs = &empty};
  td_orgstate_init(&st);
  td_orgstate_step(&st, pol.usage_warning_percent, TD_USAGE_PERCENT, &p, &out);
  td_words_orgstate_step(&pol, &out);
  check_orgs_step(&out, &st);
  /* From nothing known: one note per organization over the threshold or
   * restricted (each one under its own identifier; only one listed twice
   * whole counts once), no OKAY. */
  char idents[TD_ORGS_MAX][TD_ORGS_MAX_IDENT + 1];
  size_t dup = td_orgs_identify(&chunked, idents);
  CHECK(out.duplicates == dup && out.count + dup == chunked.count);
  size_t want_w = 0, want_f = 0;
  for (size_t i = 0; i < chunked.count; i++) {
    if (idents[i][0] == '\0')
      continue;
    want_w += chunked.orgs[i].has_usage &&
              chunked.orgs[i].usage_percent >= pol.usage_warning_percent;
    want_f += chunked.orgs[i].restricted == 1;
  }
  CHECK(count_notes(&out, TD_NOTE_ORG_USAGE, TD_SEV_WARNING) == want_w);
  CHECK(count_notes(&out, TD_NOTE_ORG_RESTRICTED, TD_SEV_FAILURE) == want_f);
  CHECK(out.n_notes == want_w + want_f);
  /* The same answer again: nothing changed, nothing to say. */
  td_orgstate_step(&st, pol.usage_warning_percent, TD_USAGE_PERCENT, &p, &out);
  td_words_orgstate_step(&pol, &out);
  check_orgs_step(&out, &st);
  CHECK(out.n_notes == 0 && out.log_left_out == 0);
  /* No organization any more: all forgotten, silently. */
  td_orgstate_step(&st, pol.usage_warning_percent, TD_USAGE_PERCENT, &none,
                   &out);
  check_orgs_step(&out, &st);
  CHECK(out.n_notes == 0 && st.count == 0 && out.count == 0);
  return 0;
}
