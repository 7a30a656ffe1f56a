/* fuzz_extract: libFuzzer target for the streaming extractor (td_extract).
 *
 * The whole input is one response body, so a corpus file is a body exactly
 * as it could come off the wire (tests/fuzz/corpus/extract/ holds the
 * golden bodies of tests/data/bodies and a few more).
 *
 * Pass 1 feeds the body to a new extractor in chunks whose sizes come from
 * a small PRNG seeded with a hash of the input (0-byte chunks included), so
 * every input is also a chunking. About one input in 16 is followed by a
 * run of spaces that pushes the body past TD_EXTRACT_MAX_BODY, to reach the
 * size bound without huge inputs. Pass 2 resets the same extractor and
 * feeds the body in one chunk (and the padding in one more).
 *
 * Checked on every input, with abort() on a breach:
 *  - every string field of the result is NUL-terminated within its array,
 *    and, when the status is OK, is whole UTF-8 characters (a cut never
 *    splits one);
 *  - email_verified is -1, 0 or 1; top_is_object is 0 or 1;
 *  - every status is a td_extract_status_t value, errors are sticky (every
 *    later feed and the finish return the same one);
 *  - td_extract_bytes equals the bytes of the chunks fed up to and
 *    including the first one that failed; TD_EXTRACT_E_SIZE comes from the
 *    chunk that crossed the bound and from no other; OK means within it;
 *  - the one-chunk pass gives the same status and, when OK, the same
 *    fields: chunking never changes the result (padded runs: both passes
 *    end in an error, the same one unless the one-chunk pass met E_SIZE
 *    first, which is by design: the bound is checked before parsing).
 *
 * Build: tools/fuzz build (clang -fsanitize=fuzzer,address,undefined). */
#include "td_extract.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_extract: check failed at line %d: %s\n",         \
              __LINE__, #cond);                                              \
      abort();                                                               \
    }                                                                        \
  } while (0)

/* Spaces appended in padded runs: past the body bound whatever the input. */
#define PAD_LEN (TD_EXTRACT_MAX_BODY + 4096)
static char pad[PAD_LEN];

/* 32-bit FNV-1a of the input: seeds the chunk sizes. */
static uint32_t hash_input(const uint8_t *data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) {
    h ^= data[i];
    h *= 16777619u;
  }
  return h;
}

/* xorshift32: enough randomness for chunk sizes. Never returns 0 state. */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* A chunk size, mostly small (where boundary bugs live), sometimes 0,
 * sometimes large. */
