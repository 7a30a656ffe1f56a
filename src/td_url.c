/* td_url: the URL and proxy policy. See td_url.h. */
#include "td_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* Only names that cannot leave the machine: "localhost" (libcurl answers
 * it itself, without DNS), a literal 127.0.0.0/8 address, or [::1]. A name
 * like "127.example.com" is not loopback. */
static int host_is_loopback(const char *host) {
  struct in_addr v4;
  struct in6_addr v6;
  char bare[64];
  size_t len = strlen(host);
  if (strcasecmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  if (len < 3 || len >= sizeof(bare) + 2 || host[0] != '[' ||
      host[len - 1] != ']')
    return 0;
  memcpy(bare, host + 1, len - 2);
  bare[len - 2] = '\0';
  return inet_pton(AF_INET6, bare, &v6) == 1 &&
         memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
}

int td_url_is_loopback(const char *url) {
  CURLU *u = curl_url();
  char *host = NULL;
  int yes = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            host_is_loopback(host);
  curl_free(host);
  curl_url_cleanup(u);
  return yes;
}

/* 1 when the parsed URL has a user name or a password, even an empty
 * one ("https://@host/"). */
static int has_userinfo(CURLU *u) {
  char *part = NULL;
  int yes = 0;
  if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK)
    yes = 1;
  curl_free(part);
  part = NULL;
  if (curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
    yes = 1;
  curl_free(part);
  return yes;
}

td_url_status_t td_url_check(const char *url, int allow_plaintext) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  td_url_status_t st;
  if (u == NULL)
    return TD_URL_NOMEM;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
    st = TD_URL_INVALID;
  else if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)
    st = TD_URL_SCHEME;
  else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    st = TD_URL_NO_HOST;
  else if (has_userinfo(u))
    st = TD_URL_USERINFO;
  else if (strcasecmp(scheme, "http") == 0 && !allow_plaintext &&
           !host_is_loopback(host))
    st = TD_URL_PLAINTEXT;
  else
    st = TD_URL_OK;
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return st;
}

const char *td_url_proxy_setting(const char *url, const char *proxy) {
  if (proxy != NULL)
    return proxy;
  return strncasecmp(url, "http:", 5) == 0 ? "" : NULL;
}

/* scheme://host[:port] of a proxy URL: never its user or password. */
static int proxy_public(const char *proxy, char *dst, size_t size,
                        char **scheme_out) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *scheme = NULL;
  int rc = -1;
  if (u == NULL)
    return -1;
  if (curl_url_set(u, CURLUPART_URL, proxy, CURLU_NON_SUPPORT_SCHEME) ==
          CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
      port = NULL;
    snprintf(dst, size, "%s://%s%s%s", scheme, host, port ? ":" : "",
             port ? port : "");
    rc = 0;
  }
  if (rc == 0 && scheme_out != NULL)
    *scheme_out = scheme;
  else
    curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

td_url_status_t td_url_proxy_check(const char *url, const char *proxy,
                                   int allow_plaintext) {
  char shown[256];
  char *scheme = NULL;
  if (proxy == NULL || proxy[0] == '\0')
    return TD_URL_OK;
  if (strstr(proxy, "://") == NULL ||
      proxy_public(proxy, shown, sizeof(shown), &scheme) != 0)
    return TD_PROXY_INVALID;
  int known = strcasecmp(scheme, "http") == 0 ||
              strcasecmp(scheme, "https") == 0 ||
              strcasecmp(scheme, "socks5h") == 0;
  curl_free(scheme);
  if (!known)
    return TD_PROXY_SCHEME;
  /* Any proxy sees a plain-http request whole, the token included. */
  if (strncasecmp(url, "http:", 5) == 0 && !allow_plaintext)
    return TD_PROXY_PLAINTEXT;
  return TD_URL_OK;
}

/* The environment variables libcurl reads for an https URL, in its order
 * (lower case first). */
static const char *env_proxy(const char **var) {
  static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
                                     "ALL_PROXY"};
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && v[0] != '\0') {
      *var = vars[i];
      return v;
    }
  }
  return NULL;
}

int td_url_proxy_describe(const char *url, const char *proxy, char *dst,
                          size_t size) {
  char shown[256];
  const char *var = NULL;
  const char *setting = td_url_proxy_setting(url, proxy);
  dst[0] = '\0';
  if (setting != NULL && setting[0] == '\0')
    return 0; /* none */
  if (setting != NULL) {
    if (proxy_public(setting, shown, sizeof(shown), NULL) != 0)
      return 0;
    snprintf(dst, size, "%s", shown);
    return 1;
  }
  if ((setting = env_proxy(&var)) == NULL ||
      proxy_public(setting, shown, sizeof(shown), NULL) != 0)
    return 0;
  snprintf(dst, size, "%s (from %s, unless no_proxy names the host)", shown,
           var);
  return 1;
}
