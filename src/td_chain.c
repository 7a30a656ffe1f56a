/* td_chain: a certificate chain's facts and verdict. See td_chain.h. */
#include "td_chain.h"

#include <string.h>
#include <strings.h>

#include "td_time.h"

void td_chain_begin(td_chain_t *ch, double now) {
  *ch = (td_chain_t){.now = now};
}

/* The text after "key:" when line starts so (any case), else NULL. */
static const char *value_of(const char *line, const char *key) {
  size_t n = strlen(key);
  return strncasecmp(line, key, n) == 0 && line[n] == ':' ? line + n + 1 : NULL;
}

void td_chain_cert(td_chain_t *ch, const char *const *lines, size_t n,
                   int last) {
  const char *subject = NULL, *issuer = NULL, *v;
  double when;
  for (size_t i = 0; i < n; i++) {
    const char *line = lines[i];
    if ((v = value_of(line, "Expire Date")) != NULL) {
      if (td_time_parse_cert(v, &when) == 0) {
        ch->expired |= when < ch->now;
        if (ch->earliest == 0 || when < ch->earliest)
          ch->earliest = when;
      }
    } else if ((v = value_of(line, "Start Date")) != NULL) {
      if (td_time_parse_cert(v, &when) == 0 && when > ch->now)
        ch->early = 1;
    } else if ((v = value_of(line, "Subject")) != NULL) {
      subject = v;
    } else if ((v = value_of(line, "Issuer")) != NULL) {
      issuer = v;
    }
  }
  ch->certs++;
  if (last && subject != NULL && issuer != NULL)
    ch->self_signed = strcmp(subject, issuer) == 0;
}

/* OpenSSL's verification codes (X509_V_ERR_*, x509_vfy.h), whose numbers
 * are part of its ABI. */
enum {
  OSSL_UNABLE_TO_GET_ISSUER_CERT = 2,
  OSSL_CERT_NOT_YET_VALID = 9,
  OSSL_CERT_HAS_EXPIRED = 10,
  OSSL_DEPTH_ZERO_SELF_SIGNED_CERT = 18,
  OSSL_SELF_SIGNED_CERT_IN_CHAIN = 19,
  OSSL_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20,
  OSSL_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21,
  OSSL_HOSTNAME_MISMATCH = 62,
};

static td_tls_reason_t openssl_reason(long verify) {
  switch (verify) {
  case OSSL_CERT_NOT_YET_VALID:
    return TD_TLS_NOT_YET_VALID;
  case OSSL_CERT_HAS_EXPIRED:
    return TD_TLS_EXPIRED;
  case OSSL_DEPTH_ZERO_SELF_SIGNED_CERT:
  case OSSL_SELF_SIGNED_CERT_IN_CHAIN:
    return TD_TLS_SELF_SIGNED;
  case OSSL_UNABLE_TO_GET_ISSUER_CERT:
  case OSSL_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case OSSL_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return TD_TLS_ISSUER;
  case OSSL_HOSTNAME_MISMATCH:
    return TD_TLS_OTHER_NAME;
  default:
    return TD_TLS_UNTRUSTED;
  }
}

td_tls_reason_t td_chain_reason(const td_chain_t *ch, td_chain_lib_t lib,
                                long verify) {
  if (verify == 0)
    return TD_TLS_OTHER_NAME;
  /* OpenSSL verifies the chain inside the handshake, and libcurl gives
   * no certificate when it refused; a chain given passed, and the name
   * (libcurl's own check, result 1) failed. */
  if (lib == TD_CHAIN_OPENSSL)
    return ch->certs > 0 ? TD_TLS_OTHER_NAME : openssl_reason(verify);
  /* GnuTLS's bits say less than its chain: read the chain. */
  if (ch->certs == 0)
    return TD_TLS_UNTRUSTED;
  return ch->expired       ? TD_TLS_EXPIRED
         : ch->early       ? TD_TLS_NOT_YET_VALID
         : ch->self_signed ? TD_TLS_SELF_SIGNED
                           : TD_TLS_ISSUER;
}
