/* td_url: the policy for the URLs an operator gives (URL, OrganizationsURL,
 * Proxy, --url, --proxy): which are accepted, which host is loopback, and
 * which proxy a transfer takes. Parses with libcurl's URL API only; makes
 * no transfer, never logs, words nothing (td_words does). */
#ifndef TD_URL_H
#define TD_URL_H

#include <stddef.h>

typedef enum {
  TD_URL_OK = 0,
  TD_URL_NOMEM,       /* libcurl could not make a URL handle */
  TD_URL_INVALID,     /* not a URL libcurl can parse */
  TD_URL_SCHEME,      /* neither http nor https */
  TD_URL_NO_HOST,     /* no host part */
  TD_URL_USERINFO,    /* a user name or password before the host */
  TD_URL_PLAINTEXT,   /* plain http to a host that is not loopback */
  TD_PROXY_INVALID,   /* not scheme://host[:port] */
  TD_PROXY_SCHEME,    /* neither http, https nor socks5h */
  TD_PROXY_PLAINTEXT, /* any proxy for a plain-http URL */
} td_url_status_t;

/* Checks a URL before any handle is made: http or https, a host, no
 * userinfo (only Bearer is sent: a password there would only leak), and
 * plain http only to a loopback host unless allow_plaintext. Returns
 * TD_URL_OK or the first rule broken, in the order of the enum. */
td_url_status_t td_url_check(const char *url, int allow_plaintext);

/* 1 when url names a loopback host ("localhost", 127.0.0.0/8, [::1]). */
int td_url_is_loopback(const char *url);

/* Checks a Proxy value for url: NULL or "" (none), or an http, https or
 * socks5h URL with a host; refused for a plain-http url unless
 * allow_plaintext, since any proxy reads such a request whole. Returns
 * TD_URL_OK or a TD_PROXY_ status. */
td_url_status_t td_url_proxy_check(const char *url, const char *proxy,
                                   int allow_plaintext);

/* The proxy the transfers to url take, for CURLOPT_PROXY: the Proxy value
 * when given ("" = none); else "" for plain http, whose request and token
 * a proxy would read; else NULL: libcurl's own reading of the
 * environment, where the token stays inside the TLS tunnel. */
const char *td_url_proxy_setting(const char *url, const char *proxy);

/* Which proxy the transfers to url take, as "scheme://host[:port]" without
 * any user or password, with the environment variable it comes from.
 * Returns 1 and fills dst, or 0 (and "") when they go direct. */
int td_url_proxy_describe(const char *url, const char *proxy, char *dst,
                          size_t size);

#endif /* TD_URL_H */
