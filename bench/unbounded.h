/* Forced into every core source of parse_bench_big (gcc -include): the
 * extractor's body bound raised, for the 10 MiB throughput body only.
 *
 * The extractor stops at TD_EXTRACT_MAX_BODY (256 KiB), as the plugin
 * must. td_extract.h defines the bound without #ifndef, so this header
 * includes it first, then redefines the constant; the include guard keeps
 * every later #include "td_extract.h" from restoring it. Nothing else in
 * src/ changes, and the plugin and the unit tests never see this file. */
#include "td_extract.h"

#undef TD_EXTRACT_MAX_BODY
#define TD_EXTRACT_MAX_BODY ((size_t)1 << 40)
