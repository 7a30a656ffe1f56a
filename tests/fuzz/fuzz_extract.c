/* fuzz_extract: libFuzzer target for the streaming extractor (td_extract).
 *
 * The whole input is one response body, so a corpus file is a body exactly
 * as it could come off the wire (tools/fuzz seeds it with the golden
 * bodies of tests/data/bodies and with tests/fuzz/corpus/extract/).
 *
 * Pass 1 feeds the body to a new extractor in chunks whose sizes come from
 * a small PRNG seeded with a hash of the input (0-byte chunks included), so
 * every input is also a chunking. About one input in 16 is followed by a
 * run of spaces that pushes the body past TD_JSON_MAX_BODY, to reach the
 * size bound without huge inputs. Pass 2 resets the same extractor and
 * feeds the body in one chunk (and the padding in one more).
 *
 * Checked on every input, with abort() on a breach:
 *  - every string field of the result is NUL-terminated within its array,
 *    and, when the status is OK, is whole UTF-8 characters (a cut never
 *    splits one);
 *  - email_verified is -1, 0 or 1; top_is_object is 0 or 1;
 *  - every status is a td_json_status_t value, errors are sticky (every
 *    later feed and the finish return the same one);
 *  - td_extract_bytes equals the bytes of the chunks fed up to and
 *    including the first one that failed; TD_JSON_E_SIZE comes from the
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

#define FUZZ_NAME "fuzz_extract"
#include "fuzz_common.h"

/* A field is NUL-terminated inside its array; when the parse succeeded it
 * also holds whole UTF-8 characters. */
static void check_field(const char *f, size_t size, int ok) {
  const char *nul = memchr(f, '\0', size);
  CHECK(nul != NULL);
  if (ok)
    CHECK(whole_utf8_n((const unsigned char *)f, (size_t)(nul - f)));
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
  td_json_status_t status;
  td_account_info_t info;
} outcome_t;

/* Keeps the bookkeeping of one pass: bytes the extractor must have counted
 * and the first error seen. */
typedef struct {
  td_extract_t *x;
  size_t counted;          /* bytes of chunks fed before the first error */
  td_json_status_t err; /* first error from a feed, OK if none */
} pass_t;

static void feed(pass_t *p, const void *buf, size_t len) {
  td_json_status_t s = td_extract_feed(p->x, buf, len);
  CHECK(status_known(s));
  CHECK(s != TD_JSON_E_EMPTY && s != TD_JSON_E_TRUNCATED);
  if (p->err != TD_JSON_OK) {
    CHECK(s == p->err); /* sticky: nothing more is counted or parsed */
  } else {
    size_t before = p->counted;
    p->counted += len;
    if (s == TD_JSON_E_SIZE) /* this chunk crossed the bound */
      CHECK(before <= TD_JSON_MAX_BODY &&
            p->counted > TD_JSON_MAX_BODY);
    else
      CHECK(p->counted <= TD_JSON_MAX_BODY);
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
    size_t n = body_chunk_size(seed);
    if (n > len - off)
      n = len - off;
    feed(p, buf + off, n);
    off += n;
  }
}

static void finish(pass_t *p, outcome_t *out) {
  td_json_status_t s = td_extract_finish(p->x);
  CHECK(status_known(s));
  if (p->err != TD_JSON_OK)
    CHECK(s == p->err);
  if (p->counted == 0 && p->err == TD_JSON_OK)
    CHECK(s == TD_JSON_E_EMPTY);
  if (s == TD_JSON_OK)
    CHECK(p->counted > 0 && p->counted <= TD_JSON_MAX_BODY);
  /* Sticky after the finish too. */
  if (s != TD_JSON_OK)
    CHECK(td_extract_feed(p->x, "{}", 2) == s);
  out->status = s;
  memcpy(&out->info, td_extract_info(p->x), sizeof(out->info));
  check_info(&out->info, s == TD_JSON_OK);
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
  fill_pad();
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
    CHECK(chunked.status != TD_JSON_OK);

  /* Same extractor, reset, one chunk. */
  CHECK(td_extract_reset(p.x) == TD_JSON_OK);
  CHECK(td_extract_bytes(p.x) == 0);
  p.counted = 0;
  p.err = TD_JSON_OK;
  feed_all(&p, data, size, NULL);
  if (padded)
    feed_all(&p, (const uint8_t *)pad, sizeof(pad), NULL);
  finish(&p, &whole);
  td_extract_free(p.x);

  if (size <= TD_JSON_MAX_BODY && !padded)
    CHECK(chunked.status == whole.status);
  else if (size <= TD_JSON_MAX_BODY)
    /* Padded: the one-chunk pass never parses the padding (its chunk is
     * over the bound), so it ends with the body's own error or E_SIZE;
     * the chunked pass may meet an error in the first bytes of padding
     * first (a body ending in "-" then a space). Both are errors. */
    CHECK(chunked.status == whole.status ||
          whole.status == TD_JSON_E_SIZE);
  else /* one chunk over the bound is refused before any parsing */
    CHECK(whole.status == TD_JSON_E_SIZE && chunked.status != TD_JSON_OK);
  if (chunked.status == TD_JSON_OK && whole.status == TD_JSON_OK)
    same_info(&chunked.info, &whole.info);
  return 0;
}
