/* fuzz_conf: libFuzzer target for collectd's configuration syntax
 * (td_conf).
 *
 * The whole input is one configuration file (corpus:
 * tests/fuzz/corpus/conf/), parsed whole, then a prefix of it whose length
 * comes from a hash of the input.
 *
 * Checked (abort() on a breach):
 *  - the status is a td_conf_status_t value; after an error the tree is
 *    empty and the line is at least 1 and at most the input's lines + 1;
 *  - after OK: every key is [0-9A-Za-z_]+, every item has values or
 *    children, at most TD_CONF_MAX_VALUES values each, strings of at most
 *    TD_CONF_MAX_WORD bytes, finite numbers, booleans 0 or 1, blocks at
 *    most TD_CONF_MAX_DEPTH deep, at most TD_CONF_MAX_ITEMS items, lines
 *    that never go down within a block;
 *  - the same input parses to the same status and line twice;
 *  - td_conf_include, td_conf_plugin and td_conf_interval on the tree:
 *    an index within the tree, a positive interval.
 *
 * Build: tools/fuzz build (clang -fsanitize=fuzzer,address,undefined). */
#include "td_conf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_conf"
#include "fuzz_common.h"

static size_t items;

static int is_key(const char *k) {
  if (k == NULL || k[0] == '\0')
    return 0;
  for (; *k != '\0'; k++)
    if (!((*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'z') ||
          (*k >= 'A' && *k <= 'Z') || *k == '_'))
      return 0;
  return 1;
}

static void check_item(const td_conf_item_t *it, unsigned depth) {
  CHECK(depth <= TD_CONF_MAX_DEPTH + 1);
  for (size_t i = 0; i < it->n_children; i++) {
    const td_conf_item_t *c = &it->children[i];
    CHECK(++items <= TD_CONF_MAX_ITEMS);
    CHECK(is_key(c->key));
    CHECK(c->n_values > 0 || c->n_children > 0);
    CHECK(c->n_values <= TD_CONF_MAX_VALUES);
    CHECK(i == 0 || c->line >= it->children[i - 1].line);
    for (size_t j = 0; j < c->n_values; j++) {
      const td_conf_value_t *v = &c->values[j];
      if (v->kind == TD_CONF_STRING)
        CHECK(v->string != NULL && strlen(v->string) <= TD_CONF_MAX_WORD);
      else if (v->kind == TD_CONF_NUMBER)
        CHECK(!isnan(v->number));
      else
        CHECK(v->kind == TD_CONF_BOOL && (v->boolean == 0 || v->boolean == 1));
    }
    check_item(c, depth + 1);
  }
}

static void check_parse(const char *text, size_t size) {
  td_conf_item_t root, again;
  td_conf_error_t e, e2;
  td_conf_status_t st = td_conf_parse(text, size, 0, &root, &e);
  CHECK(st >= TD_CONF_OK && st <= TD_CONF_E_INCLUDE_DEEP);
  CHECK(st == e.status);
  CHECK(td_conf_parse(text, size, 0, &again, &e2) == st && e2.line == e.line);
  td_conf_free(&again);
  if (st != TD_CONF_OK) {
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
      lines += text[i] == '\n';
    CHECK(root.n_children == 0 && root.children == NULL);
    CHECK(e.line >= 1 && e.line <= lines + 1);
    return;
  }
  items = 0;
  check_item(&root, 0);
  for (size_t i = 0; i < root.n_children; i++) {
    const char *path, *filter;
    int r = td_conf_include(&root.children[i], &path, &filter);
    CHECK(r >= -1 && r <= 1);
    CHECK(r != 1 || path != NULL);
  }
  CHECK(td_conf_plugin(&root, "telemetrydeck", 0) <= root.n_children);
  CHECK(td_conf_interval(&root, "telemetrydeck") > 0);
  td_conf_free(&root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)fill_pad; /* fuzz_common.h's padding: the bound here is per file */
  if (size > TD_CONF_MAX_BYTES)
    return 0;
  const char *text = (const char *)data;
  check_parse(text, size);
  if (size > 0)
    check_parse(text, hash_input(data, size) % size);
  return 0;
}
