/*
 * test_sample_config.c - deploy/agent.conf and deploy/collector.conf
 * document exactly the keys of the programs' key tables.
 *
 * The samples show every key commented out with its default ("#key =
 * value"), in paragraphs (lines between blank lines) that say whether their
 * keys take effect on SIGHUP ("[reload]") or need a restart ("[restart]");
 * keys that let the collector act on a server (allow_*) are marked
 * "[dangerous]". For each program this test:
 *   1. finds every "#key = value" line of the sample: each key of the table
 *      appears exactly once, and the paragraph's tag matches the key's
 *      reloadable flag;
 *   2. uncomments those lines into a temporary file and loads it with the
 *      program's own loader (pgf_cfg_load): an unknown key or a bad value
 *      fails here, as it would fail the program;
 *   3. compares every loaded value with the table's default: the sample
 *      shows the real defaults.
 * A helper adding a key to a table without documenting it (or the reverse)
 * fails this test with the key's name. The ready-made configurations of
 * deploy/k8s/config load with the same loaders.
 *
 * ctest sets $SAMPLE_CONFIG_DIR; run by hand (or under valgrind) from the
 * source root, "deploy" is the default.
 */
#include <ctype.h>
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

#include "agent/agent_config.h"
#include "collector/collector_config.h"
#include "common/cfg.h"

#define MAX_LINE 4096
#define MAX_KEYS 256

/* What the sample says about one key. */
struct sample_key {
	char name[128];
	long lineno;
	bool reload_tag;
	bool restart_tag;
	bool dangerous_tag;
};

struct sample {
	struct sample_key keys[MAX_KEYS];
	size_t count;
	/* the sample with its key and section lines uncommented */
	char uncommented_path[64];
};

/* Returns the key name of a "#key = value" line (written into name), or
 * false for prose and everything else. A commented "#[section]" line is
 * reported through section. */
static bool
sample_key_line(const char *line, char *name, size_t size, bool *section)
{
	const char *p = line;
	size_t len = 0;

	*section = false;
	if (*p != '#')
		return false;
	p++;
	if (*p == '[') {
		*section = true;
		return false;
	}
	while (isalnum((unsigned char) p[len]) || p[len] == '_' || p[len] == '.'
	    || p[len] == '-')
		len++;
	if (len == 0 || len >= size || !islower((unsigned char) p[0]))
		return false;
	/* "key =" or "key = value": prose never has " = " right after one word */
	if (strncmp(p + len, " =", 2) != 0 && p[len] != '=')
		return false;
	memcpy(name, p, len);
	name[len] = '\0';
	return true;
}

/* Tags of the paragraph around lines[first..last]. */
static void
paragraph_tags(char **lines, size_t count, size_t index, struct sample_key *key)
{
	size_t first = index, last = index;

	while (first > 0 && lines[first - 1][0] != '\0')
		first--;
	while (last + 1 < count && lines[last + 1][0] != '\0')
		last++;
	for (size_t i = first; i <= last; i++) {
		key->reload_tag |= strstr(lines[i], "[reload]") != NULL;
		key->restart_tag |= strstr(lines[i], "[restart]") != NULL;
		key->dangerous_tag |= strstr(lines[i], "[dangerous]") != NULL;
	}
}

/* Reads path, records its keys and writes the uncommented copy. */
static void
sample_read(const char *path, struct sample *sample)
{
	char *lines[2048];
	size_t count = 0;
	char buf[MAX_LINE];
	FILE *in = fopen(path, "r");
	FILE *out;
	int fd;

	if (in == NULL)
		fail_msg("could not open sample configuration \"%s\"", path);
	while (fgets(buf, sizeof(buf), in) != NULL) {
		size_t len = strlen(buf);
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			buf[--len] = '\0';
		assert_true(count < sizeof(lines) / sizeof(lines[0]));
		lines[count] = strdup(buf);
		assert_non_null(lines[count]);
		count++;
	}
	fclose(in);

	snprintf(sample->uncommented_path, sizeof(sample->uncommented_path),
	    "/tmp/pgfleet-sample-XXXXXX");
	fd = mkstemp(sample->uncommented_path);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	sample->count = 0;
	for (size_t i = 0; i < count; i++) {
		char name[128];
		bool section;

		if (sample_key_line(lines[i], name, sizeof(name), &section)) {
			struct sample_key *key;
			assert_true(sample->count < MAX_KEYS);
			key = &sample->keys[sample->count++];
			memset(key, 0, sizeof(*key));
			snprintf(key->name, sizeof(key->name), "%s", name);
			key->lineno = (long) i + 1;
			paragraph_tags(lines, count, i, key);
			fprintf(out, "%s\n", lines[i] + 1);
		} else if (section) {
			fprintf(out, "%s\n", lines[i] + 1);
		} else {
			fprintf(out, "%s\n", lines[i]);
		}
	}
	assert_int_equal(fclose(out), 0);
	for (size_t i = 0; i < count; i++)
		free(lines[i]);
}

