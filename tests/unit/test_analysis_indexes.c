/*
 * test_analysis_indexes.c - index advice from plain data files.
 *
 * Each file in the directory $ANALYSIS_CASES is one case:
 *   members N            cluster members that reported
 *   window SECONDS
 *   index key=value ...  instance db schema table index am cols unique
 *                        valid constraint predicate scans size def
 *                        (cols comma-separated; "-" for empty)
 *   fk key=value ...     db schema table name cols references
 *   expect TYPE PRIORITY SCHEMA.TABLE INDEX|- DDL...
 * The advice must be exactly the expected lines, in order.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis_indexes.h"

#define MAX_ROWS 64
#define MAX_COLUMNS 8

static const char *case_dir;

struct case_data {
	char text[16384];
	struct index_fact indexes[MAX_ROWS];
	char *index_columns[MAX_ROWS][MAX_COLUMNS];
	size_t n_indexes;
	struct foreign_key_fact fks[MAX_ROWS];
	char *fk_columns[MAX_ROWS][MAX_COLUMNS];
	size_t n_fks;
	size_t members;
	int64_t window;
	char *expect[MAX_ROWS];
	size_t n_expect;
};

/* value of key=value in the tokens (NULL when absent); "-" reads as "" */
static const char *
value_of(char **tokens, size_t n, const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(tokens[i], key, len) == 0 && tokens[i][len] == '=') {
			const char *v = tokens[i] + len + 1;
			return strcmp(v, "-") == 0 ? "" : v;
		}
	}
	return NULL;
}

static size_t
split_columns(const char *text, char **out)
{
	size_t n = 0;
	char *copy = (char *) text;
	char *saveptr = NULL;
	for (char *c = strtok_r(copy, ",", &saveptr); c != NULL && n < MAX_COLUMNS;
	     c = strtok_r(NULL, ",", &saveptr))
		out[n++] = c;
	return n;
}

static const char *
required(char **tokens, size_t n, const char *key)
{
	const char *v = value_of(tokens, n, key);
	if (v == NULL) {
		print_error("missing %s=\n", key);
		fail();
	}
	return v;
}

static void
load_case(const char *path, struct case_data *c)
{
	FILE *f = fopen(path, "r");
	size_t len;
	char *saveptr = NULL;

	assert_non_null(f);
	len = fread(c->text, 1, sizeof(c->text) - 1, f);
	fclose(f);
	c->text[len] = '\0';
	for (char *line = strtok_r(c->text, "\n", &saveptr); line != NULL;
	     line = strtok_r(NULL, "\n", &saveptr)) {
		char *tokens[32];
		size_t n = 0;
		char *rest;
		char *tsave = NULL;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "expect ", 7) == 0) {
			c->expect[c->n_expect++] = line + 7;
			continue;
		}
		rest = line;
		for (char *t = strtok_r(rest, " ", &tsave); t != NULL && n < 32;
		     t = strtok_r(NULL, " ", &tsave))
			tokens[n++] = t;
		if (n == 0)
			continue;
		if (strcmp(tokens[0], "members") == 0) {
			c->members = (size_t) strtoul(tokens[1], NULL, 10);
		} else if (strcmp(tokens[0], "window") == 0) {
			c->window = strtoll(tokens[1], NULL, 10);
		} else if (strcmp(tokens[0], "index") == 0) {
			struct index_fact *x = &c->indexes[c->n_indexes];
			x->instance = required(tokens, n, "instance");
			x->database = required(tokens, n, "db");
			x->schema = required(tokens, n, "schema");
			x->table = required(tokens, n, "table");
			x->index = required(tokens, n, "index");
			x->access_method = required(tokens, n, "am");
			x->n_columns = split_columns(required(tokens, n, "cols"),
			    c->index_columns[c->n_indexes]);
			x->columns = (const char *const *) c->index_columns[c->n_indexes];
			x->is_unique = strcmp(required(tokens, n, "unique"), "1") == 0;
			x->is_valid = strcmp(required(tokens, n, "valid"), "1") == 0;
			x->constraint_type = required(tokens, n, "constraint");
			x->predicate = required(tokens, n, "predicate");
			x->window_scans = strtoll(required(tokens, n, "scans"), NULL, 10);
			x->size_bytes = strtoll(required(tokens, n, "size"), NULL, 10);
			x->definition = required(tokens, n, "def");
			c->n_indexes++;
		} else if (strcmp(tokens[0], "fk") == 0) {
			struct foreign_key_fact *k = &c->fks[c->n_fks];
			k->database = required(tokens, n, "db");
			k->schema = required(tokens, n, "schema");
			k->table = required(tokens, n, "table");
			k->name = required(tokens, n, "name");
			k->n_columns = split_columns(required(tokens, n, "cols"), c->fk_columns[c->n_fks]);
			k->columns = (const char *const *) c->fk_columns[c->n_fks];
			k->referenced_table = required(tokens, n, "references");
			c->n_fks++;
		} else {
			print_error("unknown line \"%s\"\n", tokens[0]);
			fail();
		}
	}
}

static void
run_case(const char *path)
{
	struct case_data *c = calloc(1, sizeof(*c));
	struct index_advice advice[MAX_ROWS];
	size_t count;

	assert_non_null(c);
	load_case(path, c);
	count = analysis_indexes(c->indexes, c->n_indexes, c->members, c->fks, c->n_fks,
	    c->window, advice, MAX_ROWS);
	for (size_t i = 0; i < count || i < c->n_expect; i++) {
		char got[4096];
		if (i < count)
			snprintf(got, sizeof(got), "%s %s %s.%s %s %s",
			    index_advice_type_name(advice[i].type),
			    advice_priority_name(advice[i].priority), advice[i].schema,
			    advice[i].table, advice[i].index[0] != '\0' ? advice[i].index : "-",
			    advice[i].ddl);
		else
			snprintf(got, sizeof(got), "(nothing)");
		if (i >= c->n_expect || strcmp(got, c->expect[i]) != 0) {
			print_error("%s: advice %zu\n  got:      %s\n  expected: %s\n", path, i + 1,
			    got, i < c->n_expect ? c->expect[i] : "(nothing)");
			free(c);
			fail();
		}
		if (i < count && advice[i].evidence[0] == '\0') {
			print_error("%s: advice %zu has no evidence\n", path, i + 1);
			free(c);
			fail();
		}
	}
	free(c);
}

static void
test_cases(void **state)
{
	DIR *dir = opendir(case_dir);
	struct dirent *entry;
	size_t cases = 0;
	(void) state;

	assert_non_null(dir);
	while ((entry = readdir(dir)) != NULL) {
		char path[1024];
		size_t len = strlen(entry->d_name);
		if (len < 6 || strcmp(entry->d_name + len - 5, ".case") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", case_dir, entry->d_name);
		run_case(path);
		cases++;
	}
	closedir(dir);
	assert_true(cases >= 4);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};
	(void) argc;
	(void) argv;
	case_dir = getenv("ANALYSIS_CASES") != NULL ? getenv("ANALYSIS_CASES") : "tests/analysis/indexes";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
