/*
 * cfg.c - the one configuration loader of every pgfleet program (see cfg.h).
 *
 * pgf_cfg_load fills a program's config struct from its key table in
 * precedence order: the table's defaults, then the INI-style file, then the
 * PGFLEET_* environment, then the command-line flags. argv is scanned twice:
 * first to check the options and find --config (the file must be known
 * before it is read), and last to apply the flags, so that they win.
 *
 * config is an output: pgf_cfg_load does not look at what its string
 * fields held before the call (a config loaded earlier must be released with
 * pgf_cfg_free first). Within one load, a value that replaces another frees
 * the old string.
 */
#include "common/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/timeutil.h"

/* Longest line accepted in a configuration file, in bytes, without the
 * newline. Long enough for any conninfo; longer lines are an error. */
#define CFG_LINE_MAX 16384

/* Prefix of the environment variables, and the one naming the file. */
#define CFG_ENV_PREFIX "PGFLEET_"
#define CFG_ENV_CONFIG "PGFLEET_CONFIG"

/* Room for the "(expected ...)" part of an invalid value message. */
#define CFG_EXPECTED_MAX 512

enum cfg_read {
	CFG_READ_LINE,
	CFG_READ_EOF,
	CFG_READ_TOO_LONG,
	CFG_READ_NUL,
	CFG_READ_ERROR,
};

static void cfg_error(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cfg_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static void *
cfg_field(const struct pgf_cfg_key *key, void *config)
{
	return (char *) config + key->offset;
}

static bool
cfg_bounded(const struct pgf_cfg_key *key)
{
	return key->min != 0 || key->max != 0;
}

/* cfg_append appends formatted text to buf, which holds *used bytes;
 * output that does not fit is cut. */
static void cfg_append(char *buf, size_t size, size_t *used, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
cfg_append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*used += (size_t) n;
	if (*used >= size)
		*used = size - 1;
}

/* cfg_format_duration writes ms exactly, largest unit first ("1h30m",
 * "1s500ms"), in a form pgf_duration_parse reads back. */
static void
cfg_format_duration(long long ms, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = {
		{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	size_t used = 0;

	buf[0] = '\0';
	if (ms <= 0) {
		cfg_append(buf, size, &used, "%lld%s", ms, ms == 0 ? "s" : "ms");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms >= units[i].ms) {
			cfg_append(buf, size, &used, "%lld%s", ms / units[i].ms,
			    units[i].unit);
			ms %= units[i].ms;
		}
	}
}

static bool
cfg_parse_int(const char *text, long long *out)
{
	const char *p = text;
	char *end;
	long long value;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char) *p))
		return false;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return false;
	*out = value;
	return true;
}

static bool
cfg_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* cfg_store_string replaces the string in slot with a copy of value. */
static int
cfg_store_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return PGF_ENOMEM;
	free(*slot);
	*slot = copy;
	return PGF_OK;
}

/*
 * cfg_store parses value as key describes and stores it in config. Returns
 * PGF_OK, PGF_ENOMEM, or PGF_ECONFIG with what was expected ("an integer
 * between 1 and 10") in expected.
 */
static int
cfg_store(const struct pgf_cfg_key *key, void *config, const char *value,
    char *expected, size_t explen)
{
	size_t used = 0;

	switch (key->type) {
	case PGF_CFG_STRING:
		if (key->choices == NULL)
			return cfg_store_string(cfg_field(key, config), value);
		for (size_t i = 0; key->choices[i] != NULL; i++) {
			/* stored as the table spells it */
			if (strcasecmp(value, key->choices[i]) == 0)
				return cfg_store_string(cfg_field(key, config),
				    key->choices[i]);
		}
		cfg_append(expected, explen, &used, "one of: ");
		for (size_t i = 0; key->choices[i] != NULL; i++)
			cfg_append(expected, explen, &used, "%s%s", i > 0 ? ", " : "",
			    key->choices[i]);
		return PGF_ECONFIG;
	case PGF_CFG_INT: {
		long long n;

		if (cfg_parse_int(value, &n) &&
		    (!cfg_bounded(key) || (n >= key->min && n <= key->max))) {
			*(long long *) cfg_field(key, config) = n;
			return PGF_OK;
		}
		if (cfg_bounded(key))
			cfg_append(expected, explen, &used,
			    "an integer between %lld and %lld", key->min, key->max);
		else
			cfg_append(expected, explen, &used, "an integer");
		return PGF_ECONFIG;
	}
	case PGF_CFG_DURATION: {
		int64_t ms;
		char lo[64];
		char hi[64];

		if (!pgf_duration_parse(value, &ms)) {
			cfg_append(expected, explen, &used,
			    "a duration such as 30s, 5m, 1h");
			return PGF_ECONFIG;
		}
		if (cfg_bounded(key) && (ms < key->min || ms > key->max)) {
			cfg_format_duration(key->min, lo, sizeof(lo));
			cfg_format_duration(key->max, hi, sizeof(hi));
			cfg_append(expected, explen, &used,
			    "a duration between %s and %s", lo, hi);
			return PGF_ECONFIG;
		}
		*(int64_t *) cfg_field(key, config) = ms;
		return PGF_OK;
	}
	case PGF_CFG_BOOL:
		if (cfg_parse_bool(value, cfg_field(key, config)))
			return PGF_OK;
		cfg_append(expected, explen, &used, "on or off");
		return PGF_ECONFIG;
	}
	cfg_append(expected, explen, &used, "a key of a known type");
	return PGF_ECONFIG;
}

