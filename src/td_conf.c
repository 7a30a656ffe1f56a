/* td_conf: collectd's configuration syntax from bytes, strictly. The
 * words follow liboconfig's scanner (its longest match and rule order: a
 * boolean before an address, an address before a number, a number before
 * a bare word), the lines its grammar; what collectd would echo and skip
 * (a stray character) is an error here. */
#include "td_conf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
  T_EOF,
  T_EOL,
  T_SLASH,
  T_OPEN,
  T_CLOSE,
  T_NUMBER,
  T_BOOL,
  T_QUOTED, /* a quoted string, unquoted */
  T_WORD,   /* a bare word: a key or a string value */
} tok_type_t;

typedef struct {
  tok_type_t type;
  char *text; /* T_QUOTED, T_WORD; owned by the token */
  double number;
  int boolean;
  int is_key; /* T_WORD of [0-9A-Za-z_] only */
} tok_t;

typedef struct {
  const char *buf;
  size_t len;
  size_t pos;
  unsigned line;
  unsigned file;
  size_t items;
  td_conf_status_t err;
  unsigned err_line;
} parser_t;

/* Any text read may be a token: wiped before it is freed. */
static void wipe_free(char *s) {
  if (s != NULL)
    explicit_bzero(s, strlen(s));
  free(s);
}

static int fail(parser_t *p, td_conf_status_t st) {
  if (p->err == TD_CONF_OK) {
    p->err = st;
    p->err_line = p->line;
  }
  return -1;
}

static int peek(const parser_t *p, size_t ahead) {
  return p->pos + ahead < p->len ? (unsigned char)p->buf[p->pos + ahead] : -1;
}

/* The length of the newline at pos: 1 for LF, 2 for CR LF, 0 for none. */
static size_t eol_at(const parser_t *p, size_t ahead) {
  if (peek(p, ahead) == '\n')
    return 1;
  return peek(p, ahead) == '\r' && peek(p, ahead + 1) == '\n' ? 2 : 0;
}

static int is_blank(int c) { return c == ' ' || c == '\t' || c == '\b'; }

/* Blanks, comments and backslash-newline continuations. */
static int skip_space(parser_t *p) {
  for (;;) {
    int c = peek(p, 0);
    if (is_blank(c)) {
      p->pos++;
    } else if (c == '#') {
      while (peek(p, 0) != -1 && peek(p, 0) != '\n' && eol_at(p, 0) == 0)
        p->pos++;
    } else if (c == '\\' && eol_at(p, 1) > 0) {
      p->pos += 1 + eol_at(p, 1);
      p->line++;
    } else {
      return 0;
    }
  }
}

typedef struct {
  char *s;
  size_t n;
} word_t;

static int word_add(parser_t *p, word_t *w, char c) {
  if (w->n >= TD_CONF_MAX_WORD)
    return fail(p, TD_CONF_E_LONG);
  w->s[w->n++] = c;
  return 0;
}

/* A quoted string, the opening quote read: a backslash takes the next
 * character as it is, a backslash before a newline joins the next line
 * without its leading blanks. */
static int lex_quoted(parser_t *p, tok_t *t) {
  word_t w = {calloc(1, TD_CONF_MAX_WORD + 1), 0};
  if (w.s == NULL)
    return fail(p, TD_CONF_E_NOMEM);
  for (;;) {
    int c = peek(p, 0);
    size_t nl;
    if (c == -1) {
      wipe_free(w.s);
      return fail(p, TD_CONF_E_QUOTE);
    }
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c == '\\' && (nl = eol_at(p, 1)) > 0) {
      p->pos += 1 + nl;
      p->line++;
      while (is_blank(peek(p, 0)))
        p->pos++;
      continue;
    }
    if (c == '\\') {
      if (peek(p, 1) == -1) {
        wipe_free(w.s);
        return fail(p, TD_CONF_E_QUOTE);
      }
      p->pos++;
      c = peek(p, 0);
    }
    if (c == '\n')
      p->line++;
    p->pos++;
    if (word_add(p, &w, (char)c) != 0) {
      wipe_free(w.s);
      return -1;
    }
  }
  w.s[w.n] = '\0';
  *t = (tok_t){.type = T_QUOTED, .text = w.s};
  return 0;
}

static int is_word_char(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '+' ||
         c == '-' || c == ':' || c == '[' || c == ']';
}

static int is_key_char(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '_';
}

static size_t span(const char *s, const char *set) { return strspn(s, set); }

#define DIGITS "0123456789"
#define HEX "0123456789abcdefABCDEF"

