/* td_orgs: picks each organization's name, usage and restricted mode out
 * of a GET /api/v3/organizations answer while it streams in. The shape is
 * not documented: every field is optional and unknown ones are skipped.
 * Owns one yajl handle and a fixed-size list; no I/O, no logging. */
#ifndef TD_ORGS_H
#define TD_ORGS_H

#include <stddef.h>
#include <stdint.h>

#include "td_json.h"

#define TD_ORGS_MAX 32       /* organizations kept; later ones are counted */
#define TD_ORGS_MAX_NAME 63  /* bytes of a name or an id kept */
#define TD_ORGS_MAX_IDENT 63 /* bytes of an identifier */
#define TD_ORGS_SUFFIX 9     /* "_" and 8 hex digits, when one is needed */

typedef struct {
  char name[TD_ORGS_MAX_NAME + 1]; /* "" when absent */
  char id[TD_ORGS_MAX_NAME + 1];   /* "" when absent */
  uint32_t name_hash;              /* of the whole name, however long */
  uint32_t id_hash;                /* of the whole id */
  int has_usage;
  double usage_percent;            /* usagePercentage as sent, in the
                                      scale td_usage_scale_t names */
  int restricted;                  /* isInRestrictedMode: 1, 0, -1 absent */
} td_org_t;

typedef struct {
  size_t count;   /* kept, at most TD_ORGS_MAX */
  size_t dropped; /* seen beyond TD_ORGS_MAX */
  td_org_t orgs[TD_ORGS_MAX];
} td_org_list_t;

/* How usagePercentage is to be read (UsageScale); no public source
 * settles it. */
typedef enum {
  TD_USAGE_FRACTION = 0, /* 0.25 is 25%: what the one public client that
                            shows it assumes */
  TD_USAGE_PERCENT,      /* 25 is 25% */
} td_usage_scale_t;

typedef struct td_orgs td_orgs_t;

/* Returns a new extractor, or NULL when out of memory. */
td_orgs_t *td_orgs_new(void);
void td_orgs_free(td_orgs_t *o);

/* Forgets the previous body. TD_JSON_OK or TD_JSON_E_NOMEM. */
td_json_status_t td_orgs_reset(td_orgs_t *o);

/* As td_extract_feed and td_extract_finish, with td_json's bounds
 * (TD_JSON_MAX_BODY, TD_JSON_MAX_DEPTH) and sticky errors. The
 * organizations are the objects of the top-level array, or of the first
 * array that is a member of a top-level object ({"organizations": [...]}). */
td_json_status_t td_orgs_feed(td_orgs_t *o, const void *buf, size_t len);
td_json_status_t td_orgs_finish(td_orgs_t *o);

/* The organizations seen; trust them after td_orgs_finish returned OK. */
const td_org_list_t *td_orgs_list(const td_orgs_t *o);

/* Writes name as a collectd identifier part: letters, digits, '_' and '.'
 * kept, everything else (including '-' and '/') turned into '_', cut at
 * size - 1 bytes; "unnamed" for an empty name. */
void td_orgs_identifier(const char *name, char *dst, size_t size);

/* Gives every kept organization of list its identifier in idents[i]:
 * td_orgs_identifier of its name when that is readable (holds a letter or
 * a digit) and no other organization of the list has the same one; else
 * that cut to TD_ORGS_MAX_IDENT - TD_ORGS_SUFFIX bytes plus "_" and eight
 * hex digits of a hash of its id (of its whole name when it has no id),
 * e.g. "Acme_Inc_1f0e93a2". The same for the same answer, poll after poll
 * and across restarts. An organization listed twice (same identifier even
 * so) gets "" and is counted in the return value. */
size_t td_orgs_identify(const td_org_list_t *list,
                        char idents[][TD_ORGS_MAX_IDENT + 1]);

/* FNV-1a of len bytes: short, stable across runs and machines. */
uint32_t td_orgs_hash(const unsigned char *s, size_t len);

#endif /* TD_ORGS_H */
