/* test_cfg.c - the configuration loader: file, environment, flags, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cfg.h"

struct test_config {
	char *name;
	char *conninfo;
	char *log_level;
	long long port;
	long long count;
	int64_t interval;
	int64_t timeout;
	bool verbose;
	bool enabled;
	long long retry_limit;
	char *db_host;
	long long db_port;
};

static const char *const test_levels[] = {"debug", "info", "warning", "error",
	NULL};

#define KEY(field) offsetof(struct test_config, field)

static const struct pgf_cfg_key test_keys[] = {
	{"name", PGF_CFG_STRING, KEY(name), NULL, 0, 0, NULL, false,
	    "instance name"},
	{"conninfo", PGF_CFG_STRING, KEY(conninfo), "dbname=postgres", 0, 0, NULL,
	    false, "libpq connection string"},
	{"log_level", PGF_CFG_STRING, KEY(log_level), "info", 0, 0, test_levels,
	    true, "debug, info, warning or error"},
	{"port", PGF_CFG_INT, KEY(port), "5432", 1, 65535, NULL, false,
	    "server port"},
	{"count", PGF_CFG_INT, KEY(count), NULL, 0, 0, NULL, false, "a count"},
	{"interval", PGF_CFG_DURATION, KEY(interval), "60s", 1000, 86400000, NULL,
	    true, "collection interval"},
	{"timeout", PGF_CFG_DURATION, KEY(timeout), NULL, 0, 0, NULL, false,
	    "a timeout"},
	{"verbose", PGF_CFG_BOOL, KEY(verbose), NULL, 0, 0, NULL, true,
	    "say more"},
	{"enabled", PGF_CFG_BOOL, KEY(enabled), "on", 0, 0, NULL, false,
	    "switched on"},
	{"retry-limit", PGF_CFG_INT, KEY(retry_limit), "3", 0, 10, NULL, false,
	    "retries"},
	{"db.host", PGF_CFG_STRING, KEY(db_host), "localhost", 0, 0, NULL, false,
	    "database host"},
	{"db.port", PGF_CFG_INT, KEY(db_port), "5432", 1, 65535, NULL, false,
	    "database port"},
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};

static const char *const test_env_names[] = {
	"PGFLEET_CONFIG", "PGFLEET_NAME", "PGFLEET_CONNINFO", "PGFLEET_LOG_LEVEL",
	"PGFLEET_PORT", "PGFLEET_COUNT", "PGFLEET_INTERVAL", "PGFLEET_TIMEOUT",
	"PGFLEET_VERBOSE", "PGFLEET_ENABLED", "PGFLEET_RETRY_LIMIT",
	"PGFLEET_DB_HOST", "PGFLEET_DB_PORT",
};

/* One test's state: the config, a temporary file and the error text. */
struct fixture {
	struct test_config config;
	char path[64];
	char err[1024];
	char want[1024];
	int first_arg;
};

static void
clear_env(void)
{
	for (size_t i = 0; i < sizeof(test_env_names) / sizeof(test_env_names[0]);
	    i++)
		unsetenv(test_env_names[i]);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	clear_env();
	f->first_arg = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pgf_cfg_free(test_keys, &f->config);
	if (f->path[0] != '\0')
		unlink(f->path);
	clear_env();
	free(f);
	return 0;
}

