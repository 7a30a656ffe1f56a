/* td_xfer: how one transfer ended, as facts: what failed, how far the
 * transfer got, and the numbers and constant library texts that say why.
 * The HTTP layer fills it, the scheduler (td_sched) judges what it means
 * for the transfer's group, and td_words words it. Types only: no
 * functions, no I/O, no English. */
#ifndef TD_XFER_H
#define TD_XFER_H

#define TD_XFER_MAX_DETAIL                                                     \
  255 /* bytes of a library's own constant text,                               \
        as libcurl's error buffer holds it */

typedef enum {
  TD_XFER_OK,                /* an HTTP answer came, whole */
  TD_XFER_NO_HOST,           /* the host name did not resolve */
  TD_XFER_NO_PROXY_HOST,     /* the proxy's host name did not resolve */
  TD_XFER_NO_INTERFACE,      /* the connection could not start from the
                                Interface: no such interface or address */
  TD_XFER_REFUSED,           /* the connection was refused */
  TD_XFER_CONNECT_FAILED,    /* another connect error: os_errno, or 0 */
  TD_XFER_TIMEOUT,           /* the transfer's own Timeout ran out */
  TD_XFER_TLS_VERIFY,        /* the certificate failed verification: tls */
  TD_XFER_CA_UNREADABLE,     /* the CA file could not be read */
  TD_XFER_TLS_HANDSHAKE,     /* the handshake failed: detail */
  TD_XFER_HEADERS_TOO_LARGE, /* the answer's header block was refused */
  TD_XFER_RESET,             /* the server reset the connection */
  TD_XFER_CLOSED_EARLY,      /* closed before the answer was complete */
  TD_XFER_BROKEN,            /* another send or receive error: detail */
  TD_XFER_SHORT,             /* the body was shorter than announced */
  TD_XFER_NOTHING,           /* closed without any answer */
  TD_XFER_NOT_HTTP,          /* the answer is not valid HTTP */
  TD_XFER_HTTP2,             /* the HTTP/2 stream or connection failed */
  TD_XFER_STOPPED,           /* the plugin stopped it (body too large) */
  TD_XFER_NOT_STARTED,       /* libcurl could not start the transfer */
  TD_XFER_FILES_LIMIT,       /* no file left for a connection: limit */
  TD_XFER_SETUPS_FULL,       /* no connection setup free in time: limit */
  TD_XFER_OTHER,             /* anything else: detail */
} td_xfer_kind_t;

/* Why a certificate failed verification, from the chain's data. */
typedef enum {
  TD_TLS_UNTRUSTED,  /* nothing more is known */
  TD_TLS_OTHER_NAME, /* issued for another host name */
  TD_TLS_EXPIRED,
  TD_TLS_NOT_YET_VALID,
  TD_TLS_SELF_SIGNED,
  TD_TLS_ISSUER, /* its issuer is not trusted */
} td_tls_reason_t;

/* How far a transfer got. */
typedef enum {
  TD_REACHED_NOTHING, /* no TCP connection */
  TD_REACHED_TCP,     /* connected; TLS not done */
  TD_REACHED_SENT,    /* the connection was ready and the request sent */
  TD_REACHED_STATUS,  /* a status line came */
} td_reached_t;

typedef struct {
  td_xfer_kind_t kind;
  td_reached_t reached;
  double timeout;      /* TD_XFER_TIMEOUT: the Timeout that ran out, seconds */
  int os_errno;        /* TD_XFER_CONNECT_FAILED: errno, or 0 */
  td_tls_reason_t tls; /* TD_XFER_TLS_VERIFY */
  unsigned long limit; /* the limit reached: TD_XFER_FILES_LIMIT's open
                          files, TD_XFER_SETUPS_FULL's setups at once */
  char detail[TD_XFER_MAX_DETAIL + 1]; /* a constant library text, or "" */
} td_xfer_t;

#endif /* TD_XFER_H */
