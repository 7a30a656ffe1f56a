/* test_conf: collectd's configuration syntax, as a table of files and the
 * tree (or the error and its line) each must give.
 *
 * Build and run by hand, from the top of the tree:
 *   cc -Wall -Wextra -Werror -Isrc -Itests/unit src/td_conf.c \
 *      tests/unit/test_conf.c -o /tmp/test_conf && /tmp/test_conf */
#include "td_conf.h"

#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

/* The tree as one line: key(values){children}, strings quoted, numbers
 * with %g, booleans as true and false, items split by ";". */
static void dump(const td_conf_item_t *it, char *out, size_t size) {
  size_t len = strlen(out);
  for (size_t i = 0; i < it->n_children && len < size; i++) {
    const td_conf_item_t *c = &it->children[i];
    len +=
        (size_t)snprintf(out + len, size - len, "%s%s(", i ? ";" : "", c->key);
    for (size_t j = 0; j < c->n_values && len < size; j++) {
      const td_conf_value_t *v = &c->values[j];
      const char *sep = j ? "," : "";
      if (v->kind == TD_CONF_STRING)
        len +=
            (size_t)snprintf(out + len, size - len, "%s\"%s\"", sep, v->string);
      else if (v->kind == TD_CONF_NUMBER)
        len += (size_t)snprintf(out + len, size - len, "%s%g", sep, v->number);
      else
        len += (size_t)snprintf(out + len, size - len, "%s%s", sep,
                                v->boolean ? "true" : "false");
    }
    if (len < size)
      len += (size_t)snprintf(out + len, size - len, ")");
    if (c->n_children > 0 && len + 2 < size) {
      strcat(out, "{");
      dump(c, out, size);
      len = strlen(out);
      if (len + 1 < size)
        strcat(out, "}");
      len = strlen(out);
    }
  }
}

typedef struct {
  const char *name;
  const char *text;
  const char *tree;        /* NULL: an error is expected */
  td_conf_status_t status; /* when tree is NULL */
  unsigned line;
} parse_case_t;

static const parse_case_t cases[] = {
    {"empty file", "", "", 0, 0},
    {"blank lines and comments", "\n# a comment\n  \t\n", "", 0, 0},
    {"one option", "Interval 10\n", "Interval(10)", 0, 0},
    {"CR LF lines", "Interval 10\r\nHostname \"x\"\r\n",
     "Interval(10);Hostname(\"x\")", 0, 0},
    {"quoted string with escapes", "A \"a\\\"b\\\\c\\n\"\n", "A(\"a\"b\\cn\")",
     0, 0},
    {"booleans, lower case only", "A true yes on false no off\nB True YES\n",
     "A(true,true,true,false,false,false);B(\"True\",\"YES\")", 0, 0},
    {"numbers", "A 10 -5 +2 1.5 .5 -0.25 0x1F 010 1.5e+3\n",
     "A(10,-5,2,1.5,0.5,-0.25,31,10,1500)", 0, 0},
    {"a word that is no number is a string", "A 1e5 10s yesterday\n",
     "A(\"1e5\",\"10s\",\"yesterday\")", 0, 0},
    {"addresses are strings", "A 127.0.0.1 127.0.0.1:8080 ::1 [::1]:443\n",
     "A(\"127.0.0.1\",\"127.0.0.1:8080\",\"::1\",\"[::1]:443\")", 0, 0},
    {"comment after a value", "A \"x#y\" # not \"this\"\n", "A(\"x#y\")", 0, 0},
    {"line continuation", "A 1 \\\n  2\n", "A(1,2)", 0, 0},
    {"continued quoted string drops the next line's blanks",
     "A \"abc\\\n    def\"\n", "A(\"abcdef\")", 0, 0},
    {"quoted string over lines", "A \"a\nb\"\nB 1\n", "A(\"a\nb\");B(1)", 0, 0},
    {"block with an argument",
     "<Plugin telemetrydeck>\n  <Account \"main\">\n    Token \"t\"\n  "
     "</Account>\n</Plugin>\n",
     "Plugin(\"telemetrydeck\"){Account(\"main\"){Token(\"t\")}}", 0, 0},
    {"blanks inside the brackets", "< Plugin \"x\" >\nA 1\n< / Plugin >\n",
     "Plugin(\"x\"){A(1)}", 0, 0},
    {"an empty block without arguments is dropped", "<A>\n</A>\nB 1\n", "B(1)",
     0, 0},
    {"an empty block with an argument stays", "<A 1>\n</A>\n", "A(1)", 0, 0},
    {"keys keep their case", "<Plugin \"x\">\ntoken 1\n</Plugin>\n",
     "Plugin(\"x\"){token(1)}", 0, 0},
    {"Include with a Filter",
     "<Include \"/etc/collectd.d\">\n  Filter \"*.conf\"\n</Include>\n",
     "Include(\"/etc/collectd.d\"){Filter(\"*.conf\")}", 0, 0},
    {"no newline at the end", "Interval 10", NULL, TD_CONF_E_NEWLINE, 1},
    {"no newline after a block", "<A 1>\n</A>", NULL, TD_CONF_E_NEWLINE, 2},
    {"unterminated quote", "A \"abc\nB 1\n", NULL, TD_CONF_E_QUOTE, 3},
    {"option without a value", "\nInterval\n", NULL, TD_CONF_E_NO_VALUE, 2},
    {"a line starting with a value", "\"A\" 1\n", NULL, TD_CONF_E_KEY, 1},
    {"a number is no key", "10 1\n", NULL, TD_CONF_E_KEY, 1},
    {"a stray character", "A 1 ; B\n", NULL, TD_CONF_E_CHAR, 1},
    {"an unquoted path", "A /tmp/x\n", NULL, TD_CONF_E_WORD, 1},
    {"a word collectd would split", "A 1.2.3\n", NULL, TD_CONF_E_WORD, 1},
    {"a backslash outside a string", "A 1 \\ 2\n", NULL, TD_CONF_E_CHAR, 1},
    {"block not closed", "<A 1>\nB 2\n", NULL, TD_CONF_E_UNCLOSED, 3},
    {"closed by another key", "<A 1>\nB 2\n</C>\n", NULL, TD_CONF_E_CLOSE, 3},
    {"end keys are case-sensitive", "<Plugin x>\nB 2\n</plugin>\n", NULL,
     TD_CONF_E_CLOSE, 3},
    {"a close with nothing open", "B 2\n</B>\n", NULL, TD_CONF_E_CLOSE, 2},
    {"block line without >", "<A 1\nB 2\n</A>\n", NULL, TD_CONF_E_BRACKET, 2},
    {"text after >", "<A 1> B\n</A>\n", NULL, TD_CONF_E_BRACKET, 1},
    {"a stray character after a block's key", "<A\377 1>\n</A>\n", NULL,
     TD_CONF_E_CHAR, 1},
    {"a stray character after an option's key", "A\377 1\n", NULL,
     TD_CONF_E_CHAR, 1},
    {"a NUL byte", "A 1\nB \"\0\"\n", NULL, TD_CONF_E_NUL, 2},
};