/* write_file puts text in a new temporary file named in f->path. */
static void
write_file(struct fixture *f, const char *text)
{
	int fd;
	size_t len = strlen(text);

	if (f->path[0] != '\0')
		unlink(f->path);
	snprintf(f->path, sizeof(f->path), "/tmp/test_cfg_XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t) len);
	assert_int_equal(close(fd), 0);
}

static int
load(struct fixture *f, int argc, char **argv)
{
	return pgf_cfg_load(test_keys, &f->config, argc, argv, &f->first_arg,
	    f->err, sizeof(f->err));
}

/* load_file loads f->path (after write_file) with no other flags. */
static int
load_file(struct fixture *f)
{
	char *argv[] = {"prog", "--config", f->path, NULL};

	return load(f, 3, argv);
}

/* expect_file_error loads text as the file and checks the error, whose
 * "%s" is the file's path. */
static void
expect_file_error(struct fixture *f, const char *text, const char *format)
{
	write_file(f, text);
	assert_int_equal(load_file(f), PGF_ECONFIG);
	snprintf(f->want, sizeof(f->want), format, f->path);
	assert_string_equal(f->err, f->want);
	pgf_cfg_free(test_keys, &f->config);
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", NULL};

	assert_int_equal(load(f, 1, argv), PGF_OK);
	assert_string_equal(f->err, "");
	assert_int_equal(f->first_arg, 1);
	assert_non_null(f->config.name);
	assert_string_equal(f->config.name, "");
	assert_string_equal(f->config.conninfo, "dbname=postgres");
	assert_string_equal(f->config.log_level, "info");
	assert_int_equal(f->config.port, 5432);
	assert_int_equal(f->config.count, 0);
	assert_int_equal(f->config.interval, 60000);
	assert_int_equal(f->config.timeout, 0);
	assert_false(f->config.verbose);
	assert_true(f->config.enabled);
	assert_int_equal(f->config.retry_limit, 3);
	assert_string_equal(f->config.db_host, "localhost");
	assert_int_equal(f->config.db_port, 5432);
}

static void
test_file_format(void **state)
{
	struct fixture *f = *state;

	write_file(f,
	    "# a comment\n"
	    "; another comment\n"
	    "\n"
	    "   name   =   alpha   \n"
	    "conninfo = \"  host=db1 port=5433  \"\n"
	    "log_level=WARNING\n"
	    "port = 1000\n"
	    "port = 2000\n"
	    "count = -42\n"
	    "interval = 1h02m\n"
	    "timeout = 500ms\n"
	    "verbose = yes\n"
	    "enabled = FALSE\n"
	    "retry-limit = 0\n"
	    "\t# indented comment\r\n"
	    "[db]\r\n"
	    "host = db.example.com\r\n"
	    "port = 6432");
	assert_int_equal(load_file(f), PGF_OK);
	assert_string_equal(f->config.name, "alpha");
	assert_string_equal(f->config.conninfo, "  host=db1 port=5433  ");
	assert_string_equal(f->config.log_level, "warning");
	assert_int_equal(f->config.port, 2000);
	assert_int_equal(f->config.count, -42);
	assert_int_equal(f->config.interval, 3720000);
	assert_int_equal(f->config.timeout, 500);
	assert_true(f->config.verbose);
	assert_false(f->config.enabled);
	assert_int_equal(f->config.retry_limit, 0);
	assert_string_equal(f->config.db_host, "db.example.com");
	assert_int_equal(f->config.db_port, 6432);
	assert_int_equal(f->first_arg, 3);
}

static void
test_file_quotes_and_empty(void **state)
{
	struct fixture *f = *state;

	write_file(f,
	    "name = \"\"\n"
	    "conninfo =\n"
	    "db.host = \"a \"quoted\" word\"\n"
	    "[ db ]\n"
	    "port = \"7000\"\n");
	assert_int_equal(load_file(f), PGF_OK);
	assert_string_equal(f->config.name, "");
	assert_string_equal(f->config.conninfo, "");
	assert_string_equal(f->config.db_host, "a \"quoted\" word");
	assert_int_equal(f->config.db_port, 7000);
	/* the top-level port is untouched by the section's */
	assert_int_equal(f->config.port, 5432);
}

static void
test_file_bools(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
		{"verbose = on\n", true}, {"verbose = off\n", false},
		{"verbose = true\n", true}, {"verbose = no\n", false},
		{"verbose = 1\n", true}, {"verbose = 0\n", false},
		{"verbose = On\n", true}, {"verbose = YES\n", true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(f, cases[i].text);
		assert_int_equal(load_file(f), PGF_OK);
		assert_int_equal(f->config.verbose, cases[i].value);
		pgf_cfg_free(test_keys, &f->config);
	}
}

static void
test_unknown_key(void **state)
{
	struct fixture *f = *state;

	expect_file_error(f, "# header\nport = 5\n  intervall = 30s\n",
	    "%s:3: unknown key \"intervall\"");
	expect_file_error(f, "[db]\nhost = x\nnope = 1\n",
	    "%s:3: unknown key \"db.nope\"");
	/* a top-level key inside a section is not that key */
	expect_file_error(f, "[db]\nname = x\n", "%s:2: unknown key \"db.name\"");
	/* dashes and underscores are the same only in flags */
	expect_file_error(f, "log-level = info\n",
	    "%s:1: unknown key \"log-level\"");
}

static void
test_bad_values(void **state)
{
	struct fixture *f = *state;

	expect_file_error(f, "port = abc\n",
	    "%s:1: invalid value for key \"port\": \"abc\" "
	    "(expected an integer between 1 and 65535)");
	expect_file_error(f, "\nport = 70000\n",
	    "%s:2: invalid value for key \"port\": \"70000\" "
	    "(expected an integer between 1 and 65535)");
	expect_file_error(f, "port = 0\n",
	    "%s:1: invalid value for key \"port\": \"0\" "
	    "(expected an integer between 1 and 65535)");
	expect_file_error(f, "port = 12x\n",
	    "%s:1: invalid value for key \"port\": \"12x\" "
	    "(expected an integer between 1 and 65535)");
	expect_file_error(f, "count = 99999999999999999999\n",
	    "%s:1: invalid value for key \"count\": \"99999999999999999999\" "
	    "(expected an integer)");
	expect_file_error(f, "count =\n",
	    "%s:1: invalid value for key \"count\": \"\" (expected an integer)");
	expect_file_error(f, "verbose = maybe\n",
	    "%s:1: invalid value for key \"verbose\": \"maybe\" "
	    "(expected on or off)");
	expect_file_error(f, "interval = abc\n",
	    "%s:1: invalid value for key \"interval\": \"abc\" "
	    "(expected a duration such as 30s, 5m, 1h)");
	expect_file_error(f, "interval = 500ms\n",
	    "%s:1: invalid value for key \"interval\": \"500ms\" "
	    "(expected a duration between 1s and 1d)");
	expect_file_error(f, "interval = 2d\n",
	    "%s:1: invalid value for key \"interval\": \"2d\" "
	    "(expected a duration between 1s and 1d)");
	expect_file_error(f, "log_level = loud\n",
	    "%s:1: invalid value for key \"log_level\": \"loud\" "
	    "(expected one of: debug, info, warning, error)");
	expect_file_error(f, "[db]\nport = -1\n",
	    "%s:2: invalid value for key \"db.port\": \"-1\" "
	    "(expected an integer between 1 and 65535)");
}

static void
test_bounds_inclusive(void **state)
{
	struct fixture *f = *state;

	write_file(f, "port = 1\ninterval = 1s\nretry-limit = 10\n");
	assert_int_equal(load_file(f), PGF_OK);
	assert_int_equal(f->config.port, 1);
	assert_int_equal(f->config.interval, 1000);
	assert_int_equal(f->config.retry_limit, 10);
	pgf_cfg_free(test_keys, &f->config);
	write_file(f, "port = 65535\ninterval = 24h\ntimeout = 30d\n");
	assert_int_equal(load_file(f), PGF_OK);
	assert_int_equal(f->config.port, 65535);
	assert_int_equal(f->config.interval, 86400000);
	/* unbounded */
	assert_int_equal(f->config.timeout, 30LL * 86400000);
}

static void
test_syntax_errors(void **state)
{
	struct fixture *f = *state;

	expect_file_error(f, "port = 1\njust some words\n",
	    "%s:2: syntax error: expected \"key = value\"");
	expect_file_error(f, " = value\n",
	    "%s:1: syntax error: expected \"key = value\"");
	expect_file_error(f, "[db\nport = 1\n",
	    "%s:1: syntax error: expected \"[section]\"");
	expect_file_error(f, "[ ]\n", "%s:1: syntax error: expected \"[section]\"");
	expect_file_error(f, "name = \"unterminated\n",
	    "%s:1: syntax error: unterminated quoted value");
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--config=/nonexistent/pgfleet-test.conf", NULL};

	assert_int_equal(load(f, 2, argv), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "could not open configuration file "
	    "\"/nonexistent/pgfleet-test.conf\": No such file or directory");
	pgf_cfg_free(test_keys, &f->config);

	/* a directory opens, but does not read */
	argv[1] = "--config=/";
	assert_int_equal(load(f, 2, argv), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "could not read configuration file \"/\": Is a directory");
}

static void
test_long_lines(void **state)
{
	struct fixture *f = *state;
	size_t n = 12000;
	char *text = malloc(n + 64);
	char *value = malloc(n + 1);

	assert_non_null(text);
	assert_non_null(value);
	memset(value, 'x', n);
	value[n] = '\0';
	snprintf(text, n + 64, "conninfo = %s\nport = 7\n", value);
	write_file(f, text);
	assert_int_equal(load_file(f), PGF_OK);
	assert_string_equal(f->config.conninfo, value);
	assert_int_equal(f->config.port, 7);
	pgf_cfg_free(test_keys, &f->config);
	free(text);
	free(value);

	/* longer than the limit: an error, never a cut value */
	n = 20000;
	text = malloc(n + 64);
	assert_non_null(text);
	memcpy(text, "port = 1\nconninfo = ", 20);
	memset(text + 20, 'y', n);
	strcpy(text + 20 + n, "\n");
	expect_file_error(f, text,
	    "%s:2: line is too long (more than 16384 bytes)");
	free(text);
}

static void
test_precedence(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--port", "3000", "--config", f->path,
		"--db.host=from-flag", NULL};

	write_file(f,
	    "name = from-file\n"
	    "port = 1000\n"
	    "count = 1\n"
	    "[db]\n"
	    "host = from-file\n");
	assert_int_equal(setenv("PGFLEET_PORT", "2000", 1), 0);
	assert_int_equal(setenv("PGFLEET_COUNT", "2", 1), 0);
	assert_int_equal(setenv("PGFLEET_DB_HOST", "from-env", 1), 0);
	assert_int_equal(setenv("PGFLEET_RETRY_LIMIT", "9", 1), 0);
	assert_int_equal(load(f, 6, argv), PGF_OK);
	/* default only */
	assert_string_equal(f->config.conninfo, "dbname=postgres");
	/* file over default */
	assert_string_equal(f->config.name, "from-file");
	/* environment over file; '-' in the key becomes '_' */
	assert_int_equal(f->config.count, 2);
	assert_int_equal(f->config.retry_limit, 9);
	/* flags over everything */
	assert_int_equal(f->config.port, 3000);
	assert_string_equal(f->config.db_host, "from-flag");
	assert_int_equal(f->first_arg, 6);
}

