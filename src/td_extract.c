/* td_extract: streaming extraction of the users/info fields with yajl's
 * callback parser. See td_extract.h for the contract. */
#include "td_extract.h"

#include <stdlib.h>
#include <string.h>

#include "td_json.h"

/* The keys we care about; everything else is skipped at any depth. */
typedef enum {
  KEY_OTHER = 0,
  KEY_ID,
  KEY_EMAIL,
  KEY_EMAIL_VERIFIED,
  KEY_REASON,
  KEY_DETAIL,
  KEY_ORGANIZATION,
  KEY_NAME,
} key_t_;

struct td_extract {
  td_json_t json;     /* the parser, its bounds and its sticky error */
  key_t_ top_key;     /* key of the current depth-1 member */
  key_t_ org_key;     /* key of the current member of "organization" */
  int org_open;       /* depth 2 is the "organization" object */
  char detail[TD_EXTRACT_MAX_STRING + 1];
  td_account_info_t info;
};

/* Every key of a body passes here: the length decides which one or two
 * names to compare, so an unknown key costs a switch, not a table scan. */
static key_t_ key_lookup(const unsigned char *k, size_t len, int in_org) {
#define IS(name) (memcmp(k, name, sizeof(name) - 1) == 0)
  if (in_org)
    return len == 4 && IS("name") ? KEY_NAME : KEY_OTHER;
  switch (len) {
  case 2:
    return IS("id") ? KEY_ID : KEY_OTHER;
  case 5:
    return IS("email") ? KEY_EMAIL : KEY_OTHER;
  case 6:
    return IS("reason") ? KEY_REASON : IS("detail") ? KEY_DETAIL : KEY_OTHER;
  case 12:
    return IS("organization") ? KEY_ORGANIZATION : KEY_OTHER;
  case 15:
    return IS("emailIsVerified") ? KEY_EMAIL_VERIFIED : KEY_OTHER;
  default:
    return KEY_OTHER;
  }
#undef IS
}

/* The key a scalar at the current position belongs to, or KEY_OTHER. */
static key_t_ slot(const td_extract_t *x) {
  if (x->json.depth == 1 && x->info.top_is_object)
    return x->top_key;
  if (x->json.depth == 2 && x->org_open)
    return x->org_key;
  return KEY_OTHER;
}

static char *string_slot(td_extract_t *x, key_t_ k) {
  switch (k) {
  case KEY_ID:
    return x->info.id;
  case KEY_EMAIL:
    return x->info.email;
  case KEY_REASON:
    return x->info.reason;
  case KEY_DETAIL:
    return x->detail;
  case KEY_NAME:
    return x->info.org_name;
  default:
    return NULL;
  }
}

/* A value of the wrong type clears what its key held: the last duplicate
 * key wins, whatever its type. Most values belong to no key: return at
 * once for those, this runs for every token. */
static inline void clear_slot(td_extract_t *x, key_t_ k) {
  if (k == KEY_OTHER)
    return;
  char *s = string_slot(x, k);
  if (s != NULL)
    s[0] = '\0';
  if (k == KEY_EMAIL_VERIFIED)
    x->info.email_verified = -1;
  if (k == KEY_ORGANIZATION)
    x->info.org_name[0] = '\0';
}

static int on_null(void *ctx) {
  td_extract_t *x = ctx;
  clear_slot(x, slot(x));
  td_json_scalar(&x->json);
  return 1;
}

static int on_boolean(void *ctx, int b) {
  td_extract_t *x = ctx;
  key_t_ k = slot(x);
  if (k == KEY_EMAIL_VERIFIED)
    x->info.email_verified = b ? 1 : 0;
  else
    clear_slot(x, k);
  td_json_scalar(&x->json);
  return 1;
}

static int on_number(void *ctx, const char *s, size_t len) {
  (void)s;
  (void)len;
  return on_null(ctx);
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
  td_extract_t *x = ctx;
  key_t_ k = slot(x);
  char *dst = string_slot(x, k);
  if (dst != NULL)
    td_json_keep(dst, TD_EXTRACT_MAX_STRING, s, len);
  else
    clear_slot(x, k);
  td_json_scalar(&x->json);
  return 1;
}

static int open_container(td_extract_t *x, int is_map) {
  if (x->json.depth == 0 && is_map)
    x->info.top_is_object = 1;
  clear_slot(x, slot(x));
  if (!td_json_open(&x->json))
    return 0;
  if (x->json.depth == 2)
    x->org_open = is_map && x->info.top_is_object &&
                  x->top_key == KEY_ORGANIZATION;
  return 1;
}

static int close_container(td_extract_t *x) {
  td_json_close(&x->json);
  if (x->json.depth == 1)
    x->org_open = 0;
  return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, 1); }
static int on_start_array(void *ctx) { return open_container(ctx, 0); }
static int on_end(void *ctx) { return close_container(ctx); }

static int on_map_key(void *ctx, const unsigned char *k, size_t len) {
  td_extract_t *x = ctx;
  if (x->json.depth == 1)
    x->top_key = key_lookup(k, len, 0);
  else if (x->json.depth == 2 && x->org_open)
    x->org_key = key_lookup(k, len, 1);
  return 1;
}

static const yajl_callbacks callbacks = TD_JSON_CALLBACKS;

td_extract_t *td_extract_new(void) {
  td_extract_t *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return NULL;
  if (td_extract_reset(x) != TD_JSON_OK) {
    free(x);
    return NULL;
  }
  return x;
}

void td_extract_free(td_extract_t *x) {
  if (x == NULL)
    return;
  td_json_free(&x->json);
  free(x);
}

td_json_status_t td_extract_reset(td_extract_t *x) {
  /* Emptying the strings is enough: each is NUL-terminated when kept. No
   * memset of the 1.3 KB result on every poll. */
  x->top_key = x->org_key = KEY_OTHER;
  x->org_open = 0;
  x->detail[0] = '\0';
  x->info.id[0] = x->info.email[0] = x->info.org_name[0] = '\0';
  x->info.reason[0] = '\0';
  x->info.email_verified = -1;
  x->info.top_is_object = 0;
  return td_json_reset(&x->json, &callbacks, x);
}

td_json_status_t td_extract_feed(td_extract_t *x, const void *buf,
                                    size_t len) {
  return td_json_feed(&x->json, buf, len);
}

td_json_status_t td_extract_finish(td_extract_t *x) {
  if (td_json_finish(&x->json) != TD_JSON_OK)
    return x->json.err;
  if (x->info.reason[0] == '\0')
    memcpy(x->info.reason, x->detail, sizeof(x->detail));
  return TD_JSON_OK;
}

const td_account_info_t *td_extract_info(const td_extract_t *x) {
  return &x->info;
}

size_t td_extract_bytes(const td_extract_t *x) { return x->json.bytes; }
