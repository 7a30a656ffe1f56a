/* td_shape: an answer's structure without its values. See td_shape.h. */
#include "td_shape.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "td_text.h"

#define NUMBER_MAX 63 /* bytes of a number looked at for its range */

typedef struct {
  size_t base; /* length of the container's own path */
  int is_array;
  size_t length; /* elements so far */
} frame_t;

struct td_shape {
  td_json_t json;
  char path[TD_SHAPE_MAX_PATH + 1]; /* where the next value stands */
  size_t len;
  frame_t stack[TD_JSON_MAX_DEPTH + 1];
  unsigned depth;
  td_shape_result_t r;
};

static td_shape_path_t *find_or_add(td_shape_t *s) {
  for (size_t i = 0; i < s->r.count; i++)
    if (strcmp(s->r.paths[i].path, s->path) == 0)
      return &s->r.paths[i];
  if (s->r.count >= TD_SHAPE_MAX_PATHS) {
    s->r.dropped++;
    return NULL;
  }
  td_shape_path_t *p = &s->r.paths[s->r.count++];
  memset(p, 0, sizeof(*p));
  memcpy(p->path, s->path, s->len + 1);
  return p;
}

/* A value of type starts at the current path. */
static td_shape_path_t *value(td_shape_t *s, unsigned type) {
  if (s->depth > 0 && s->stack[s->depth - 1].is_array)
    s->stack[s->depth - 1].length++;
  td_shape_path_t *p = find_or_add(s);
  if (p != NULL)
    p->types |= type;
  return p;
}

/* Appends text to the current path, cut when it would not fit. */
static void append(td_shape_t *s, const char *text, size_t n) {
  if (n > TD_SHAPE_MAX_PATH - s->len)
    n = TD_SHAPE_MAX_PATH - s->len;
  memcpy(s->path + s->len, text, n);
  s->len += n;
  s->path[s->len] = '\0';
}

static void truncate_to(td_shape_t *s, size_t len) {
  s->len = len;
  s->path[len] = '\0';
}

static int on_null(void *ctx) {
  td_shape_t *s = ctx;
  value(s, TD_SHAPE_NULL);
  td_json_scalar(&s->json);
  return 1;
}

static int on_boolean(void *ctx, int b) {
  td_shape_t *s = ctx;
  (void)b;
  value(s, TD_SHAPE_BOOLEAN);
  td_json_scalar(&s->json);
  return 1;
}

/* Only whether the number lies within 0..1 is kept: it tells a fraction
 * from a percent without showing the number. */
static int on_number(void *ctx, const char *text, size_t len) {
  td_shape_t *s = ctx;
  char buf[NUMBER_MAX + 1];
  td_shape_path_t *p = value(s, TD_SHAPE_NUMBER);
  if (p != NULL) {
    double v = INFINITY;
    if (len <= NUMBER_MAX) {
      memcpy(buf, text, len);
      buf[len] = '\0';
      v = strtod(buf, NULL);
    }
    p->numbers++;
    p->numbers_above_one += !(v >= 0 && v <= 1);
  }
  td_json_scalar(&s->json);
  return 1;
}

static int on_string(void *ctx, const unsigned char *str, size_t len) {
  td_shape_t *s = ctx;
  (void)str;
  (void)len;
  value(s, TD_SHAPE_STRING);
  td_json_scalar(&s->json);
  return 1;
}

static int open_container(td_shape_t *s, unsigned type) {
  value(s, type);
  if (!td_json_open(&s->json))
    return 0;
  frame_t *f = &s->stack[s->depth++];
  f->base = s->len;
  f->is_array = type == TD_SHAPE_ARRAY;
  f->length = 0;
  if (f->is_array)
    append(s, "[]", 2);
  return 1;
}

static int on_start_map(void *ctx) {
  return open_container(ctx, TD_SHAPE_OBJECT);
}

static int on_start_array(void *ctx) {
  return open_container(ctx, TD_SHAPE_ARRAY);
}

/* A key that looks like a field name is shown; any other (an id, an
 * address, text) could be data, and shows as <key>. */
static int is_field_name(const unsigned char *k, size_t len) {
  if (len == 0 || len > TD_SHAPE_MAX_KEY || !(isalpha(k[0]) || k[0] == '_'))
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!(isalnum(k[i]) || k[i] == '_' || k[i] == '-'))
      return 0;
  return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
  td_shape_t *s = ctx;
  truncate_to(s, s->stack[s->depth - 1].base);
  append(s, ".", 1);
  if (is_field_name(key, len))
    append(s, (const char *)key, len);
  else
    append(s, "<key>", 5);
  return 1;
}