/* The environment must not change what the loader sees. */
static void
clear_environment(const struct pgf_cfg_key *keys)
{
	unsetenv("PGFLEET_CONFIG");
	for (const struct pgf_cfg_key *key = keys; key->name != NULL; key++) {
		char name[160] = "PGFLEET_";
		size_t n = strlen(name);
		for (const char *c = key->name; *c != '\0' && n + 1 < sizeof(name); c++)
			name[n++] = (*c == '.' || *c == '-')
			    ? '_'
			    : (char) toupper((unsigned char) *c);
		name[n] = '\0';
		unsetenv(name);
	}
}

/* Step 1: the table's keys and the sample's keys are the same set, each
 * documented once with the right tags. Returns how many problems it
 * printed. */
static int
check_documented(
    const char *path, const struct pgf_cfg_key *keys, const struct sample *sample)
{
	int problems = 0;

	for (const struct pgf_cfg_key *key = keys; key->name != NULL; key++) {
		int seen = 0;
		for (size_t i = 0; i < sample->count; i++) {
			const struct sample_key *documented = &sample->keys[i];
			if (strcmp(documented->name, key->name) != 0)
				continue;
			seen++;
			if (key->reloadable && !documented->reload_tag) {
				print_error("%s:%ld: key \"%s\" is reloadable: its "
					    "paragraph needs \"[reload]\"\n",
				    path, documented->lineno, key->name);
				problems++;
			}
			if (!key->reloadable && !documented->restart_tag) {
				print_error("%s:%ld: key \"%s\" needs a restart: its "
					    "paragraph needs \"[restart]\"\n",
				    path, documented->lineno, key->name);
				problems++;
			}
			if (documented->reload_tag && documented->restart_tag) {
				print_error("%s:%ld: key \"%s\" is in a paragraph tagged "
					    "both [reload] and [restart]: split it\n",
				    path, documented->lineno, key->name);
				problems++;
			}
			if (strncmp(key->name, "allow_", 6) == 0
			    && !documented->dangerous_tag) {
				print_error("%s:%ld: key \"%s\" lets the collector act: "
					    "its paragraph needs \"[dangerous]\"\n",
				    path, documented->lineno, key->name);
				problems++;
			}
		}
		if (seen != 1) {
			print_error("%s: key \"%s\" of the key table is documented %d "
				    "times (expected once as \"#%s = DEFAULT\")\n",
			    path, key->name, seen, key->name);
			problems++;
		}
	}
	for (size_t i = 0; i < sample->count; i++) {
		const struct pgf_cfg_key *key = keys;
		while (key->name != NULL && strcmp(key->name, sample->keys[i].name) != 0)
			key++;
		if (key->name == NULL) {
			print_error(
			    "%s:%ld: key \"%s\" is not in the program's key table\n",
			    path, sample->keys[i].lineno, sample->keys[i].name);
			problems++;
		}
	}
	return problems;
}

/* Step 3: one key's value in the loaded sample equals its default. */
static bool
same_value(const struct pgf_cfg_key *key, const void *loaded, const void *defaults)
{
	const char *a = (const char *) loaded + key->offset;
	const char *b = (const char *) defaults + key->offset;

	switch (key->type) {
	case PGF_CFG_STRING:
		return strcmp(*(char *const *) (const void *) a,
			   *(char *const *) (const void *) b)
		    == 0;
	case PGF_CFG_INT:
		return *(const long long *) (const void *) a
		    == *(const long long *) (const void *) b;
	case PGF_CFG_DURATION:
		return *(const int64_t *) (const void *) a
		    == *(const int64_t *) (const void *) b;
	case PGF_CFG_BOOL:
		return *(const bool *) (const void *) a
		    == *(const bool *) (const void *) b;
	}
	return false;
}

/* The whole check for one program; loaded and defaults are two zeroed
 * config structs of that program. */
