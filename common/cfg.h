/*
 * cfg.h - one configuration format and one loader for all pgfleet programs.
 *
 * Each program describes its settings in a table of pgf_cfg_key rows (name,
 * type, place in the program's config struct, default, bounds, help) and
 * calls pgf_cfg_load once. The file format is INI-style, as pgbouncer and
 * pg_service.conf use:
 *
 *     # comment            ; comment
 *     key = value
 *     key = "value with leading or trailing spaces"
 *     [section]            keys below are named "section.key"
 *
 * Precedence, lowest first: the table's defaults < the file given by
 * --config PATH (or $PGFLEET_CONFIG) < $PGFLEET_<KEY> in the environment
 * (key upper-cased, '.' and '-' turned into '_') < command-line flags
 * --key=value or --key value. Every error is one line naming the file, the
 * line and the key, e.g.
 *
 *     agent.conf:12: unknown key "intervall"
 *     agent.conf:3: invalid value for key "interval": "abc" (expected a duration such as 30s, 5m, 1h)
 *     could not open configuration file "x.conf": No such file or directory
 *     environment variable PGFLEET_INTERVAL: invalid value for key "interval": "x" (...)
 *     command line: unknown option "--intervall"
 */
#ifndef PGFLEET_COMMON_CFG_H
#define PGFLEET_COMMON_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

enum pgf_cfg_type {
	/* char * in the struct, malloc'd by the loader (never NULL after a
	 * successful load: an unset string is ""). */
	PGF_CFG_STRING,
	/* long long in the struct, within [min, max]. */
	PGF_CFG_INT,
	/* int64_t milliseconds in the struct, within [min, max] (ms). Text
	 * accepted: pgf_duration_parse (e.g. "500ms", "30s", "1h02m"; a bare
	 * number is seconds). */
	PGF_CFG_DURATION,
	/* bool in the struct; on/off, true/false, yes/no, 1/0. */
	PGF_CFG_BOOL,
};

struct pgf_cfg_key {
	/* "interval", or "section.key" for keys in a [section]. */
	const char *name;
	enum pgf_cfg_type type;
	/* offsetof(struct program_config, field) */
	size_t offset;
	/* Default as text, parsed like a value from the file; NULL means ""
	 * for strings, 0 or false otherwise. */
	const char *default_value;
	/* Bounds for INT and DURATION; when min == max == 0, unbounded. */
	long long min;
	long long max;
	/* STRING only: NULL-terminated list of the allowed values, or NULL. */
	const char *const *choices;
	/* Takes effect on SIGHUP without a restart. */
	bool reloadable;
	/* One line for --help and the sample configuration. */
	const char *help;
};
/* A key table ends with a row whose name is NULL. */

/*
 * pgf_cfg_load fills config, a struct described by keys, from the defaults,
 * the file, the environment and argv (see the precedence above).
 *
 * argv is read from argv[1]: "--config PATH" / "--config=PATH" and the keys
 * as "--key value" / "--key=value" (a BOOL key also accepts a bare
 * "--key", meaning true). Reading stops at the first argument that does not
 * start with "--", or after "--"; *first_arg receives the index of the first
 * argument not consumed (argc when all were). An option that is not a key is
 * an error. --help and --version are not handled here.
 *
 * Returns PGF_OK, or PGF_ECONFIG with one line (no trailing newline) in
 * errbuf; on error, strings already loaded stay in config and are released
 * by pgf_cfg_free. Does not block beyond reading the file.
 */
int pgf_cfg_load(const struct pgf_cfg_key *keys, void *config, int argc,
    char **argv, int *first_arg, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* pgf_cfg_free frees the strings pgf_cfg_load stored in config and sets them
 * to NULL. Safe to call twice. */
void pgf_cfg_free(const struct pgf_cfg_key *keys, void *config);

/*
 * pgf_cfg_reload applies a freshly loaded configuration (SIGHUP): the
 * values of reloadable keys that differ move from fresh into current
 * (current's old values go to fresh, so pgf_cfg_free(fresh) frees them);
 * keys that need a restart keep their current value and are listed,
 * comma-separated, in needs_restart. Returns how many keys changed. Pure.
 */
int pgf_cfg_reload(const struct pgf_cfg_key *keys, void *current, void *fresh,
    char *needs_restart, size_t len);

/* pgf_cfg_print_help writes one line per key ("  --name=VALUE  help
 * (default: x)") to out. */
void pgf_cfg_print_help(const struct pgf_cfg_key *keys, FILE *out);

#endif
