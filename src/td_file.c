/* td_file: bounded, non-blocking reads of operator files. See td_file.h. */
#include "td_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path without blocking (a FIFO with no writer would block a plain
 * open) and checks what it is. Returns the descriptor, or -1. */
static int open_regular(const char *path, size_t max, td_file_info_t *info,
                        td_file_status_t *st) {
  struct stat sb;
  memset(info, 0, sizeof(*info));
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    info->err = errno;
    *st = TD_FILE_E_OPEN;
    return -1;
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    *st = TD_FILE_E_NOT_REGULAR;
    return -1;
  }
  info->mode = sb.st_mode;
  info->uid = sb.st_uid;
  if ((unsigned long long)sb.st_size > (unsigned long long)max) {
    close(fd);
    *st = TD_FILE_E_TOO_LARGE;
    return -1;
  }
  *st = TD_FILE_OK;
  return fd;
}

void td_file_around(const char *path, td_file_around_t *out) {
  struct stat sb;
  char dir[PATH_MAX];
  memset(out, 0, sizeof(*out));
  if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
    out->is_link = 1;
    out->link_uid = sb.st_uid;
  }
  const char *slash = strrchr(path, '/');
  size_t len = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
  if (len >= sizeof(dir))
    return;
  if (len == 0)
    memcpy(dir, ".", 2);
  else {
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  if (stat(dir, &sb) == 0) {
    out->has_dir = 1;
    out->dir_mode = sb.st_mode;
    out->dir_uid = sb.st_uid;
  }
}

td_file_status_t td_file_check(const char *path, size_t max,
                               td_file_info_t *info) {
  td_file_status_t st;
  int fd = open_regular(path, max, info, &st);
  if (fd >= 0)
    close(fd);
  return st;
}

td_file_status_t td_file_read(const char *path, char *buf, size_t size,
                              size_t *len, td_file_info_t *info) {
  td_file_status_t st;
  *len = 0;
  buf[0] = '\0';
  int fd = open_regular(path, size - 1, info, &st);
  if (fd < 0)
    return st;
  /* The size was checked, but the file may grow between fstat and read:
   * read one byte more than allowed to notice. */
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, size - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      info->err = errno;
      close(fd);
      return TD_FILE_E_READ;
    }
    if (n == 0 || (got += (size_t)n) == size - 1)
      break;
  }
  char extra;
  ssize_t more = got == size - 1 ? read(fd, &extra, 1) : 0;
  close(fd);
  if (more > 0)
    return TD_FILE_E_TOO_LARGE;
  buf[got] = '\0';
  *len = got;
  return TD_FILE_OK;
}