static void
check_sample(
    const char *file, const struct pgf_cfg_key *keys, void *loaded, void *defaults)
{
	const char *dir = getenv("SAMPLE_CONFIG_DIR") != NULL
	    ? getenv("SAMPLE_CONFIG_DIR")
	    : "deploy";
	char path[1024];
	char errbuf[1024];
	char *argv_file[] = { "test", "--config", NULL, NULL };
	char *argv_none[] = { "test", NULL };
	struct sample *sample = calloc(1, sizeof(*sample));
	int first_arg = 0;
	int problems;
	int rv;

	assert_non_null(sample);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	clear_environment(keys);
	sample_read(path, sample);
	problems = check_documented(path, keys, sample);

	argv_file[2] = sample->uncommented_path;
	rv = pgf_cfg_load(keys, loaded, 3, argv_file, &first_arg, errbuf, sizeof(errbuf));
	if (rv != PGF_OK) {
		/* the error names the temporary copy; its line numbers are the
		 * sample's */
		print_error("%s (uncommented): %s\n", path, errbuf);
		problems++;
	}
	assert_int_equal(pgf_cfg_load(keys, defaults, 1, argv_none, &first_arg, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	if (rv == PGF_OK) {
		for (const struct pgf_cfg_key *key = keys; key->name != NULL; key++) {
			if (!same_value(key, loaded, defaults)) {
				print_error("%s: key \"%s\" is shown with a value that "
					    "is not its default (\"%s\")\n",
				    path, key->name,
				    key->default_value != NULL ? key->default_value : "");
				problems++;
			}
		}
	}
	pgf_cfg_free(keys, loaded);
	pgf_cfg_free(keys, defaults);
	unlink(sample->uncommented_path);
	free(sample);
	if (problems > 0)
		fail_msg("%s: %d problem(s), listed above", path, problems);
}

static void
test_agent_sample(void **state)
{
	struct agent_config loaded, defaults;

	(void) state;
	memset(&loaded, 0, sizeof(loaded));
	memset(&defaults, 0, sizeof(defaults));
	check_sample("agent.conf", agent_config_keys, &loaded, &defaults);
}

static void
test_collector_sample(void **state)
{
	struct collector_config loaded, defaults;

	(void) state;
	memset(&loaded, 0, sizeof(loaded));
	memset(&defaults, 0, sizeof(defaults));
	check_sample("collector.conf", collector_config_keys, &loaded, &defaults);
}

/* Loads one ready-made configuration (deploy/k8s/config) with the
 * program's loader: every key known, every value valid. */
static void
check_loads(const char *file, const struct pgf_cfg_key *keys, void *config)
{
	const char *dir = getenv("SAMPLE_CONFIG_DIR") != NULL
	    ? getenv("SAMPLE_CONFIG_DIR")
	    : "deploy";
	char path[1024];
	char errbuf[1024];
	char *argv[] = { "test", "--config", path, NULL };
	int first_arg = 0;
	int rv;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	clear_environment(keys);
	rv = pgf_cfg_load(keys, config, 3, argv, &first_arg, errbuf, sizeof(errbuf));
	pgf_cfg_free(keys, config);
	if (rv != PGF_OK)
		fail_msg("%s", errbuf);
}

static void
test_k8s_configs(void **state)
{
	struct agent_config agent;
	struct collector_config collector;

	(void) state;
	memset(&agent, 0, sizeof(agent));
	memset(&collector, 0, sizeof(collector));
	check_loads("k8s/config/agent.conf", agent_config_keys, &agent);
	check_loads("k8s/config/collector.conf", collector_config_keys, &collector);
}

/* The line matcher itself: keys, not prose. */
static void
test_key_lines(void **state)
{
	char name[128];
	bool section;

	(void) state;
	assert_true(sample_key_line("#interval = 60s", name, sizeof(name), &section));
	assert_string_equal(name, "interval");
	assert_true(sample_key_line("#name =", name, sizeof(name), &section));
	assert_string_equal(name, "name");
	assert_true(sample_key_line("#tls.cert_file = x", name, sizeof(name), &section));
	assert_string_equal(name, "tls.cert_file");
	assert_false(sample_key_line(
	    "# Instance name in the fleet", name, sizeof(name), &section));
	assert_false(sample_key_line("# a = b", name, sizeof(name), &section));
	assert_false(sample_key_line("interval = 60s", name, sizeof(name), &section));
	assert_false(sample_key_line("#[tls]", name, sizeof(name), &section));
	assert_true(section);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_lines),
		cmocka_unit_test(test_agent_sample),
		cmocka_unit_test(test_collector_sample),
		cmocka_unit_test(test_k8s_configs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
