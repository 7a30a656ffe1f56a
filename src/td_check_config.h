/* td_check_config: telemetrydeck-check --config FILE, the pre-flight of a
 * collectd configuration: reads FILE and its Includes (td_conf parses),
 * hands every <Account> of every <Plugin telemetrydeck> block to the
 * plugin's own settings code under the plugin's option names, polls each
 * usable account once, all at the same time, and prints one line per
 * account. Never prints a token. */
#ifndef TD_CHECK_CONFIG_H
#define TD_CHECK_CONFIG_H

/* Runs the pre-flight of path and returns the exit status: the worst of
 * the accounts' (td_nagios_worse), UNKNOWN for a file that cannot be read
 * or parsed, or that holds no account. verbose adds each account's URL
 * and where its token comes from. curl_global_init is the caller's. */
int td_check_config(const char *path, int verbose);

/* telemetrydeck-check's main when its command line holds --config FILE
 * (or --config=FILE), with --verbose at most beside it: runs
 * td_check_config between curl_global_init and curl_global_cleanup and
 * returns the exit status. Returns -1 when there is no --config. */
int td_check_config_main(int argc, char **argv);

#endif /* TD_CHECK_CONFIG_H */
