/* test_chain: what a certificate chain's lines say, in the words of both
 * of Debian's libcurl flavours, and why a failed verification failed.
 *
 * Build and run, from the top of the tree:
 *   tools/build && _build/tests/unit/test_chain */
#include "td_chain.h"

#include <stdio.h>

#include "tap.h"

#define NOW 1800000000.0 /* 2027-01-15 08:00:00 UTC */
#define MAX_LINES 6
#define MAX_CERTS 3

/* A chain as libcurl hands it over: certificates of lines. */
typedef struct {
  const char *lines[MAX_CERTS][MAX_LINES]; /* NULL ends a certificate */
} chain_t;

/* Dates around NOW in both wordings. */
#define G_PAST "Expire Date:2026-01-01 00:00:00 GMT"
#define G_SOON "Expire Date:2027-02-01 00:00:00 GMT"  /* 1801440000 */
#define G_LATER "Expire Date:2028-01-01 00:00:00 GMT" /* 1830297600 */
#define G_START "Start Date:2026-01-01 00:00:00 GMT"
#define G_FUTURE "Start Date:2027-06-01 00:00:00 GMT"
#define O_PAST "Expire date:Jan  1 00:00:00 2026 GMT"
#define O_SOON "Expire date:Feb  1 00:00:00 2027 GMT"
#define O_LATER "Expire date:Jan  1 00:00:00 2028 GMT"
#define O_START "Start date:Jan  1 00:00:00 2026 GMT"
#define O_FUTURE "Start date:Jun  1 00:00:00 2027 GMT"
#define SUBJ_LEAF "Subject:CN=api.example"
#define ISS_CA "Issuer:CN=Test CA"
#define SUBJ_CA "Subject:CN=Test CA"

static const struct {
  const char *name;
  chain_t chain;
  td_chain_lib_t lib;
  long verify;
  double earliest;
  td_tls_reason_t reason;
} cases[] = {
    {"no certificate, OpenSSL refused it as expired",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     10,
     0,
     TD_TLS_EXPIRED},
    {"no certificate, OpenSSL: not yet valid",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     9,
     0,
     TD_TLS_NOT_YET_VALID},
    {"no certificate, OpenSSL: self-signed leaf",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     18,
     0,
     TD_TLS_SELF_SIGNED},
    {"no certificate, OpenSSL: untrusted root in the chain",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     19,
     0,
     TD_TLS_SELF_SIGNED},
    {"no certificate, OpenSSL: issuer unknown here",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     20,
     0,
     TD_TLS_ISSUER},
    {"no certificate, OpenSSL: leaf signature unverifiable",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     21,
     0,
     TD_TLS_ISSUER},
    {"no certificate, OpenSSL: the name",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     62,
     0,
     TD_TLS_OTHER_NAME},
    {"no certificate, OpenSSL: a code not named here",
     {{{NULL}}},
     TD_CHAIN_OPENSSL,
     7,
     0,
     TD_TLS_UNTRUSTED},
    {"no certificate, GnuTLS bits",
     {{{NULL}}},
     TD_CHAIN_GNUTLS,
     66,
     0,
     TD_TLS_UNTRUSTED},
    {"no result from libcurl, no certificate",
     {{{NULL}}},
     TD_CHAIN_GNUTLS,
     -1,
     0,
     TD_TLS_UNTRUSTED},
    {"the chain passed, the name did not (GnuTLS)",
     {{{SUBJ_LEAF, ISS_CA, G_START, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     0,
     1830297600,
     TD_TLS_OTHER_NAME},
    {"the chain passed, the name did not (OpenSSL, as libcurl 7.88 says it)",
     {{{SUBJ_LEAF, ISS_CA, O_START, O_LATER, NULL}}},
     TD_CHAIN_OPENSSL,
     1,
     1830297600,
     TD_TLS_OTHER_NAME},
    {"OpenSSL gave a chain: whatever the code, the name failed",
     {{{SUBJ_LEAF, ISS_CA, O_START, O_LATER, NULL}}},
     TD_CHAIN_OPENSSL,
     10,
     1830297600,
     TD_TLS_OTHER_NAME},
    {"GnuTLS: an expired leaf",
     {{{SUBJ_LEAF, ISS_CA, G_START, G_PAST, NULL}}},
     TD_CHAIN_GNUTLS,
     1026,
     1767225600,
     TD_TLS_EXPIRED},
    {"GnuTLS: a leaf not valid yet",
     {{{SUBJ_LEAF, ISS_CA, G_FUTURE, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     514,
     1830297600,
     TD_TLS_NOT_YET_VALID},
    {"GnuTLS: a self-signed leaf",
     {{{SUBJ_CA, ISS_CA, G_START, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     66,
     1830297600,
     TD_TLS_SELF_SIGNED},
    {"GnuTLS: an issuer not trusted",
     {{{SUBJ_LEAF, ISS_CA, G_START, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     66,
     1830297600,
     TD_TLS_ISSUER},
    {"the earliest expiry of two certificates, leaf first",
     {{{SUBJ_LEAF, ISS_CA, G_SOON, NULL}, {SUBJ_CA, ISS_CA, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     0,
     1801440000,
     TD_TLS_OTHER_NAME},
    {"the earliest expiry of two, in OpenSSL's words, CA's first",
     {{{SUBJ_LEAF, ISS_CA, O_LATER, NULL}, {SUBJ_CA, ISS_CA, O_SOON, NULL}}},
     TD_CHAIN_OPENSSL,
     0,
     1801440000,
     TD_TLS_OTHER_NAME},
    {"self-signed is the last certificate's, not the first's",
     {{{SUBJ_CA, ISS_CA, G_LATER, NULL}, {SUBJ_LEAF, ISS_CA, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     66,
     1830297600,
     TD_TLS_ISSUER},
    {"dates that do not parse are passed over",
     {{{SUBJ_LEAF, ISS_CA, "Expire Date:soon", "Start Date:", NULL}}},
     TD_CHAIN_GNUTLS,
     66,
     0,
     TD_TLS_ISSUER},
    {"keys without a colon or with another name are passed over",
     {{{"Expire Date 2026-01-01 00:00:00 GMT", "Expired:2026-01-01",
        "Subjectivity:x", ISS_CA, G_LATER, NULL}}},
     TD_CHAIN_GNUTLS,
     66,
     1830297600,
     TD_TLS_ISSUER},
};

int main(void) {
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    td_chain_t ch;
    td_chain_begin(&ch, NOW);
    int certs = 0;
    while (certs < MAX_CERTS && cases[i].chain.lines[certs][0] != NULL)
      certs++;
    for (int c = 0; c < certs; c++) {
      size_t n = 0;
      while (n < MAX_LINES && cases[i].chain.lines[c][n] != NULL)
        n++;
      td_chain_cert(&ch, cases[i].chain.lines[c], n, c == certs - 1);
    }
    tap_is_double(ch.earliest, cases[i].earliest, 0, "%s: earliest expiry",
                  cases[i].name);
    tap_is_int(td_chain_reason(&ch, cases[i].lib, cases[i].verify),
               cases[i].reason, "%s: reason", cases[i].name);
  }
  return tap_done();
}
