/* test_token: the one token module both front ends use, on a table of odd
 * token files (tests/integration/test_token_files.py holds the plugin and
 * telemetrydeck-check to the same table), and on FIFOs, directories and
 * devices, which must be refused without blocking.
 *
 * Build and run, from the top of the tree:
 *   tools/build && _build/tests/unit/test_token */
#include "td_token.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char dir[] = "/tmp/td-token-XXXXXX";

static const char *write_file(const char *name, const char *data, size_t len) {
  static char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
    tap_diag("could not write %s", path);
  chmod(path, 0600);
  return path;
}

#define T "tdpat_abc123"

static void check_files(void) {
  static char big[TD_TOKEN_MAX + 2];
  const struct {
    const char *what;
    const char *data;
    size_t len;
    td_token_status_t want;
  } cases[] = {
      {"a token and a newline", T "\n", sizeof(T), TD_TOKEN_OK},
      {"CRLF", T "\r\n", sizeof(T) + 1, TD_TOKEN_OK},
      {"no newline", T, sizeof(T) - 1, TD_TOKEN_OK},
      {"leading blank lines", "\n\n" T "\n", sizeof(T) + 2, TD_TOKEN_OK},
      {"a leading form feed", "\f" T "\n", sizeof(T) + 1, TD_TOKEN_OK},
      {"a trailing vertical tab", T "\v\n", sizeof(T) + 1, TD_TOKEN_OK},
      {"tabs and spaces around", " \t" T "\t \n", sizeof(T) + 4, TD_TOKEN_OK},
      {"a NUL after the token", T "\0garbage\n", sizeof(T) + 8,
       TD_TOKEN_E_CONTROL},
      {"a NUL at the end", T "\0", sizeof(T), TD_TOKEN_E_CONTROL},
      {"two lines", T "\n" T "\n", 2 * sizeof(T), TD_TOKEN_E_CONTROL},
      {"a space inside", "tdpat_ab c\n", 11, TD_TOKEN_E_CONTROL},
      {"an escape inside",
       "tdpat_ab\x1b"
       "c\n",
       11, TD_TOKEN_E_CONTROL},
      {"DEL inside", "tdpat_ab\x7f\n", 10, TD_TOKEN_E_CONTROL},
      /* Invisible characters a copy from a web page or an editor brings:
       * no token has a byte above 0x7e. */
      {"a no-break space (U+00A0) after it", T "\xc2\xa0\n", sizeof(T) + 2,
       TD_TOKEN_E_NOT_ASCII},
      {"a zero-width space (U+200B) after it", T "\xe2\x80\x8b\n",
       sizeof(T) + 3, TD_TOKEN_E_NOT_ASCII},
      {"a UTF-8 byte order mark in front", "\xef\xbb\xbf" T "\n", sizeof(T) + 3,
       TD_TOKEN_E_NOT_ASCII},
      {"a no-break space in front", "\xc2\xa0" T "\n", sizeof(T) + 2,
       TD_TOKEN_E_NOT_ASCII},
      {"a Latin-1 byte inside",
       "tdpat_ab\xe9"
       "c\n",
       11, TD_TOKEN_E_NOT_ASCII},
      {"a lone byte 0x80 at the end", T "\x80", sizeof(T),
       TD_TOKEN_E_NOT_ASCII},
      {"a no-break space and a control character: the control wins",
       T "\xc2\xa0\x1b\n", sizeof(T) + 3, TD_TOKEN_E_CONTROL},
      {"base64 of an older login token", "q+8/Zm9vYmFyYmF6cXV4eA==\n", 25,
       TD_TOKEN_OK},
      {"empty", "", 0, TD_TOKEN_E_EMPTY},
      {"white space only", " \n\t\r\n\v\f", 7, TD_TOKEN_E_EMPTY},
  };
  td_token_t t;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *p = write_file("case", cases[i].data, cases[i].len);
    td_token_status_t st = td_token_from_file(&t, p);
    tap_is_int(st, cases[i].want, "token file: %s", cases[i].what);
    if (cases[i].want == TD_TOKEN_OK && strncmp(cases[i].data, "q+8/", 4))
      tap_is_str(t.text, T, "token file: %s: the token, trimmed",
                 cases[i].what);
    else if (cases[i].want == TD_TOKEN_OK)
      tap_ok(strlen(t.text) == 24, "token file: %s: taken whole",
             cases[i].what);
    else
      tap_ok(t.text[0] == '\0', "token file: %s: nothing kept",
             cases[i].what);
  }
  memset(big, 'x', TD_TOKEN_MAX);
  tap_is_int(td_token_from_file(&t, write_file("max", big, TD_TOKEN_MAX)),
             TD_TOKEN_OK, "a token of TD_TOKEN_MAX bytes is taken");
  big[TD_TOKEN_MAX] = 'x';
  tap_is_int(
      td_token_from_file(&t, write_file("over", big, TD_TOKEN_MAX + 1)),
      TD_TOKEN_E_TOO_LONG, "one byte more is too long");
}

