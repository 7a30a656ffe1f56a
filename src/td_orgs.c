/* td_orgs: streaming extraction of the organizations list. See td_orgs.h. */
#include "td_orgs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td_json.h"

#define NUMBER_MAX 64 /* bytes of a number we convert; longer ones are junk */

typedef enum { F_OTHER, F_NAME, F_ID, F_USAGE, F_RESTRICTED } field_t;

struct td_orgs {
  td_json_t json; /* the parser, its bounds and its sticky error */
  int top_is_object;
  unsigned list_depth; /* depth inside the chosen array; 0: none yet */
  int in_list;
  td_org_t *cur;       /* the organization being read, or NULL */
  field_t field;
  td_org_list_t list;
};

/* The organization a scalar at this position belongs to, or NULL. */
static td_org_t *target(const td_orgs_t *o) {
  return o->cur != NULL && o->json.depth == o->list_depth + 1 ? o->cur : NULL;
}

static void clear_field(td_orgs_t *o) {
  td_org_t *org = target(o);
  if (org == NULL)
    return;
  if (o->field == F_NAME) {
    org->name[0] = '\0';
    org->name_hash = 0;
  } else if (o->field == F_ID) {
    org->id[0] = '\0';
    org->id_hash = 0;
  }
  else if (o->field == F_USAGE)
    org->has_usage = 0;
  else if (o->field == F_RESTRICTED)
    org->restricted = -1;
}

static int on_null(void *ctx) {
  td_orgs_t *o = ctx;
  clear_field(o);
  td_json_scalar(&o->json);
  return 1;
}

static int on_boolean(void *ctx, int b) {
  td_orgs_t *o = ctx;
  td_org_t *org = target(o);
  if (org != NULL && o->field == F_RESTRICTED)
    org->restricted = b ? 1 : 0;
  else
    clear_field(o);
  td_json_scalar(&o->json);
  return 1;
}

static int on_number(void *ctx, const char *s, size_t len) {
  td_orgs_t *o = ctx;
  td_org_t *org = target(o);
  char buf[NUMBER_MAX + 1];
  clear_field(o);
  if (org != NULL && o->field == F_USAGE && len <= NUMBER_MAX) {
    memcpy(buf, s, len);
    buf[len] = '\0';
    double v = strtod(buf, NULL);
    if (isfinite(v)) {
      org->usage_percent = v;
      org->has_usage = 1;
    }
  }
  td_json_scalar(&o->json);
  return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
  td_orgs_t *o = ctx;
  td_org_t *org = target(o);
  clear_field(o);
  if (org != NULL && o->field == F_NAME) {
    td_json_keep(org->name, TD_ORGS_MAX_NAME, s, len);
    org->name_hash = td_orgs_hash(s, len);
  } else if (org != NULL && o->field == F_ID) {
    td_json_keep(org->id, TD_ORGS_MAX_NAME, s, len);
    org->id_hash = td_orgs_hash(s, len);
  }
  td_json_scalar(&o->json);
  return 1;
}

/* An object in the list (opened at depth parent) starts an organization. */
static void maybe_open_org(td_orgs_t *o, int is_map, unsigned parent) {
  if (!is_map || !o->in_list || parent != o->list_depth)
    return;
  if (o->list.count == TD_ORGS_MAX) {
    o->list.dropped++;
    return;
  }
  o->cur = &o->list.orgs[o->list.count++];
  memset(o->cur, 0, sizeof(*o->cur));
  o->cur->restricted = -1;
}

static int open_container(td_orgs_t *o, int is_map) {
  unsigned parent = o->json.depth;
  if (parent == 0)
    o->top_is_object = is_map;
  clear_field(o);
  if (!td_json_open(&o->json))
    return 0;
  maybe_open_org(o, is_map, parent);
  /* The list: the top-level array, or a top-level object's first array. */
  if (!is_map && o->list_depth == 0 &&
      (parent == 0 || (parent == 1 && o->top_is_object))) {
    o->list_depth = parent + 1;
    o->in_list = 1;
  }
  return 1;
}

static int close_container(td_orgs_t *o) {
  if (o->cur != NULL && o->json.depth == o->list_depth + 1)
    o->cur = NULL;
  if (o->in_list && o->json.depth == o->list_depth)
    o->in_list = 0;
  td_json_close(&o->json);
  return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, 1); }