static void test_table(void) {
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const parse_case_t *c = &cases[i];
    size_t len = strlen(c->text);
    if (c->status == TD_CONF_E_NUL)
      len += 1 + strlen(c->text + len + 1);
    td_conf_item_t root;
    td_conf_error_t e;
    td_conf_status_t st = td_conf_parse(c->text, len, 0, &root, &e);
    if (c->tree == NULL) {
      tap_is_int(st, c->status, "%s: the error", c->name);
      tap_is_int(e.line, c->line, "%s: its line", c->name);
      tap_is_int((long long)root.n_children, 0, "%s: no tree", c->name);
      continue;
    }
    char got[1024] = "";
    tap_is_int(st, TD_CONF_OK, "%s: parses", c->name);
    dump(&root, got, sizeof(got));
    tap_is_str(got, c->tree, "%s: the tree", c->name);
    td_conf_free(&root);
  }
}

/* A text repeated n times, with a head and a tail. */
static char *repeat(const char *head, const char *unit, size_t n,
                    const char *tail) {
  size_t len = strlen(head) + strlen(unit) * n + strlen(tail);
  char *s = malloc(len + 1);
  strcpy(s, head);
  for (size_t i = 0; i < n; i++)
    strcat(s, unit);
  strcat(s, tail);
  return s;
}

static td_conf_status_t parse_text(const char *text, unsigned *line) {
  td_conf_item_t root;
  td_conf_error_t e;
  td_conf_status_t st = td_conf_parse(text, strlen(text), 0, &root, &e);
  td_conf_free(&root);
  *line = e.line;
  return st;
}

static void test_bounds(void) {
  const struct {
    const char *head, *unit;
    size_t n;
    const char *tail;
    td_conf_status_t want;
    unsigned line;
    const char *name;
  } bounds[] = {
      {"", "<A 1>\n", TD_CONF_MAX_DEPTH + 1, "", TD_CONF_E_DEPTH,
       TD_CONF_MAX_DEPTH + 2, "blocks deeper than TD_CONF_MAX_DEPTH"},
      {"", "<A 1>\n", TD_CONF_MAX_DEPTH, "", TD_CONF_E_UNCLOSED,
       TD_CONF_MAX_DEPTH + 1,
       "TD_CONF_MAX_DEPTH blocks are read (then not closed)"},
      {"A", " 1", TD_CONF_MAX_VALUES + 1, "\n", TD_CONF_E_VALUES, 1,
       "more than TD_CONF_MAX_VALUES values"},
      {"A \"", "x", TD_CONF_MAX_WORD + 1, "\"\n", TD_CONF_E_LONG, 1,
       "a string longer than TD_CONF_MAX_WORD"},
      {"A ", "x", TD_CONF_MAX_WORD + 1, "\n", TD_CONF_E_LONG, 1,
       "a bare word longer than TD_CONF_MAX_WORD"},
      {"A \"", "x", TD_CONF_MAX_WORD, "\"\n", TD_CONF_OK, 0,
       "a string of TD_CONF_MAX_WORD bytes"},
  };
  for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
    unsigned line;
    char *text =
        repeat(bounds[i].head, bounds[i].unit, bounds[i].n, bounds[i].tail);
    tap_is_int(parse_text(text, &line), bounds[i].want, "%s", bounds[i].name);
    tap_is_int(line, bounds[i].line, "%s: the line", bounds[i].name);
    free(text);
  }
  td_conf_item_t root;
  td_conf_error_t e;
  tap_is_int(td_conf_parse("A 1\n", TD_CONF_MAX_BYTES + 1, 0, &root, &e),
             TD_CONF_E_SIZE, "more than TD_CONF_MAX_BYTES");
}

