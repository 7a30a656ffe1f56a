/* td_orgs: picks each organization's name, usage and restricted mode out
 * of a GET /api/v3/organizations answer while it streams in. The shape is
 * not documented: every field is optional and unknown ones are skipped.
 * Owns one yajl handle and a fixed-size list; no I/O, no logging. */
#ifndef TD_ORGS_H
#define TD_ORGS_H

#include <stddef.h>

#include "td_extract.h"

#define TD_ORGS_MAX 32       /* organizations kept; later ones are counted */
#define TD_ORGS_MAX_NAME 63  /* bytes of a name kept */

typedef struct {
  char name[TD_ORGS_MAX_NAME + 1]; /* "" when absent */
  int has_usage;
  double usage_percent;            /* usagePercentage, may pass 100 */
  int restricted;                  /* isInRestrictedMode: 1, 0, -1 absent */
} td_org_t;

typedef struct {
  size_t count;   /* kept, at most TD_ORGS_MAX */
  size_t dropped; /* seen beyond TD_ORGS_MAX */
  td_org_t orgs[TD_ORGS_MAX];
} td_org_list_t;

typedef struct td_orgs td_orgs_t;

/* Returns a new extractor, or NULL when out of memory. */
td_orgs_t *td_orgs_new(void);
void td_orgs_free(td_orgs_t *o);

/* Forgets the previous body. TD_EXTRACT_OK or TD_EXTRACT_E_NOMEM. */
td_extract_status_t td_orgs_reset(td_orgs_t *o);

/* As td_extract_feed and td_extract_finish, with the same bounds
 * (TD_EXTRACT_MAX_BODY, TD_EXTRACT_MAX_DEPTH) and sticky errors. The
 * organizations are the objects of the top-level array, or of the first
 * array that is a member of a top-level object ({"organizations": [...]}). */
td_extract_status_t td_orgs_feed(td_orgs_t *o, const void *buf, size_t len);
td_extract_status_t td_orgs_finish(td_orgs_t *o);

/* The organizations seen; trust them after td_orgs_finish returned OK. */
const td_org_list_t *td_orgs_list(const td_orgs_t *o);

/* Writes name as a collectd identifier part: letters, digits, '_' and '.'
 * kept, everything else (including '-' and '/') turned into '_', cut at
 * size - 1 bytes; "unnamed" for an empty name. */
void td_orgs_identifier(const char *name, char *dst, size_t size);

#endif /* TD_ORGS_H */
