/* td_conf: collectd's configuration syntax, read strictly from bytes the
 * caller hands in: options, <Key args>...</Key> blocks, quoted strings,
 * numbers, booleans, comments and line continuations, as collectd 5.12's
 * liboconfig reads them, into a tree of items. Finds the Include items and
 * the <Plugin NAME> blocks; reading files and expanding globs is the
 * caller's. No I/O, no clock, no English: errors are a status and a line. */
#ifndef TD_CONF_H
#define TD_CONF_H

#include <stddef.h>

#define TD_CONF_MAX_BYTES (1 << 20)   /* bytes of one file */
#define TD_CONF_MAX_DEPTH 32          /* blocks inside blocks */
#define TD_CONF_MAX_WORD 4096         /* bytes of a key or a value */
#define TD_CONF_MAX_VALUES 64         /* values of one option or block */
#define TD_CONF_MAX_ITEMS 65536       /* options and blocks of one tree */
#define TD_CONF_MAX_INCLUDE 8         /* Include nesting, collectd's own */
#define TD_CONF_DEFAULT_INTERVAL 10.0 /* collectd's Interval when none */

typedef enum {
  TD_CONF_OK = 0,
  TD_CONF_E_NOMEM,
  TD_CONF_E_SIZE,        /* more than TD_CONF_MAX_BYTES */
  TD_CONF_E_NUL,         /* a NUL byte */
  TD_CONF_E_CHAR,        /* a character that starts no word */
  TD_CONF_E_WORD,        /* a word that is neither a key, a number, a
                            boolean nor an address */
  TD_CONF_E_LONG,        /* a word longer than TD_CONF_MAX_WORD */
  TD_CONF_E_QUOTE,       /* a quoted string that does not end */
  TD_CONF_E_KEY,         /* a line that does not start with a key or < */
  TD_CONF_E_NO_VALUE,    /* an option without a value */
  TD_CONF_E_VALUES,      /* more than TD_CONF_MAX_VALUES values */
  TD_CONF_E_BRACKET,     /* a block line not closed by > and a newline */
  TD_CONF_E_CLOSE,       /* </Key> that closes no open block or another */
  TD_CONF_E_UNCLOSED,    /* the end of the file inside a block */
  TD_CONF_E_DEPTH,       /* blocks deeper than TD_CONF_MAX_DEPTH */
  TD_CONF_E_ITEMS,       /* more than TD_CONF_MAX_ITEMS */
  TD_CONF_E_NEWLINE,     /* the last line does not end with a newline */
  TD_CONF_E_INCLUDE,     /* Include without one string, or <Include> with
                            anything but one Filter string */
  TD_CONF_E_INCLUDE_DEEP /* Include nested more than TD_CONF_MAX_INCLUDE */
} td_conf_status_t;

typedef enum { TD_CONF_STRING, TD_CONF_NUMBER, TD_CONF_BOOL } td_conf_kind_t;

typedef struct {
  td_conf_kind_t kind;
  char *string; /* TD_CONF_STRING, unquoted */
  double number;
  int boolean;
} td_conf_value_t;

typedef struct td_conf_item {
  char *key;
  td_conf_value_t *values;
  size_t n_values;
  struct td_conf_item *children;
  size_t n_children;
  unsigned line; /* where the item starts in its file */
  unsigned file; /* the caller's number of that file */
} td_conf_item_t;

typedef struct {
  td_conf_status_t status;
  unsigned line; /* 1-based; the line where the problem was seen */
} td_conf_error_t;

/* Parses len bytes of one file, numbered file for the items, into *root
 * (its children are the file's top-level items). Returns TD_CONF_OK, or
 * the first error with its line in *e; *root is then empty. */
td_conf_status_t td_conf_parse(const char *bytes, size_t len, unsigned file,
                               td_conf_item_t *root, td_conf_error_t *e);

/* Frees what an item holds, and the item's children, wiping every value
 * (one may be a token); the item itself is the caller's. */
void td_conf_free(td_conf_item_t *it);

/* Whether it (a top-level item) is an Include, as collectd reads it:
 * Include "path" or <Include "path"> Filter "*.conf" </Include> (key
 * case-insensitive). Returns 1 with the path and filter (NULL: none), 0
 * when it is no Include, or -1 when it is one of the wrong shape. */
int td_conf_include(const td_conf_item_t *it, const char **path,
                    const char **filter);

/* Replaces root's child i by the children of sub, in order, taking them
 * over (sub is left empty). Returns 0, or -1 when out of memory or when
 * the tree would hold more than TD_CONF_MAX_ITEMS children. */
int td_conf_splice(td_conf_item_t *root, size_t i, td_conf_item_t *sub);

/* The index of the next top-level <Plugin name> block at or after from
 * (both names case-insensitive, as collectd matches them), or
 * root->n_children when there is none. */
size_t td_conf_plugin(const td_conf_item_t *root, const char *name,
                      size_t from);

/* The interval collectd gives plugin name in this tree: the Interval of
 * its <LoadPlugin name> block, else the last top-level Interval before
 * its LoadPlugin, else (no LoadPlugin) the last top-level Interval, else
 * TD_CONF_DEFAULT_INTERVAL. */
double td_conf_interval(const td_conf_item_t *root, const char *name);

#endif /* TD_CONF_H */
