/* td_token: the token, for both front ends alike. Reads a token file
 * (through td_file), trims white space, judges what is left, tells who
 * else could change the file and whether the token looks like a
 * TelemetryDeck personal access token. Owns the secret's buffer and wipes
 * it. Never logs, never prints the token. */
#ifndef TD_TOKEN_H
#define TD_TOKEN_H

#include <stddef.h>

#include "td_defaults.h"
#include "td_file.h"

#define TD_TOKEN_SLACK 64 /* white space around a token a file may hold */

typedef enum {
  TD_TOKEN_OK = 0,
  TD_TOKEN_E_FILE,       /* td_file refused the file: see file_status */
  TD_TOKEN_E_EMPTY,      /* nothing but white space */
  TD_TOKEN_E_TOO_LONG,   /* more than TD_TOKEN_MAX bytes */
  TD_TOKEN_E_CONTROL,    /* spaces inside, more than one line, a control
                            character or a NUL byte */
  TD_TOKEN_E_NOT_ASCII,  /* a byte above 0x7e: no token has one, but a
                            copy from a web page or an editor may bring a
                            no-break space, a zero-width space or a BOM */
  TD_TOKEN_E_LINK_OWNER, /* the file is reached through a symbolic link of
                            another owner than the file's (and not root's):
                            whoever owns the link chooses what is sent */
} td_token_status_t;

/* Who besides the daemon's user (and root) could change the token a file
 * holds, as ssh's StrictModes asks; the first finding in this order. */
typedef enum {
  TD_TOKEN_TRUST_OK = 0,
  TD_TOKEN_TRUST_FILE_OWNER,    /* the file belongs to another user */
  TD_TOKEN_TRUST_FILE_WRITABLE, /* group or others may write the file */
  TD_TOKEN_TRUST_DIR_OWNER,     /* its directory belongs to another user */
  TD_TOKEN_TRUST_DIR_WRITABLE,  /* group or others may write there */
} td_token_trust_t;

typedef struct {
  char text[TD_TOKEN_MAX + TD_TOKEN_SLACK + 1]; /* the token when OK */
  td_file_status_t file_status; /* for TD_TOKEN_E_FILE */
  td_file_info_t file;          /* errno, mode and owner of the file */
  td_file_around_t around;      /* a link at the path, its directory */
} td_token_t;

/* Takes the token from text (a config value or an environment variable):
 * surrounding white space (" \t\r\n\v\f") trimmed, then judged. */
td_token_status_t td_token_from_text(td_token_t *t, const char *text);

/* Reads it from the file at path, with the same trimming and rules. A NUL
 * byte anywhere in the file is a control character. */
td_token_status_t td_token_from_file(td_token_t *t, const char *path);

/* 1 when the file was readable by group or others (worth a WARNING, as
 * ssh gives one). */
int td_token_file_is_open(const td_token_t *t);

/* Whether a file read by td_token_from_file can be changed by another
 * user than euid (the daemon's) or root. */
td_token_trust_t td_token_file_trust(const td_token_t *t, uid_t euid);

/* 1 when the token starts with "tdpat_". */
int td_token_has_prefix(const td_token_t *t);

/* Wipes the token from memory. */
void td_token_wipe(td_token_t *t);

#endif /* TD_TOKEN_H */
