/* td_chain: what a server's certificate chain says, from the lines
 * libcurl gives for each certificate (CURLINFO_CERTINFO), in the words of
 * either of Debian's libcurl flavours, and why a verification failed.
 * Pure: the clock is passed in; no curl, no TLS library is called. */
#ifndef TD_CHAIN_H
#define TD_CHAIN_H

#include <stddef.h>

#include "td_xfer.h"

/* The TLS library under libcurl: its verification result codes differ. */
typedef enum {
  TD_CHAIN_GNUTLS,  /* libcurl3-gnutls: a GnuTLS status bit mask */
  TD_CHAIN_OPENSSL, /* libcurl4: an X509_V_ERR_* code */
} td_chain_lib_t;

typedef struct {
  double now;      /* epoch seconds, for the dates */
  double earliest; /* the earliest expiry seen, epoch seconds; 0: none */
  int expired;     /* a certificate's expiry has passed */
  int early;       /* a certificate is not valid yet */
  int self_signed; /* the last certificate is its own issuer */
  int certs;       /* certificates read */
} td_chain_t;

/* Starts reading a chain at time now. */
void td_chain_begin(td_chain_t *ch, double now);

/* Reads one certificate's lines ("Expire Date:...", "Subject:..."; the
 * key's case as either flavour writes it); last: it ends the chain. Lines
 * that are no such key, and dates that do not parse, are passed over. */
void td_chain_cert(td_chain_t *ch, const char *const *lines, size_t n,
                   int last);

/* Why verification failed, from the chain read and the library's
 * verification result (CURLINFO_SSL_VERIFYRESULT; -1 when libcurl gave
 * none). A result of 0 means the chain passed and the name did not. The
 * OpenSSL flavour gives no certificate when OpenSSL refused the chain,
 * and the chain with result 1 when the name failed. */
td_tls_reason_t td_chain_reason(const td_chain_t *ch, td_chain_lib_t lib,
                                long verify);

#endif /* TD_CHAIN_H */