static int close_container(td_shape_t *s) {
  frame_t *f = &s->stack[--s->depth];
  truncate_to(s, f->base);
  if (f->is_array) {
    td_shape_path_t *p = find_or_add(s);
    if (p != NULL && p->arrays++ == 0)
      p->min_len = p->max_len = f->length;
    else if (p != NULL) {
      if (f->length < p->min_len)
        p->min_len = f->length;
      if (f->length > p->max_len)
        p->max_len = f->length;
    }
  }
  td_json_close(&s->json);
  return 1;
}

static int on_end(void *ctx) { return close_container(ctx); }

static const yajl_callbacks callbacks = TD_JSON_CALLBACKS;

td_shape_t *td_shape_new(void) {
  td_shape_t *s = calloc(1, sizeof(*s));
  if (s != NULL && td_shape_reset(s) != TD_JSON_OK) {
    td_shape_free(s);
    return NULL;
  }
  return s;
}

void td_shape_free(td_shape_t *s) {
  if (s == NULL)
    return;
  td_json_free(&s->json);
  free(s);
}

td_json_status_t td_shape_reset(td_shape_t *s) {
  memset(&s->r, 0, sizeof(s->r));
  s->depth = 0;
  s->len = 0;
  append(s, "$", 1);
  s->r.body = td_json_reset(&s->json, &callbacks, s);
  return s->r.body;
}

/* "HTTP/1.1 200 OK": the protocol and the status; 0 when not one. */
static int status_line(td_shape_t *s, const char *line, size_t len) {
  size_t n = 0;
  if (len < 5 || strncmp(line, "HTTP/", 5) != 0)
    return 0;
  while (n < len && n < sizeof(s->r.protocol) - 1 && line[n] != ' ' &&
         (unsigned char)line[n] > 0x20 && (unsigned char)line[n] < 0x7f)
    n++;
  memcpy(s->r.protocol, line, n);
  s->r.protocol[n] = '\0';
  s->r.status = 0;
  for (size_t i = n + 1;
       i < len && i < n + 4 && isdigit((unsigned char)line[i]); i++)
    s->r.status = s->r.status * 10 + (line[i] - '0');
  s->r.n_headers = 0;
  return 1;
}

static int header_kept(const char *line, size_t name_len) {
  static const char *const exact[] = {"content-type", "retry-after"};
  char name[64];
  if (name_len == 0 || name_len >= sizeof(name))
    return 0;
  for (size_t i = 0; i < name_len; i++)
    name[i] = (char)tolower((unsigned char)line[i]);
  name[name_len] = '\0';
  for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
    if (strcmp(name, exact[i]) == 0)
      return 1;
  return strstr(name, "ratelimit") != NULL ||
         strstr(name, "rate-limit") != NULL;
}

void td_shape_header(td_shape_t *s, const char *line, size_t len) {
  char raw[TD_SHAPE_MAX_HEADER + 1];
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (status_line(s, line, len))
    return;
  const char *colon = memchr(line, ':', len);
  if (colon == NULL || !header_kept(line, (size_t)(colon - line)) ||
      s->r.n_headers >= TD_SHAPE_MAX_HEADERS)
    return;
  size_t n = len < TD_SHAPE_MAX_HEADER ? len : TD_SHAPE_MAX_HEADER;
  memcpy(raw, line, n);
  raw[n] = '\0';
  td_text_clean(s->r.headers[s->r.n_headers++], TD_SHAPE_MAX_HEADER + 1, raw,
                TD_SHAPE_MAX_HEADER);
}

void td_shape_feed(td_shape_t *s, const void *buf, size_t len) {
  s->r.body = td_json_feed(&s->json, buf, len);
}

void td_shape_finish(td_shape_t *s) { s->r.body = td_json_finish(&s->json); }

const td_shape_result_t *td_shape_result(const td_shape_t *s) { return &s->r; }

void td_shape_line(const td_shape_path_t *p, char *dst, size_t size) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {
      {TD_SHAPE_OBJECT, "object"},   {TD_SHAPE_ARRAY, "array"},
      {TD_SHAPE_STRING, "string"},   {TD_SHAPE_NUMBER, "number"},
      {TD_SHAPE_BOOLEAN, "boolean"}, {TD_SHAPE_NULL, "null"},
  };
  char types[64] = "", extra[64] = "";
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (p->types & names[i].bit)
      snprintf(types + strlen(types), sizeof(types) - strlen(types), "%s%s",
               types[0] ? "|" : "", names[i].name);
  if (p->arrays > 0 && p->min_len == p->max_len)
    snprintf(extra, sizeof(extra), " (length %zu)", p->max_len);
  else if (p->arrays > 0)
    snprintf(extra, sizeof(extra), " (length %zu..%zu)", p->min_len,
             p->max_len);
  else if (p->numbers > 0)
    snprintf(extra, sizeof(extra), " (%s)",
             p->numbers_above_one == 0            ? "within 0..1"
             : p->numbers_above_one == p->numbers ? "outside 0..1"
                                                  : "within and outside 0..1");
  td_text_format(dst, size, "%s %s%s", p->path, types, extra);
}