static td_conf_item_t parsed(const char *text, unsigned file) {
  td_conf_item_t root;
  td_conf_error_t e;
  td_conf_parse(text, strlen(text), file, &root, &e);
  return root;
}

static void test_include_and_splice(void) {
  td_conf_item_t root = parsed("A 1\nInclude \"/x/*.conf\"\nB 2\n"
                               "<Include \"/d\">\nFilter \"*.conf\"\n"
                               "</Include>\ninclude 3\n",
                               0);
  const char *path = NULL, *filter = "unset";
  tap_is_int(td_conf_include(&root.children[0], &path, &filter), 0,
             "an option is no Include");
  tap_is_int(td_conf_include(&root.children[1], &path, &filter), 1,
             "Include \"path\"");
  tap_is_str(path, "/x/*.conf", "its path");
  tap_ok(filter == NULL, "and no filter");
  tap_is_int(td_conf_include(&root.children[3], &path, &filter), 1,
             "<Include \"dir\"> with a Filter");
  tap_is_str(filter, "*.conf", "its filter");
  tap_is_int(td_conf_include(&root.children[4], &path, &filter), -1,
             "include with a number: the wrong shape");
  td_conf_item_t sub = parsed("C 3\nD 4\n", 1);
  tap_is_int(td_conf_splice(&root, 1, &sub), 0, "splice");
  char got[256] = "";
  dump(&root, got, sizeof(got));
  tap_is_str(got,
             "A(1);C(3);D(4);B(2);Include(\"/d\"){Filter(\"*.conf\")};"
             "include(3)",
             "the included items take the Include's place");
  tap_is_int(root.children[1].file, 1, "and keep their file");
  tap_is_int(root.children[2].line, 2, "and their line");
  td_conf_item_t empty = parsed("# nothing\n", 2);
  tap_is_int(td_conf_splice(&root, 0, &empty), 0, "splice of an empty file");
  tap_is_int((long long)root.n_children, 5, "removes the Include");
  td_conf_free(&root);
}

static void test_plugin_and_interval(void) {
  td_conf_item_t root = parsed("Interval 5\n<Plugin cpu>\nA 1\n</Plugin>\n"
                               "<Plugin \"TelemetryDeck\">\nB 1\n</Plugin>\n"
                               "<Plugin telemetrydeck>\nC 1\n</Plugin>\n",
                               0);
  size_t first = td_conf_plugin(&root, "telemetrydeck", 0);
  tap_is_int((long long)first, 2, "the first <Plugin telemetrydeck>");
  tap_is_int((long long)td_conf_plugin(&root, "telemetrydeck", first + 1), 3,
             "the second");
  tap_is_int((long long)td_conf_plugin(&root, "telemetrydeck", 4), 4,
             "no more: n_children");
  tap_is_double(td_conf_interval(&root, "telemetrydeck"), 5, 0,
                "no LoadPlugin: the last global Interval");
  td_conf_free(&root);
  const struct {
    const char *text;
    double want;
    const char *name;
  } iv[] = {
      {"A 1\n", TD_CONF_DEFAULT_INTERVAL, "no Interval: collectd's default"},
      {"Interval 2\nLoadPlugin telemetrydeck\nInterval 7\n", 2,
       "the Interval before LoadPlugin"},
      {"Interval 2\n<LoadPlugin telemetrydeck>\nInterval 0.5\n</LoadPlugin>\n",
       0.5, "the LoadPlugin block's Interval"},
      {"LoadPlugin cpu\nInterval 3\n", 3, "another plugin's LoadPlugin"},
  };
  for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++) {
    root = parsed(iv[i].text, 0);
    tap_is_double(td_conf_interval(&root, "telemetrydeck"), iv[i].want, 0, "%s",
                  iv[i].name);
    td_conf_free(&root);
  }
}

int main(void) {
  test_table();
  test_bounds();
  test_include_and_splice();
  test_plugin_and_interval();
  return tap_done();
}
