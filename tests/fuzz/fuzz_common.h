/* fuzz_common.h: what the fuzz targets share. Each target is one
 * translation unit, so the helpers are static here. Define FUZZ_NAME (the
 * target's name, for CHECK's message) before including this file. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td_extract.h"

/* libFuzzer's entry point, which each target defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, FUZZ_NAME ": check failed at line %d: %s\n",           \
              __LINE__, #cond);                                              \
      abort();                                                               \
    }                                                                        \
  } while (0)

/* Spaces appended in padded runs: past the body bound whatever the input. */
#define PAD_LEN (TD_JSON_MAX_BODY + 4096)
static char pad[PAD_LEN];

static void fill_pad(void) {
  if (pad[0] != ' ')
    memset(pad, ' ', sizeof(pad));
}

/* 32-bit FNV-1a of the input: seeds the chunk sizes. */
static inline uint32_t hash_input(const uint8_t *data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) {
    h ^= data[i];
    h *= 16777619u;
  }
  return h;
}

/* xorshift32: enough randomness for chunk sizes. Never returns 0 state. */
static inline uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* A chunk size, mostly small (where boundary bugs live), sometimes 0,
 * sometimes large. */
static inline size_t body_chunk_size(uint32_t *s) {
  uint32_t r = next_rand(s);
  switch (r & 7) {
  case 0:
    return 0;
  case 1:
  case 2:
  case 3:
    return 1 + (r >> 8) % 4;
  case 4:
  case 5:
    return 1 + (r >> 8) % 64;
  case 6:
    return 1 + (r >> 8) % 4096;
  default:
    return 1 + (r >> 8) % 65536;
  }
}

static inline int status_known(td_json_status_t s) {
  switch (s) {
  case TD_JSON_OK:
  case TD_JSON_E_SYNTAX:
  case TD_JSON_E_TRUNCATED:
  case TD_JSON_E_EMPTY:
  case TD_JSON_E_DEPTH:
  case TD_JSON_E_SIZE:
  case TD_JSON_E_NOMEM:
    return 1;
  }
  return 0;
}

/* 1 when s (n bytes, no NUL looked at) is a sequence of whole UTF-8
 * characters by shape: each lead byte followed by as many continuation
 * bytes as it announces. (yajl checks the shape, not overlong forms.) */
static inline int whole_utf8_n(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t need;
    if (c < 0x80)
      need = 0;
    else if ((c & 0xE0) == 0xC0)
      need = 1;
    else if ((c & 0xF0) == 0xE0)
      need = 2;
    else if ((c & 0xF8) == 0xF0)
      need = 3;
    else
      return 0;
    if (n - i - 1 < need)
      return 0;
    for (size_t k = 1; k <= need; k++)
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
    i += need + 1;
  }
  return 1;
}

/* The same for a NUL-terminated string. */
static inline int whole_utf8(const char *str) {
  return whole_utf8_n((const unsigned char *)str, strlen(str));
}

#endif /* FUZZ_COMMON_H */
