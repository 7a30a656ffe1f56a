/* td_file: reads the small files an operator names (TokenFile, CACert)
 * without ever blocking or swallowing a device: only a regular file (a
 * symbolic link to one is fine) of a bounded size, opened non-blocking.
 * Never logs; returns what it found. */
#ifndef TD_FILE_H
#define TD_FILE_H

#include <stddef.h>
#include <sys/types.h>

typedef enum {
  TD_FILE_OK = 0,
  TD_FILE_E_OPEN,        /* cannot be opened; err holds errno */
  TD_FILE_E_NOT_REGULAR, /* a FIFO, a device, a directory, a socket */
  TD_FILE_E_TOO_LARGE,   /* larger than the caller's bound */
  TD_FILE_E_READ,        /* read failed; err holds errno */
} td_file_status_t;

typedef struct {
  int err;     /* errno, for E_OPEN and E_READ */
  mode_t mode; /* the file's mode, when it could be looked at */
  uid_t uid;   /* the file's owner, likewise */
} td_file_info_t;

/* Who else decides what a path names: a symbolic link standing at the
 * path, and the directory that holds it (whoever may write there may
 * replace the file). */
typedef struct {
  int is_link;    /* the path itself is a symbolic link */
  uid_t link_uid; /* its owner */
  int has_dir;    /* the directory could be looked at */
  mode_t dir_mode;
  uid_t dir_uid;
} td_file_around_t;

/* Checks that path is a regular file of at most max bytes, without
 * reading it. */
td_file_status_t td_file_check(const char *path, size_t max,
                               td_file_info_t *info);

/* Looks at the path itself (lstat) and at the directory holding it, the
 * last path component removed ("." for a bare name). Fills what it could
 * see; never fails. */
void td_file_around(const char *path, td_file_around_t *out);

/* Reads the whole file (at most size - 1 bytes, the caller's bound) into
 * buf and NUL-terminates it; *len is the byte count, which may hold NUL
 * bytes of the file. */
td_file_status_t td_file_read(const char *path, char *buf, size_t size,
                              size_t *len, td_file_info_t *info);

#endif /* TD_FILE_H */