static void check_special(void) {
  char fifo[256], sub[256], link[256];
  td_token_t t;
  snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  snprintf(link, sizeof(link), "%s/link", dir);
  mkfifo(fifo, 0600);
  mkdir(sub, 0700);
  const char *target = write_file("target", T "\n", sizeof(T));
  if (symlink(target, link) != 0)
    tap_diag("symlink failed");
  const struct {
    const char *what, *path;
    td_token_status_t want;
    td_file_status_t file;
  } cases[] = {
      {"a FIFO without a writer (must not block)", fifo, TD_TOKEN_E_FILE,
       TD_FILE_E_NOT_REGULAR},
      {"a directory", sub, TD_TOKEN_E_FILE, TD_FILE_E_NOT_REGULAR},
      {"/dev/zero", "/dev/zero", TD_TOKEN_E_FILE, TD_FILE_E_NOT_REGULAR},
      {"/dev/null", "/dev/null", TD_TOKEN_E_FILE, TD_FILE_E_NOT_REGULAR},
      {"a missing file", "/nonexistent/token", TD_TOKEN_E_FILE,
       TD_FILE_E_OPEN},
      {"a symbolic link to a regular file", link, TD_TOKEN_OK, TD_FILE_OK},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_token_status_t st = td_token_from_file(&t, cases[i].path);
    tap_ok(st == cases[i].want && t.file_status == cases[i].file,
           "%s: token status %d, file status %d", cases[i].what, (int)st,
           (int)t.file_status);
  }
  td_file_info_t info;
  tap_is_int(td_file_check("/dev/zero", 1 << 20, &info),
             TD_FILE_E_NOT_REGULAR, "td_file_check refuses /dev/zero");
  tap_is_int(td_file_check(fifo, 1 << 20, &info), TD_FILE_E_NOT_REGULAR,
             "td_file_check refuses a FIFO without blocking");
  tap_is_int(td_file_check(target, 4, &info), TD_FILE_E_TOO_LARGE,
             "td_file_check refuses a file over its bound");
  unlink(fifo);
  unlink(link);
  rmdir(sub);
}

/* Who else could change a token file, as ssh's StrictModes asks: the
 * decision on what td_file saw, for a daemon running as uid 0 or 100. */
static void check_trust(void) {
  const struct {
    const char *what;
    uid_t euid, file_uid, dir_uid;
    mode_t file_mode, dir_mode;
    int has_dir;
    td_token_trust_t want;
  } cases[] = {
      {"root's 0600 file in root's 0755 directory", 0, 0, 0, 0600, 0755, 1,
       TD_TOKEN_TRUST_OK},
      {"the daemon's own 0600 file and directory", 100, 100, 100, 0600, 0700, 1,
       TD_TOKEN_TRUST_OK},
      {"root's 0640 file for a daemon of uid 100", 100, 0, 0, 0640, 0755, 1,
       TD_TOKEN_TRUST_OK},
      {"a 0600 file owned by nobody, daemon as root", 0, 65534, 0, 0600, 0755,
       1, TD_TOKEN_TRUST_FILE_OWNER},
      {"a file of uid 100, daemon as uid 200", 200, 100, 0, 0600, 0755, 1,
       TD_TOKEN_TRUST_FILE_OWNER},
      {"a group-writable file", 0, 0, 0, 0620, 0755, 1,
       TD_TOKEN_TRUST_FILE_WRITABLE},
      {"a world-writable file", 0, 0, 0, 0602, 0755, 1,
       TD_TOKEN_TRUST_FILE_WRITABLE},
      {"a root file in a directory owned by nobody", 0, 0, 65534, 0600, 0755, 1,
       TD_TOKEN_TRUST_DIR_OWNER},
      {"a root file in a world-writable directory", 0, 0, 0, 0600, 0777, 1,
       TD_TOKEN_TRUST_DIR_WRITABLE},
      {"a root file in a sticky world-writable directory (as /tmp)", 0, 0, 0,
       0600, 01777, 1, TD_TOKEN_TRUST_DIR_WRITABLE},
      {"a root file in a group-writable directory", 0, 0, 0, 0600, 0775, 1,
       TD_TOKEN_TRUST_DIR_WRITABLE},
      {"the file's owner is named before its mode", 0, 65534, 0, 0666, 0777, 1,
       TD_TOKEN_TRUST_FILE_OWNER},
      {"a directory that could not be looked at: the file alone decides", 0, 0,
       65534, 0600, 0777, 0, TD_TOKEN_TRUST_OK},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_token_t t;
    memset(&t, 0, sizeof(t));
    t.file.uid = cases[i].file_uid;
    t.file.mode = S_IFREG | cases[i].file_mode;
    t.around.has_dir = cases[i].has_dir;
    t.around.dir_uid = cases[i].dir_uid;
    t.around.dir_mode = S_IFDIR | cases[i].dir_mode;
    tap_is_int(td_token_file_trust(&t, cases[i].euid), cases[i].want,
               "trust: %s", cases[i].what);
  }
}