/* [+-]?[0-9]+, [+-]?[0-9]*.[0-9]+([eE][+-][0-9]+)? or 0[xX][0-9a-fA-F]+ */
static int is_number(const char *s) {
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    return span(s + 2, HEX) > 0 && s[2 + span(s + 2, HEX)] == '\0';
  if (*s == '+' || *s == '-')
    s++;
  size_t n = span(s, DIGITS);
  s += n;
  if (*s == '\0')
    return n > 0;
  if (*s++ != '.' || (n = span(s, DIGITS)) == 0)
    return 0;
  s += n;
  if (*s == '\0')
    return 1;
  if ((*s != 'e' && *s != 'E') || (s[1] != '+' && s[1] != '-'))
    return 0;
  s += 2;
  return span(s, DIGITS) > 0 && s[span(s, DIGITS)] == '\0';
}

/* A dotted quad with an optional :port, or something made of hex digits,
 * colons, dots and brackets with two colons at least (an IPv6 address):
 * collectd reads both as bare strings. */
static int is_address(const char *s) {
  if (strchr(s, ':') != NULL && strchr(strchr(s, ':') + 1, ':') != NULL)
    return span(s, HEX ":.[]") == strlen(s);
  for (int i = 0; i < 4; i++) {
    size_t n = span(s, DIGITS);
    if (n == 0 || n > 3 || atoi(s) > 255)
      return 0;
    s += n;
    if (i < 3 && *s++ != '.')
      return 0;
  }
  if (*s == ':')
    return span(s + 1, DIGITS) > 0 && s[1 + span(s + 1, DIGITS)] == '\0';
  return *s == '\0';
}

static int bool_word(const char *s) {
  static const char *const words[] = {"false", "no",  "off",
                                      "true",  "yes", "on"};
  for (int i = 0; i < 6; i++)
    if (strcmp(s, words[i]) == 0)
      return i / 3;
  return -1;
}

static int lex_word(parser_t *p, tok_t *t) {
  size_t start = p->pos;
  while (is_word_char(peek(p, 0)))
    p->pos++;
  size_t n = p->pos - start;
  if (n > TD_CONF_MAX_WORD)
    return fail(p, TD_CONF_E_LONG);
  char *s = malloc(n + 1);
  if (s == NULL)
    return fail(p, TD_CONF_E_NOMEM);
  memcpy(s, p->buf + start, n);
  s[n] = '\0';
  int b = bool_word(s);
  size_t keyish = 0;
  while (keyish < n && is_key_char((unsigned char)s[keyish]))
    keyish++;
  if (b >= 0) {
    *t = (tok_t){.type = T_BOOL, .boolean = b};
  } else if (is_address(s)) {
    *t = (tok_t){.type = T_WORD, .text = s};
    return 0;
  } else if (is_number(s)) {
    *t = (tok_t){.type = T_NUMBER, .number = strtod(s, NULL)};
  } else if (keyish == n) {
    *t = (tok_t){.type = T_WORD, .text = s, .is_key = 1};
    return 0;
  } else {
    wipe_free(s);
    return fail(p, TD_CONF_E_WORD);
  }
  wipe_free(s);
  return 0;
}

static int lex(parser_t *p, tok_t *t) {
  skip_space(p);
  int c = peek(p, 0);
  size_t nl = eol_at(p, 0);
  if (c == -1) {
    *t = (tok_t){.type = T_EOF};
  } else if (nl > 0) {
    *t = (tok_t){.type = T_EOL};
    p->pos += nl;
    p->line++;
  } else if (c == '/' || c == '<' || c == '>') {
    *t = (tok_t){.type = c == '/' ? T_SLASH : c == '<' ? T_OPEN : T_CLOSE};
    p->pos++;
  } else if (c == '"') {
    p->pos++;
    return lex_quoted(p, t);
  } else if (is_word_char(c)) {
    return lex_word(p, t);
  } else {
    return fail(p, TD_CONF_E_CHAR);
  }
  return 0;
}

static void values_free(td_conf_value_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    wipe_free(v[i].string);
  free(v);
}

void td_conf_free(td_conf_item_t *it) {
  if (it == NULL)
    return;
  for (size_t i = 0; i < it->n_children; i++)
    td_conf_free(&it->children[i]);
  free(it->children);
  values_free(it->values, it->n_values);
  free(it->key);
  memset(it, 0, sizeof(*it));
}

/* Values up to the token that is none (returned in *end, which the caller
 * then owns). */