static void
test_config_from_env(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", NULL, NULL};
	char flag[128];

	write_file(f, "port = 1234\n");
	assert_int_equal(setenv("PGFLEET_CONFIG", f->path, 1), 0);
	assert_int_equal(load(f, 1, argv), PGF_OK);
	assert_int_equal(f->config.port, 1234);
	pgf_cfg_free(test_keys, &f->config);

	/* --config wins over $PGFLEET_CONFIG */
	assert_int_equal(setenv("PGFLEET_CONFIG", "/nonexistent/env.conf", 1), 0);
	snprintf(flag, sizeof(flag), "--config=%s", f->path);
	argv[1] = flag;
	assert_int_equal(load(f, 2, argv), PGF_OK);
	assert_int_equal(f->config.port, 1234);
	pgf_cfg_free(test_keys, &f->config);

	assert_int_equal(load(f, 1, argv), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "could not open configuration file \"/nonexistent/env.conf\": "
	    "No such file or directory");
}

static void
test_env_values(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", NULL};

	assert_int_equal(setenv("PGFLEET_LOG_LEVEL", "debug", 1), 0);
	assert_int_equal(setenv("PGFLEET_INTERVAL", "5m", 1), 0);
	assert_int_equal(setenv("PGFLEET_VERBOSE", "true", 1), 0);
	assert_int_equal(setenv("PGFLEET_DB_PORT", "15432", 1), 0);
	assert_int_equal(setenv("PGFLEET_NAME", "", 1), 0);
	/* not keys: ignored */
	assert_int_equal(setenv("PGFLEET_NO_SUCH_KEY", "x", 1), 0);
	assert_int_equal(load(f, 1, argv), PGF_OK);
	unsetenv("PGFLEET_NO_SUCH_KEY");
	assert_string_equal(f->config.log_level, "debug");
	assert_int_equal(f->config.interval, 300000);
	assert_true(f->config.verbose);
	assert_int_equal(f->config.db_port, 15432);
	assert_string_equal(f->config.name, "");
}

