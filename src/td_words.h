/* td_words: the one place where verdicts become English, for every
 * audience: collectd's log and notifications (with the account's name)
 * and telemetrydeck-check's status line (without one). Also names each
 * notification kind as collectd's type and type instance. Text from the
 * network passes through td_text_clean here. No I/O. */
#ifndef TD_WORDS_H
#define TD_WORDS_H

#include <stddef.h>

#include "td_conf.h"
#include "td_file.h"
#include "td_json.h"
#include "td_orgstate.h"
#include "td_settings.h"
#include "td_state.h"
#include "td_token.h"
#include "td_url.h"
#include "td_verdict.h"
#include "td_xfer.h"

/* Why a transfer failed, in words an operator can act on ("connection
 * refused", "timeout after 4 s"); a library's own text is cut at a word
 * and cleaned. */
void td_words_xfer(const td_xfer_t *x, char *dst, size_t size);

/* A short constant phrase for a parse status ("the body is empty"). */
const char *td_words_json(td_json_status_t s);

/* A short constant phrase for a configuration syntax error ("a quoted
 * string does not end"). */
const char *td_words_conf(td_conf_status_t s);

/* collectd type and type instance of a notification kind. */
const char *td_words_note_type(td_note_kind_t kind);
const char *td_words_note_type_instance(td_note_kind_t kind);

/* A notification's message, e.g. "Account "main": TelemetryDeck rejected
 * the token with HTTP 401 (User not authenticated.): it was revoked or has
 * expired." pol gives the account's name and settings. */
void td_words_note(const td_policy_t *pol, const td_note_t *n, char *dst,
                   size_t size);

/* Why a token was rejected (a TD_EV_TOKEN_REJECTED note), as it would
 * follow "it" or "the token": "expired on DATE", "was revoked before
 * OPTION (DATE)" or "was revoked or has expired"; "" for a 402 or a 403,
 * whose problem (td_words_problem) already says why. option names the
 * expiry setting of the audience (TokenExpires, --expires). */
void td_words_rejection(const td_note_t *n, const char *option, char *dst,
                        size_t size);

/* A poll's problem without the account's name, e.g. "the API answered
 * HTTP 503"; "" for TD_PROBLEM_NONE. */
void td_words_problem(const td_policy_t *pol, const td_problem_t *pr,
                      char *dst, size_t size);

/* Words a step for the plugin: every note's message, and log (with
 * log_is_problem) when the step's problem is to be logged, as
 * "account "NAME": PROBLEM" or "account "NAME": polls succeed again (HTTP
 * 200)". */
void td_words_step(const td_policy_t *pol, td_step_t *out);

/* Words an organizations step: every note's message. */
void td_words_orgstate_step(const td_policy_t *pol, td_orgstate_step_t *out);

/* The log lines of an organizations step: its problem ("" when none) and
 * the organizations left out ("" when none). */
void td_words_orgs_problem(const td_policy_t *pol,
                           const td_orgstate_step_t *out, char *dst,
                           size_t size);
void td_words_orgs_left_out(const td_policy_t *pol,
                            const td_orgstate_step_t *out, char *dst,
                            size_t size);

/* The UsageScale self-check's log line ("" when it has nothing to say),
 * naming the organization, its usage as read and the option. */
void td_words_orgs_scale(const td_policy_t *pol, const td_orgstate_step_t *out,
                         char *dst, size_t size);

/* Why a token cannot be used, without a final period. file_noun names
 * the file ("TokenFile \"/etc/x\"", "the token file"), token_noun the
 * token ("option Token", "the token"). */
void td_words_token(td_token_status_t st, const td_token_t *t,
                    const char *file_noun, const char *token_noun, char *dst,
                    size_t size);

/* Who else could change a token file (td_token_file_trust), e.g.
 * "TokenFile "/x" has mode 0666: group or others can write it and change
 * the token; chmod 600 it", without a final period; "" when nobody.
 * euid is the reading user's. */
void td_words_token_trust(td_token_trust_t tr, const td_token_t *t, uid_t euid,
                          const char *file_noun, char *dst, size_t size);

/* Why a file (CACert, --ca-cert) is refused, e.g. "is not a regular
 * file", "is larger than 1048576 bytes", "cannot be opened: ...". */
void td_words_file(td_file_status_t st, const td_file_info_t *info,
                   size_t max, char *dst, size_t size);

/* Why a URL or a Proxy value is refused, e.g. "only http and https URLs
 * are allowed"; plaintext_option names the setting that allows plain
 * http ("AllowPlaintext true", "--allow-plaintext"). Never quotes the URL,
 * which may hold a password. */
void td_words_url(td_url_status_t st, const char *plaintext_option, char *dst,
                  size_t size);

/* Why a setting is refused, or what its warning is, for the front end
 * the error came from, without the account and without a final period:
 * "option Timeout 2 is longer than the interval (1 s)" for the plugin,
 * "--timeout must be positive" for the check. */
void td_words_setting(const td_set_error_t *e, char *dst, size_t size);

/* A token file others may read, e.g. "TokenFile "/etc/x" has mode 0644
 * and is readable by group or others; chmod 600 it". */
void td_words_file_mode(const char *file_noun, unsigned mode, char *dst,
                        size_t size);

/* The note for a token without the "tdpat_" prefix. */
void td_words_token_prefix(char *dst, size_t size);

/* An epoch date as "YYYY-MM-DDTHH:MM:SSZ", or "an unknown date". */
void td_words_date(double epoch, char *dst, size_t size);

/* The token's expiry date when, for a line that goes on: "the token
 * expired on DATE" when expired, else "the token expires in 6.5 days
 * (DATE)"; no final period. The plugin's notifications say the same. */
void td_words_token_expiry(int expired, double days, double when, char *dst,
                           size_t size);

/* An error of the <Account> blocks; shown: the name (or the option) as
 * td_text_clean made it fit to show. No final period. */
void td_words_account(td_account_error_t e, const char *shown, char *dst,
                      size_t size);

#endif /* TD_WORDS_H */