/*
 * cfg_apply stores value for key, or writes the error into errbuf as
 * "WHERE[:LINE]: invalid value for key ..." (line 0 means no line).
 */
static int
cfg_apply(const struct pgf_cfg_key *key, void *config, const char *value,
    const char *where, long line, char *errbuf, size_t errlen)
{
	char expected[CFG_EXPECTED_MAX];
	int rv;

	expected[0] = '\0';
	rv = cfg_store(key, config, value, expected, sizeof(expected));
	if (rv == PGF_ENOMEM)
		cfg_error(errbuf, errlen, "out of memory");
	else if (rv != PGF_OK && line > 0)
		cfg_error(errbuf, errlen,
		    "%s:%ld: invalid value for key \"%s\": \"%s\" (expected %s)",
		    where, line, key->name, value, expected);
	else if (rv != PGF_OK)
		cfg_error(errbuf, errlen,
		    "%s: invalid value for key \"%s\": \"%s\" (expected %s)", where,
		    key->name, value, expected);
	return rv;
}

static int
cfg_load_defaults(const struct pgf_cfg_key *keys, void *config, char *errbuf,
    size_t errlen)
{
	const struct pgf_cfg_key *key;
	int rv;

	/* config is an output: whatever its strings held is not ours */
	for (key = keys; key->name != NULL; key++) {
		if (key->type == PGF_CFG_STRING)
			*(char **) cfg_field(key, config) = NULL;
	}
	for (key = keys; key->name != NULL; key++) {
		if (key->default_value != NULL || key->type == PGF_CFG_STRING) {
			rv = cfg_apply(key, config,
			    key->default_value != NULL ? key->default_value : "",
			    "default value", 0, errbuf, errlen);
			if (rv != PGF_OK)
				return rv;
		} else if (key->type == PGF_CFG_INT) {
			*(long long *) cfg_field(key, config) = 0;
		} else if (key->type == PGF_CFG_DURATION) {
			*(int64_t *) cfg_field(key, config) = 0;
		} else if (key->type == PGF_CFG_BOOL) {
			*(bool *) cfg_field(key, config) = false;
		}
	}
	return PGF_OK;
}