static void
test_env_errors(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", NULL};

	assert_int_equal(setenv("PGFLEET_INTERVAL", "x", 1), 0);
	assert_int_equal(load(f, 1, argv), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "environment variable PGFLEET_INTERVAL: invalid value for key "
	    "\"interval\": \"x\" (expected a duration such as 30s, 5m, 1h)");
	pgf_cfg_free(test_keys, &f->config);
	unsetenv("PGFLEET_INTERVAL");

	assert_int_equal(setenv("PGFLEET_DB_PORT", "0", 1), 0);
	assert_int_equal(load(f, 1, argv), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "environment variable PGFLEET_DB_PORT: invalid value for key "
	    "\"db.port\": \"0\" (expected an integer between 1 and 65535)");
}

static void
test_args_first_arg(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--port", "7", "--verbose", "run", "--name=x",
		NULL};

	assert_int_equal(load(f, 6, argv), PGF_OK);
	assert_int_equal(f->first_arg, 4);
	assert_int_equal(f->config.port, 7);
	/* --verbose is a bare BOOL flag; "run" is not its value */
	assert_true(f->config.verbose);
	/* after the first non-option nothing is read */
	assert_string_equal(f->config.name, "");
}

static void
test_args_double_dash(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--port=8", "--", "--name=x", NULL};
	char *all[] = {"prog", "--port=9", "--enabled=off", NULL};
	char *none[] = {"prog", "-v", "--port=9", NULL};

	assert_int_equal(load(f, 4, argv), PGF_OK);
	assert_int_equal(f->first_arg, 3);
	assert_int_equal(f->config.port, 8);
	assert_string_equal(f->config.name, "");
	pgf_cfg_free(test_keys, &f->config);

	assert_int_equal(load(f, 3, all), PGF_OK);
	assert_int_equal(f->first_arg, 3);
	assert_int_equal(f->config.port, 9);
	assert_false(f->config.enabled);
	pgf_cfg_free(test_keys, &f->config);

	/* a single dash is not an option of ours */
	assert_int_equal(load(f, 3, none), PGF_OK);
	assert_int_equal(f->first_arg, 1);
	assert_int_equal(f->config.port, 5432);
}