/* What td_file_around sees on real paths, and the refusal of a link whose
 * owner is not its target's (changing owners takes root). */
static void check_around_and_links(void) {
  char link[256], bare[64];
  td_file_around_t a;
  td_token_t t;
  const char *target = write_file("owned", T "\n", sizeof(T));
  td_file_around(target, &a);
  tap_ok(!a.is_link && a.has_dir && S_ISDIR(a.dir_mode),
         "a plain file: no link, its directory seen");
  snprintf(link, sizeof(link), "%s/owned.link", dir);
  if (symlink(target, link) != 0)
    tap_diag("symlink failed");
  td_file_around(link, &a);
  tap_ok(a.is_link && a.link_uid == geteuid(), "a link and its owner seen");
  td_file_around("/", &a);
  tap_ok(a.has_dir && a.dir_uid == 0, "\"/\": its directory is \"/\"");
  snprintf(bare, sizeof(bare), "no-such-file-%d", (int)getpid());
  td_file_around(bare, &a);
  tap_ok(!a.is_link && a.has_dir, "a bare name: its directory is \".\"");
  if (geteuid() != 0) {
    tap_ok(1, "# SKIP link owners: not root");
  } else {
    tap_is_int(td_token_from_file(&t, link), TD_TOKEN_OK,
               "a link of the target's owner is followed");
    if (lchown(link, 65534, 65534) != 0)
      tap_diag("lchown failed");
    tap_is_int(td_token_from_file(&t, link), TD_TOKEN_E_LINK_OWNER,
               "a link owned by nobody to root's file is refused");
    tap_ok(t.text[0] == '\0', "and nothing of the file is kept");
    if (chown(target, 65534, 65534) != 0)
      tap_diag("chown failed");
    tap_is_int(td_token_from_file(&t, link), TD_TOKEN_OK,
               "a link owned by nobody to nobody's file is followed");
    tap_is_int(td_token_file_trust(&t, 0), TD_TOKEN_TRUST_FILE_OWNER,
               "but the file is nobody's: not trusted");
    if (lchown(link, 0, 0) != 0 || chown(target, 100, 100) != 0)
      tap_diag("chown failed");
    tap_is_int(td_token_from_file(&t, link), TD_TOKEN_OK,
               "root's link to another user's file is followed");
  }
  unlink(link);
}

static void check_text_and_prefix(void) {
  td_token_t t;
  tap_is_int(td_token_from_text(&t, " " T "\n"), TD_TOKEN_OK,
             "a token from text is trimmed like a file's");
  tap_ok(td_token_has_prefix(&t), "and it has the tdpat_ prefix");
  tap_is_int(td_token_from_text(&t, "abc"), TD_TOKEN_OK,
             "a token without the prefix is still a token");
  tap_ok(!td_token_has_prefix(&t), "but has_prefix says so");
  tap_is_int(td_token_from_text(&t, T "\xe2\x80\x8b"), TD_TOKEN_E_NOT_ASCII,
             "a token from text with a zero-width space is refused as "
             "from a file");
  tap_ok(t.text[0] == '\0', "and nothing of it is kept");
  td_token_wipe(&t);
  tap_ok(t.text[0] == '\0' && t.text[2] == '\0', "td_token_wipe wipes it");
}

int main(void) {
  if (mkdtemp(dir) == NULL)
    return 1;
  check_files();
  check_special();
  check_text_and_prefix();
  check_trust();
  check_around_and_links();
  unlink(write_file("case", "", 0));
  unlink(write_file("max", "", 0));
  unlink(write_file("over", "", 0));
  unlink(write_file("target", "", 0));
  unlink(write_file("owned", "", 0));
  rmdir(dir);
  return tap_done();
}