static size_t chunk_size(uint32_t *s) {
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

static int status_known(td_extract_status_t s) {
  switch (s) {
  case TD_EXTRACT_OK:
  case TD_EXTRACT_E_SYNTAX:
  case TD_EXTRACT_E_TRUNCATED:
  case TD_EXTRACT_E_EMPTY:
  case TD_EXTRACT_E_DEPTH:
  case TD_EXTRACT_E_SIZE:
  case TD_EXTRACT_E_NOMEM:
    return 1;
  }
  return 0;
}

/* 1 when s (n bytes, no NUL looked at) is a sequence of whole UTF-8
 * characters by shape: each lead byte followed by as many continuation
 * bytes as it announces. (yajl checks the shape, not overlong forms.) */
static int whole_utf8(const unsigned char *s, size_t n) {
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

/* A field is NUL-terminated inside its array; when the parse succeeded it
 * also holds whole UTF-8 characters. */
static void check_field(const char *f, size_t size, int ok) {
  const char *nul = memchr(f, '\0', size);
  CHECK(nul != NULL);
  if (ok)
    CHECK(whole_utf8((const unsigned char *)f, (size_t)(nul - f)));
}

static void check_info(const td_account_info_t *in, int ok) {
  CHECK(in != NULL);
  check_field(in->id, sizeof(in->id), ok);
  check_field(in->email, sizeof(in->email), ok);
  check_field(in->org_name, sizeof(in->org_name), ok);
  check_field(in->reason, sizeof(in->reason), ok);
  CHECK(in->email_verified == -1 || in->email_verified == 0 ||
        in->email_verified == 1);
  CHECK(in->top_is_object == 0 || in->top_is_object == 1);
}

/* What a pass ended with. */
typedef struct {
  td_extract_status_t status;
  td_account_info_t info;
} outcome_t;

/* Keeps the bookkeeping of one pass: bytes the extractor must have counted
 * and the first error seen. */
typedef struct {
  td_extract_t *x;
  size_t counted;          /* bytes of chunks fed before the first error */
  td_extract_status_t err; /* first error from a feed, OK if none */
} pass_t;

static void feed(pass_t *p, const void *buf, size_t len) {
  td_extract_status_t s = td_extract_feed(p->x, buf, len);
  CHECK(status_known(s));
  CHECK(s != TD_EXTRACT_E_EMPTY && s != TD_EXTRACT_E_TRUNCATED);
  if (p->err != TD_EXTRACT_OK) {
    CHECK(s == p->err); /* sticky: nothing more is counted or parsed */
  } else {
    size_t before = p->counted;
    p->counted += len;
    if (s == TD_EXTRACT_E_SIZE) /* this chunk crossed the bound */
      CHECK(before <= TD_EXTRACT_MAX_BODY &&
            p->counted > TD_EXTRACT_MAX_BODY);
    else
      CHECK(p->counted <= TD_EXTRACT_MAX_BODY);
    p->err = s;
  }
  CHECK(td_extract_bytes(p->x) == p->counted);
}

/* Feeds buf in chunks from the PRNG (seed != NULL) or in one chunk. */
static void feed_all(pass_t *p, const uint8_t *buf, size_t len,
                     uint32_t *seed) {
  size_t off = 0;
  if (seed == NULL) {
    feed(p, buf, len);
    return;
  }
  while (off < len) {
    size_t n = chunk_size(seed);
    if (n > len - off)
      n = len - off;
    feed(p, buf + off, n);
    off += n;
  }
}

static void finish(pass_t *p, outcome_t *out) {
  td_extract_status_t s = td_extract_finish(p->x);
  CHECK(status_known(s));
  if (p->err != TD_EXTRACT_OK)
    CHECK(s == p->err);
  if (p->counted == 0 && p->err == TD_EXTRACT_OK)
    CHECK(s == TD_EXTRACT_E_EMPTY);
  if (s == TD_EXTRACT_OK)
    CHECK(p->counted > 0 && p->counted <= TD_EXTRACT_MAX_BODY);
  /* Sticky after the finish too. */
  if (s != TD_EXTRACT_OK)
    CHECK(td_extract_feed(p->x, "{}", 2) == s);
  out->status = s;
  memcpy(&out->info, td_extract_info(p->x), sizeof(out->info));
  check_info(&out->info, s == TD_EXTRACT_OK);
}

static void same_info(const td_account_info_t *a, const td_account_info_t *b) {
  CHECK(strcmp(a->id, b->id) == 0);
  CHECK(strcmp(a->email, b->email) == 0);
  CHECK(strcmp(a->org_name, b->org_name) == 0);
  CHECK(strcmp(a->reason, b->reason) == 0);
  CHECK(a->email_verified == b->email_verified);
  CHECK(a->top_is_object == b->top_is_object);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (pad[0] != ' ')
    memset(pad, ' ', sizeof(pad));
  uint32_t seed = hash_input(data, size);
  int padded = (seed & 0xF) == 0;
  if (seed == 0)
    seed = 1; /* xorshift must not start at 0 */

  outcome_t chunked, whole;
  pass_t p = {.x = td_extract_new()};
  if (p.x == NULL)
    return 0;
  feed_all(&p, data, size, &seed);
  if (padded)
    feed_all(&p, (const uint8_t *)pad, sizeof(pad), &seed);
  finish(&p, &chunked);
  if (padded)
    CHECK(chunked.status != TD_EXTRACT_OK);

  /* Same extractor, reset, one chunk. */
  CHECK(td_extract_reset(p.x) == TD_EXTRACT_OK);
  CHECK(td_extract_bytes(p.x) == 0);
  p.counted = 0;
  p.err = TD_EXTRACT_OK;
  feed_all(&p, data, size, NULL);
  if (padded)
    feed_all(&p, (const uint8_t *)pad, sizeof(pad), NULL);
  finish(&p, &whole);
  td_extract_free(p.x);

  if (size <= TD_EXTRACT_MAX_BODY && !padded)
    CHECK(chunked.status == whole.status);
  else if (size <= TD_EXTRACT_MAX_BODY)
    /* Padded: the one-chunk pass never parses the padding (its chunk is
     * over the bound), so it ends with the body's own error or E_SIZE;
     * the chunked pass may meet an error in the first bytes of padding
     * first (a body ending in "-" then a space). Both are errors. */
    CHECK(chunked.status == whole.status ||
          whole.status == TD_EXTRACT_E_SIZE);
  else /* one chunk over the bound is refused before any parsing */
    CHECK(whole.status == TD_EXTRACT_E_SIZE && chunked.status != TD_EXTRACT_OK);
  if (chunked.status == TD_EXTRACT_OK && whole.status == TD_EXTRACT_OK)
    same_info(&chunked.info, &whole.info);
  return 0;
}