static void
test_args_forms(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--log-level", "error", "--retry_limit=5",
		"--db.host", "h1", "--verbose", "--enabled=no", "--name", "--odd",
		"--interval=90s", "--conninfo=host=x port=1", NULL};

	assert_int_equal(load(f, 12, argv), PGF_OK);
	assert_int_equal(f->first_arg, 12);
	assert_string_equal(f->config.log_level, "error");
	assert_int_equal(f->config.retry_limit, 5);
	assert_string_equal(f->config.db_host, "h1");
	assert_true(f->config.verbose);
	assert_false(f->config.enabled);
	/* "--key value" takes the next argument as it is */
	assert_string_equal(f->config.name, "--odd");
	assert_int_equal(f->config.interval, 90000);
	/* only the first '=' separates */
	assert_string_equal(f->config.conninfo, "host=x port=1");
}

static void
test_args_errors(void **state)
{
	struct fixture *f = *state;
	char *unknown[] = {"prog", "--port=1", "--intervall=5s", NULL};
	char *novalue[] = {"prog", "--port", NULL};
	char *noconfig[] = {"prog", "--config", NULL};
	char *bad[] = {"prog", "--log_level=loud", NULL};
	char *badbool[] = {"prog", "--verbose=sometimes", NULL};

	assert_int_equal(load(f, 3, unknown), PGF_ECONFIG);
	assert_string_equal(f->err, "command line: unknown option \"--intervall\"");
	pgf_cfg_free(test_keys, &f->config);

	assert_int_equal(load(f, 2, novalue), PGF_ECONFIG);
	assert_string_equal(f->err, "command line: option \"--port\" needs a value");
	pgf_cfg_free(test_keys, &f->config);

	assert_int_equal(load(f, 2, noconfig), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "command line: option \"--config\" needs a value");
	pgf_cfg_free(test_keys, &f->config);

	assert_int_equal(load(f, 2, bad), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "command line: invalid value for key \"log_level\": \"loud\" "
	    "(expected one of: debug, info, warning, error)");
	pgf_cfg_free(test_keys, &f->config);

	assert_int_equal(load(f, 2, badbool), PGF_ECONFIG);
	assert_string_equal(f->err,
	    "command line: invalid value for key \"verbose\": \"sometimes\" "
	    "(expected on or off)");
}