static int on_start_array(void *ctx) { return open_container(ctx, 0); }
static int on_end(void *ctx) { return close_container(ctx); }

static int on_map_key(void *ctx, const unsigned char *k, size_t len) {
  static const struct {
    const char *name;
    field_t field;
  } fields[] = {
      {"name", F_NAME},
      {"id", F_ID},
      {"usagePercentage", F_USAGE},
      {"isInRestrictedMode", F_RESTRICTED},
  };
  td_orgs_t *o = ctx;
  o->field = F_OTHER;
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    if (strlen(fields[i].name) == len && memcmp(fields[i].name, k, len) == 0)
      o->field = fields[i].field;
  return 1;
}

static const yajl_callbacks callbacks = TD_JSON_CALLBACKS;

td_orgs_t *td_orgs_new(void) {
  td_orgs_t *o = calloc(1, sizeof(*o));
  if (o == NULL)
    return NULL;
  if (td_orgs_reset(o) != TD_JSON_OK) {
    free(o);
    return NULL;
  }
  return o;
}

void td_orgs_free(td_orgs_t *o) {
  if (o == NULL)
    return;
  td_json_free(&o->json);
  free(o);
}

td_json_status_t td_orgs_reset(td_orgs_t *o) {
  td_json_t json = o->json; /* keep the handle for td_json_reset to free */
  memset(o, 0, sizeof(*o));
  o->json = json;
  return td_json_reset(&o->json, &callbacks, o);
}

td_json_status_t td_orgs_feed(td_orgs_t *o, const void *buf, size_t len) {
  return td_json_feed(&o->json, buf, len);
}

td_json_status_t td_orgs_finish(td_orgs_t *o) {
  return td_json_finish(&o->json);
}

const td_org_list_t *td_orgs_list(const td_orgs_t *o) { return &o->list; }

uint32_t td_orgs_hash(const unsigned char *s, size_t len) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= s[i];
    h *= 16777619u;
  }
  return h;
}

void td_orgs_identifier(const char *name, char *dst, size_t size) {
  if (size == 0)
    return;
  if (name == NULL || name[0] == '\0')
    name = "unnamed";
  size_t n = 0;
  for (; name[n] != '\0' && n + 1 < size; n++) {
    unsigned char c = (unsigned char)name[n];
    int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '.';
    dst[n] = keep ? (char)c : '_';
  }
  dst[n] = '\0';
}

/* 1 when an identifier holds a letter or a digit: something to read. */
static int readable(const char *ident) {
  for (; *ident != '\0'; ident++)
    if ((*ident >= 'a' && *ident <= 'z') || (*ident >= 'A' && *ident <= 'Z') ||
        (*ident >= '0' && *ident <= '9'))
      return 1;
  return 0;
}

/* The readable part, cut to leave room for the suffix, and the suffix:
 * eight hex digits of the id's hash (of the whole name without an id). */
static void with_suffix(const td_org_t *org, const char *base, char *dst) {
  uint32_t h = org->id[0] != '\0' ? org->id_hash : org->name_hash;
  snprintf(dst, TD_ORGS_MAX_IDENT + 1, "%.*s_%08x",
           TD_ORGS_MAX_IDENT - TD_ORGS_SUFFIX, base, (unsigned)h);
}

size_t td_orgs_identify(const td_org_list_t *list,
                        char idents[][TD_ORGS_MAX_IDENT + 1]) {
  char base[TD_ORGS_MAX][TD_ORGS_MAX_IDENT + 1];
  size_t n = list->count < TD_ORGS_MAX ? list->count : TD_ORGS_MAX;
  size_t duplicates = 0;
  for (size_t i = 0; i < n; i++)
    td_orgs_identifier(list->orgs[i].name, base[i], sizeof(base[i]));
  for (size_t i = 0; i < n; i++) {
    int collides = !readable(base[i]);
    for (size_t j = 0; j < n && !collides; j++)
      collides = j != i && strcmp(base[i], base[j]) == 0;
    if (collides)
      with_suffix(&list->orgs[i], base[i], idents[i]);
    else
      memcpy(idents[i], base[i], sizeof(base[i]));
  }
  /* The same organization listed twice (same name and id): only the
   * first one counts. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i && idents[i][0] != '\0'; j++)
      if (strcmp(idents[i], idents[j]) == 0) {
        idents[i][0] = '\0';
        duplicates++;
      }
  return duplicates;
}