static int read_values(parser_t *p, td_conf_item_t *it, tok_t *end) {
  for (;;) {
    tok_t t;
    if (lex(p, &t) != 0)
      return -1;
    if (t.type != T_NUMBER && t.type != T_BOOL && t.type != T_QUOTED &&
        t.type != T_WORD) {
      *end = t;
      return 0;
    }
    if (it->n_values >= TD_CONF_MAX_VALUES) {
      wipe_free(t.text);
      return fail(p, TD_CONF_E_VALUES);
    }
    if (it->values == NULL &&
        (it->values = calloc(TD_CONF_MAX_VALUES, sizeof(*it->values))) ==
            NULL) {
      wipe_free(t.text);
      return fail(p, TD_CONF_E_NOMEM);
    }
    td_conf_value_t *v = &it->values[it->n_values++];
    v->kind = t.type == T_NUMBER ? TD_CONF_NUMBER
              : t.type == T_BOOL ? TD_CONF_BOOL
                                 : TD_CONF_STRING;
    v->string = t.text;
    v->number = t.number;
    v->boolean = t.boolean;
  }
}

/* A line's end: a newline, or the error the token stands for. */
static int want_eol(parser_t *p, tok_t *t, td_conf_status_t otherwise) {
  tok_type_t type = t->type;
  wipe_free(t->text);
  if (type == T_EOL)
    return 0;
  return fail(p, type == T_EOF ? TD_CONF_E_NEWLINE : otherwise);
}

static int parse_list(parser_t *p, td_conf_item_t *parent, unsigned depth);

/* Adds a finished item to parent (an item with neither values nor
 * children is dropped, as collectd drops it). */
static int adopt(parser_t *p, td_conf_item_t *parent, td_conf_item_t *it) {
  if (it->n_values == 0 && it->n_children == 0) {
    td_conf_free(it);
    return 0;
  }
  if (++p->items > TD_CONF_MAX_ITEMS) {
    td_conf_free(it);
    return fail(p, TD_CONF_E_ITEMS);
  }
  td_conf_item_t *grown =
      realloc(parent->children, (parent->n_children + 1) * sizeof(*grown));
  if (grown == NULL) {
    td_conf_free(it);
    return fail(p, TD_CONF_E_NOMEM);
  }
  parent->children = grown;
  parent->children[parent->n_children++] = *it;
  return 0;
}

/* After "<": a block's first line, its items and its end line. */
static int parse_block(parser_t *p, td_conf_item_t *parent, unsigned depth) {
  td_conf_item_t it = {.line = p->line, .file = p->file};
  tok_t t;
  if (lex(p, &t) != 0)
    return -1;
  if (t.type != T_WORD || !t.is_key) {
    wipe_free(t.text);
    return fail(p, TD_CONF_E_BRACKET);
  }
  it.key = t.text;
  t = (tok_t){.type = T_EOF}; /* the key is the item's now */
  if (read_values(p, &it, &t) != 0 || t.type != T_CLOSE) {
    if (p->err == TD_CONF_OK)
      fail(p, TD_CONF_E_BRACKET);
    wipe_free(t.text);
    td_conf_free(&it);
    return -1;
  }
  if (lex(p, &t) != 0 || want_eol(p, &t, TD_CONF_E_BRACKET) != 0 ||
      depth + 1 > TD_CONF_MAX_DEPTH || parse_list(p, &it, depth + 1) != 0) {
    fail(p, TD_CONF_E_DEPTH);
    td_conf_free(&it);
    return -1;
  }
  return adopt(p, parent, &it);
}

/* After "</": the key must close the open block. */
static int parse_end(parser_t *p, const td_conf_item_t *open) {
  tok_t t;
  if (lex(p, &t) != 0)
    return -1;
  int same =
      t.type == T_WORD && open->key != NULL && strcmp(t.text, open->key) == 0;
  wipe_free(t.text);
  if (!same)
    return fail(p, TD_CONF_E_CLOSE);
  if (lex(p, &t) != 0)
    return -1;
  if (t.type != T_CLOSE) {
    wipe_free(t.text);
    return fail(p, TD_CONF_E_BRACKET);
  }
  if (lex(p, &t) != 0)
    return -1;
  return want_eol(p, &t, TD_CONF_E_BRACKET);
}

static int parse_option(parser_t *p, td_conf_item_t *parent, char *key) {
  td_conf_item_t it = {.key = key, .line = p->line, .file = p->file};
  tok_t t = {0};
  if (read_values(p, &it, &t) != 0) {
    td_conf_free(&it);
    return -1;
  }
  if (it.n_values == 0 && t.type == T_EOL) {
    td_conf_free(&it);
    fail(p, TD_CONF_E_NO_VALUE);
    p->err_line = p->line - 1;
    return -1;
  }
  if (want_eol(p, &t, TD_CONF_E_WORD) != 0) {
    td_conf_free(&it);
    return -1;
  }
  return adopt(p, parent, &it);
}