static void
test_unknown_option_before_file(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--config", "/nonexistent/x.conf", "--help",
		NULL};

	/* argv is checked before the file is opened */
	assert_int_equal(load(f, 4, argv), PGF_ECONFIG);
	assert_string_equal(f->err, "command line: unknown option \"--help\"");
}

static void
test_free_releases(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"prog", "--name=one", "--conninfo", "host=a", NULL};

	assert_int_equal(load(f, 4, argv), PGF_OK);
	pgf_cfg_free(test_keys, &f->config);
	assert_null(f->config.name);
	assert_null(f->config.conninfo);
	assert_null(f->config.log_level);
	assert_null(f->config.db_host);
	pgf_cfg_free(test_keys, &f->config);
	assert_null(f->config.name);

	/* strings set before an error are kept, and freed by pgf_cfg_free
	 * (the leak checkers of the sanitized and valgrind runs watch) */
	write_file(f, "name = kept\nconninfo = also kept\nport = x\n");
	assert_int_equal(load_file(f), PGF_ECONFIG);
	assert_string_equal(f->config.name, "kept");
	assert_string_equal(f->config.conninfo, "also kept");
	pgf_cfg_free(test_keys, &f->config);
	assert_null(f->config.name);
	assert_null(f->config.conninfo);

	/* every layer replacing a string frees the one before */
	write_file(f, "name = a\nname = b\n");
	assert_int_equal(setenv("PGFLEET_NAME", "c", 1), 0);
	argv[1] = "--name=d";
	argv[2] = "--name=e";
	argv[3] = "--conninfo=f";
	assert_int_equal(load_file(f), PGF_OK);
	assert_string_equal(f->config.name, "c");
	pgf_cfg_free(test_keys, &f->config);
	assert_int_equal(load(f, 4, argv), PGF_OK);
	assert_string_equal(f->config.name, "e");
	assert_string_equal(f->config.conninfo, "f");
	/* the teardown frees this one */
}

static void
test_print_help(void **state)
{
	static const struct pgf_cfg_key keys[] = {
		{"name", PGF_CFG_STRING, 0, NULL, 0, 0, NULL, false, "instance name"},
		{"interval", PGF_CFG_DURATION, 0, "60s", 0, 0, NULL, false,
		    "how often"},
		{"db.port", PGF_CFG_INT, 0, NULL, 0, 0, NULL, false, "port"},
		{"verbose", PGF_CFG_BOOL, 0, NULL, 0, 0, NULL, false, "say more"},
		{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
	};
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	(void) state;
	assert_non_null(out);
	pgf_cfg_print_help(keys, out);
	assert_int_equal(fclose(out), 0);
	assert_string_equal(text,
	    "  --name=VALUE      instance name\n"
	    "  --interval=VALUE  how often (default: 60s)\n"
	    "  --db.port=VALUE   port (default: 0)\n"
	    "  --verbose=VALUE   say more (default: off)\n");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_defaults),
		T(test_file_format),
		T(test_file_quotes_and_empty),
		T(test_file_bools),
		T(test_unknown_key),
		T(test_bad_values),
		T(test_bounds_inclusive),
		T(test_syntax_errors),
		T(test_missing_file),
		T(test_long_lines),
		T(test_precedence),
		T(test_config_from_env),
		T(test_env_values),
		T(test_env_errors),
		T(test_args_first_arg),
		T(test_args_double_dash),
		T(test_args_forms),
		T(test_args_errors),
		T(test_unknown_option_before_file),
		T(test_free_releases),
		T(test_print_help),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