/* cfg_trim cuts the white space around s in place; returns its start. */
static char *
cfg_trim(char *s)
{
	size_t len;

	while (isspace((unsigned char) *s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		s[--len] = '\0';
	return s;
}

/*
 * cfg_read_line reads one line of fp, without its newline, into buf (size
 * CFG_LINE_MAX + 1 bytes).
 */
static enum cfg_read
cfg_read_line(FILE *fp, char *buf)
{
	size_t len = 0;
	bool nul = false;
	int c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (len == CFG_LINE_MAX)
			return CFG_READ_TOO_LONG;
		if (c == '\0')
			nul = true;
		buf[len++] = (char) c;
	}
	buf[len] = '\0';
	if (c == EOF && ferror(fp))
		return CFG_READ_ERROR;
	if (c == EOF && len == 0)
		return CFG_READ_EOF;
	return nul ? CFG_READ_NUL : CFG_READ_LINE;
}

/* cfg_key_is says whether key is named section.name ("name" when section is
 * empty). */
static bool
cfg_key_is(const struct pgf_cfg_key *key, const char *section,
    const char *name)
{
	size_t slen = strlen(section);

	if (slen == 0)
		return strcmp(key->name, name) == 0;
	return strncmp(key->name, section, slen) == 0 && key->name[slen] == '.' &&
	    strcmp(key->name + slen + 1, name) == 0;
}

/*
 * cfg_parse_line handles one line of the file: a comment, a [section] (kept
 * in section, CFG_LINE_MAX + 1 bytes) or key = value.
 */
static int
cfg_parse_line(const struct pgf_cfg_key *keys, void *config, const char *path,
    long lineno, char *line, char *section, char *errbuf, size_t errlen)
{
	const struct pgf_cfg_key *key;
	char *text = cfg_trim(line);
	char *eq;
	char *name;
	char *value;
	size_t len;

	if (text[0] == '\0' || text[0] == '#' || text[0] == ';')
		return PGF_OK;
	if (text[0] == '[') {
		len = strlen(text);
		if (len < 2 || text[len - 1] != ']')
			goto syntax;
		text[len - 1] = '\0';
		name = cfg_trim(text + 1);
		if (name[0] == '\0')
			goto syntax;
		memmove(section, name, strlen(name) + 1);
		return PGF_OK;
	}
	eq = strchr(text, '=');
	if (eq == NULL)
		goto syntax;
	*eq = '\0';
	name = cfg_trim(text);
	value = cfg_trim(eq + 1);
	if (name[0] == '\0')
		goto syntax;
	if (value[0] == '"') {
		len = strlen(value);
		if (len < 2 || value[len - 1] != '"') {
			cfg_error(errbuf, errlen,
			    "%s:%ld: syntax error: unterminated quoted value", path,
			    lineno);
			return PGF_ECONFIG;
		}
		value[len - 1] = '\0';
		value++;
	}
	for (key = keys; key->name != NULL; key++) {
		if (cfg_key_is(key, section, name))
			return cfg_apply(key, config, value, path, lineno, errbuf,
			    errlen);
	}
	cfg_error(errbuf, errlen, "%s:%ld: unknown key \"%s%s%s\"", path, lineno,
	    section, section[0] != '\0' ? "." : "", name);
	return PGF_ECONFIG;

syntax:
	if (text[0] == '[')
		cfg_error(errbuf, errlen,
		    "%s:%ld: syntax error: expected \"[section]\"", path, lineno);
	else
		cfg_error(errbuf, errlen,
		    "%s:%ld: syntax error: expected \"key = value\"", path, lineno);
	return PGF_ECONFIG;
}

static int
cfg_load_file(const struct pgf_cfg_key *keys, void *config, const char *path,
    char *errbuf, size_t errlen)
{
	FILE *fp = NULL;
	char *line = NULL;
	char *section = NULL;
	long lineno = 0;
	int rv;

	fp = fopen(path, "re");
	if (fp == NULL) {
		cfg_error(errbuf, errlen,
		    "could not open configuration file \"%s\": %s", path,
		    strerror(errno));
		rv = PGF_ECONFIG;
		goto fail;
	}
	line = malloc(CFG_LINE_MAX + 1);
	section = malloc(CFG_LINE_MAX + 1);
	if (line == NULL || section == NULL) {
		cfg_error(errbuf, errlen, "out of memory");
		rv = PGF_ENOMEM;
		goto fail;
	}
	section[0] = '\0';
	for (;;) {
		enum cfg_read got = cfg_read_line(fp, line);
		char *text = line;

		lineno++;
		if (got == CFG_READ_EOF)
			break;
		rv = PGF_ECONFIG;
		if (got == CFG_READ_ERROR) {
			cfg_error(errbuf, errlen,
			    "could not read configuration file \"%s\": %s", path,
			    strerror(errno));
			goto fail;
		}
		if (got == CFG_READ_TOO_LONG) {
			cfg_error(errbuf, errlen,
			    "%s:%ld: line is too long (more than %d bytes)", path,
			    lineno, CFG_LINE_MAX);
			goto fail;
		}
		if (got == CFG_READ_NUL) {
			cfg_error(errbuf, errlen,
			    "%s:%ld: syntax error: unexpected NUL byte", path, lineno);
			goto fail;
		}
		/* a UTF-8 byte order mark, as some editors write */
		if (lineno == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
			text += 3;
		rv = cfg_parse_line(keys, config, path, lineno, text, section,
		    errbuf, errlen);
		if (rv != PGF_OK)
			goto fail;
	}
	rv = PGF_OK;

fail:
	free(section);
	free(line);
	if (fp != NULL)
		fclose(fp);
	return rv;
}

static int
cfg_load_env(const struct pgf_cfg_key *keys, void *config, char *errbuf,
    size_t errlen)
{
	static const char where_prefix[] = "environment variable ";
	const size_t skip = sizeof(where_prefix) - 1 + strlen(CFG_ENV_PREFIX);
	const struct pgf_cfg_key *key;
	size_t longest = 0;
	char *where = NULL;
	int rv = PGF_OK;

	for (key = keys; key->name != NULL; key++) {
		if (strlen(key->name) > longest)
			longest = strlen(key->name);
	}
	/* "environment variable PGFLEET_KEY", the variable's name at its end */
	where = malloc(skip + longest + 1);
	if (where == NULL) {
		cfg_error(errbuf, errlen, "out of memory");
		rv = PGF_ENOMEM;
		goto fail;
	}
	memcpy(where, where_prefix, sizeof(where_prefix) - 1);
	memcpy(where + sizeof(where_prefix) - 1, CFG_ENV_PREFIX,
	    strlen(CFG_ENV_PREFIX));
	for (key = keys; key->name != NULL; key++) {
		size_t len = strlen(key->name);
		const char *value;

		for (size_t i = 0; i < len; i++) {
			char c = key->name[i];

			where[skip + i] = (c == '.' || c == '-') ? '_' :
			    (char) toupper((unsigned char) c);
		}
		where[skip + len] = '\0';
		value = getenv(where + sizeof(where_prefix) - 1);
		if (value == NULL)
			continue;
		rv = cfg_apply(key, config, value, where, 0, errbuf, errlen);
		if (rv != PGF_OK)
			goto fail;
	}

fail:
	free(where);
	return rv;
}

/* cfg_flag_is compares a flag name (len bytes) with a key name, '-' and '_'
 * being the same. */
static bool
cfg_flag_is(const char *keyname, const char *flag, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char k = keyname[i];
		char f = flag[i];

		if (k == '\0')
			return false;
		if (k == '-')
			k = '_';
		if (f == '-')
			f = '_';
		if (k != f)
			return false;
	}
	return keyname[len] == '\0';
}

/*
 * cfg_scan_args walks argv as pgf_cfg_load describes. With apply false it
 * only checks the options and finds --config (in *config_path); with apply
 * true it also stores the keys' values in config. *first_arg receives the
 * index of the first argument not consumed (of the bad one on error).
 */
static int
cfg_scan_args(const struct pgf_cfg_key *keys, void *config, int argc,
    char **argv, bool apply, const char **config_path, int *first_arg,
    char *errbuf, size_t errlen)
{
	int i = 1;
	int rv = PGF_OK;

	while (i < argc) {
		const struct pgf_cfg_key *key = NULL;
		const char *arg = argv[i];
		const char *name;
		const char *eq;
		const char *value;
		size_t len;

		if (arg == NULL || strncmp(arg, "--", 2) != 0)
			break;
		if (arg[2] == '\0') {
			i++;
			break;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t) (eq - name) : strlen(name);
		value = eq != NULL ? eq + 1 : NULL;
		if (!cfg_flag_is("config", name, len)) {
			for (key = keys; key->name != NULL; key++) {
				if (cfg_flag_is(key->name, name, len))
					break;
			}
			if (key->name == NULL) {
				cfg_error(errbuf, errlen,
				    "command line: unknown option \"--%.*s\"", (int) len,
				    name);
				rv = PGF_ECONFIG;
				break;
			}
		}
		if (value == NULL && key != NULL && key->type == PGF_CFG_BOOL) {
			/* a bare --key never takes the next argument */
			value = "on";
		} else if (value == NULL) {
			if (i + 1 >= argc || argv[i + 1] == NULL) {
				cfg_error(errbuf, errlen,
				    "command line: option \"--%.*s\" needs a value",
				    (int) len, name);
				rv = PGF_ECONFIG;
				break;
			}
			value = argv[++i];
		}
		if (key == NULL)
			*config_path = value;
		else if (apply) {
			rv = cfg_apply(key, config, value, "command line", 0, errbuf,
			    errlen);
			if (rv != PGF_OK)
				break;
		}
		i++;
	}
	if (i > argc)
		i = argc;
	if (first_arg != NULL)
		*first_arg = i;
	return rv;
}

int
pgf_cfg_load(const struct pgf_cfg_key *keys, void *config, int argc,
    char **argv, int *first_arg, char *errbuf, size_t errlen)
{
	const char *path = NULL;
	int rv;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	rv = cfg_load_defaults(keys, config, errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	rv = cfg_scan_args(keys, config, argc, argv, false, &path, first_arg,
	    errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if (path == NULL) {
		path = getenv(CFG_ENV_CONFIG);
		if (path != NULL && path[0] == '\0')
			path = NULL;
	}
	if (path != NULL) {
		rv = cfg_load_file(keys, config, path, errbuf, errlen);
		if (rv != PGF_OK)
			return rv;
	}
	rv = cfg_load_env(keys, config, errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	return cfg_scan_args(keys, config, argc, argv, true, &path, NULL, errbuf,
	    errlen);
}

void
pgf_cfg_free(const struct pgf_cfg_key *keys, void *config)
{
	for (const struct pgf_cfg_key *key = keys; key->name != NULL; key++) {
		if (key->type == PGF_CFG_STRING) {
			char **slot = cfg_field(key, config);

			free(*slot);
			*slot = NULL;
		}
	}
}

/* cfg_size is the size of a key's field in the config struct. */
static size_t
cfg_size(const struct pgf_cfg_key *key)
{
	switch (key->type) {
	case PGF_CFG_STRING:
		return sizeof(char *);
	case PGF_CFG_INT:
		return sizeof(long long);
	case PGF_CFG_DURATION:
		return sizeof(int64_t);
	case PGF_CFG_BOOL:
	default:
		return sizeof(bool);
	}
}

int
pgf_cfg_reload(const struct pgf_cfg_key *keys, void *current, void *fresh,
    char *needs_restart, size_t len)
{
	size_t used = 0;
	int changed = 0;

	if (len > 0)
		needs_restart[0] = '\0';
	for (const struct pgf_cfg_key *key = keys; key->name != NULL; key++) {
		char *now = cfg_field(key, current);
		char *next = cfg_field(key, fresh);
		size_t size = cfg_size(key);
		bool differs;

		if (key->type == PGF_CFG_STRING) {
			const char *a = *(char **) (void *) now;
			const char *b = *(char **) (void *) next;
			differs = strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
		} else {
			differs = memcmp(now, next, size) != 0;
		}
		if (!differs)
			continue;
		if (key->reloadable) {
			unsigned char swap[sizeof(long long)];
			memcpy(swap, now, size);
			memcpy(now, next, size);
			memcpy(next, swap, size);
			changed++;
		} else {
			cfg_append(needs_restart, len, &used, "%s%s", used > 0 ? ", " : "",
			    key->name);
		}
	}
	return changed;
}

/* cfg_default_text is the default shown by --help, or NULL for none. */
static const char *
cfg_default_text(const struct pgf_cfg_key *key)
{
	if (key->default_value != NULL)
		return key->default_value[0] != '\0' ? key->default_value : NULL;
	if (key->type == PGF_CFG_BOOL)
		return "off";
	if (key->type == PGF_CFG_INT || key->type == PGF_CFG_DURATION)
		return "0";
	return NULL;
}

void
pgf_cfg_print_help(const struct pgf_cfg_key *keys, FILE *out)
{
	const struct pgf_cfg_key *key;
	size_t width = 0;

	for (key = keys; key->name != NULL; key++) {
		size_t len = strlen(key->name);

		if (len > width)
			width = len;
	}
	for (key = keys; key->name != NULL; key++) {
		const char *help = key->help != NULL ? key->help : "";
		const char *def = cfg_default_text(key);
		int pad = (int) (width - strlen(key->name));

		fprintf(out, "  --%s=VALUE", key->name);
		if (help[0] != '\0' || def != NULL)
			fprintf(out, "%*s", pad + 2, "");
		if (help[0] != '\0')
			fprintf(out, "%s%s", help, def != NULL ? " " : "");
		if (def != NULL)
			fprintf(out, "(default: %s)", def);
		fputc('\n', out);
	}
}