/* Items up to the end of the file (depth 0) or of parent's block. */
static int parse_list(parser_t *p, td_conf_item_t *parent, unsigned depth) {
  for (;;) {
    tok_t t;
    if (lex(p, &t) != 0)
      return -1;
    if (t.type == T_EOL)
      continue;
    if (t.type == T_EOF)
      return depth == 0 ? 0 : fail(p, TD_CONF_E_UNCLOSED);
    if (t.type == T_WORD && t.is_key) {
      if (parse_option(p, parent, t.text) != 0)
        return -1;
      continue;
    }
    if (t.type != T_OPEN) {
      wipe_free(t.text);
      return fail(p, TD_CONF_E_KEY);
    }
    size_t at = p->pos;
    skip_space(p);
    if (peek(p, 0) == '/') {
      p->pos++;
      return depth == 0 ? fail(p, TD_CONF_E_CLOSE) : parse_end(p, parent);
    }
    p->pos = at;
    if (parse_block(p, parent, depth) != 0)
      return -1;
  }
}

td_conf_status_t td_conf_parse(const char *bytes, size_t len, unsigned file,
                               td_conf_item_t *root, td_conf_error_t *e) {
  parser_t p = {.buf = bytes, .len = len, .line = 1, .file = file};
  memset(root, 0, sizeof(*root));
  if (len > TD_CONF_MAX_BYTES)
    fail(&p, TD_CONF_E_SIZE);
  else if (memchr(bytes, '\0', len) != NULL)
    fail(&p, TD_CONF_E_NUL), p.err_line = 0;
  else
    parse_list(&p, root, 0);
  if (p.err == TD_CONF_E_NUL) {
    const char *z = memchr(bytes, '\0', len);
    p.err_line = 1;
    for (const char *c = bytes; c < z; c++)
      p.err_line += *c == '\n';
  }
  e->status = p.err;
  e->line = p.err_line;
  if (p.err != TD_CONF_OK)
    td_conf_free(root);
  return p.err;
}

int td_conf_include(const td_conf_item_t *it, const char **path,
                    const char **filter) {
  if (strcasecmp(it->key, "Include") != 0)
    return 0;
  *filter = NULL;
  if (it->n_values != 1 || it->values[0].kind != TD_CONF_STRING)
    return -1;
  *path = it->values[0].string;
  for (size_t i = 0; i < it->n_children; i++) {
    const td_conf_item_t *c = &it->children[i];
    if (strcasecmp(c->key, "Filter") != 0 || c->n_values != 1 ||
        c->values[0].kind != TD_CONF_STRING || c->n_children > 0)
      return -1;
    *filter = c->values[0].string;
  }
  return 1;
}

int td_conf_splice(td_conf_item_t *root, size_t i, td_conf_item_t *sub) {
  size_t n = root->n_children - 1 + sub->n_children;
  if (i >= root->n_children || n > TD_CONF_MAX_ITEMS)
    return -1;
  td_conf_item_t *c = malloc((n > 0 ? n : 1) * sizeof(*c));
  if (c == NULL)
    return -1;
  memcpy(c, root->children, i * sizeof(*c));
  if (sub->n_children > 0)
    memcpy(c + i, sub->children, sub->n_children * sizeof(*c));
  memcpy(c + i + sub->n_children, root->children + i + 1,
         (root->n_children - i - 1) * sizeof(*c));
  td_conf_free(&root->children[i]);
  free(root->children);
  root->children = c;
  root->n_children = n;
  free(sub->children);
  sub->children = NULL;
  sub->n_children = 0;
  return 0;
}

/* Whether it is <key name> (or key name, for a LoadPlugin line). */
static int names(const td_conf_item_t *it, const char *key, const char *name) {
  return strcasecmp(it->key, key) == 0 && it->n_values >= 1 &&
         it->values[0].kind == TD_CONF_STRING &&
         strcasecmp(it->values[0].string, name) == 0;
}

size_t td_conf_plugin(const td_conf_item_t *root, const char *name,
                      size_t from) {
  for (size_t i = from; i < root->n_children; i++)
    if (names(&root->children[i], "Plugin", name))
      return i;
  return root->n_children;
}

/* The number of an Interval option, or -1. */
static double interval_of(const td_conf_item_t *it) {
  if (strcasecmp(it->key, "Interval") != 0 || it->n_values != 1 ||
      it->values[0].kind != TD_CONF_NUMBER)
    return -1;
  return it->values[0].number;
}

double td_conf_interval(const td_conf_item_t *root, const char *name) {
  double global = TD_CONF_DEFAULT_INTERVAL;
  for (size_t i = 0; i < root->n_children; i++) {
    const td_conf_item_t *it = &root->children[i];
    if (interval_of(it) > 0) {
      global = interval_of(it);
      continue;
    }
    if (!names(it, "LoadPlugin", name))
      continue;
    for (size_t j = 0; j < it->n_children; j++)
      if (interval_of(&it->children[j]) > 0)
        return interval_of(&it->children[j]);
    return global;
  }
  return global;
}
