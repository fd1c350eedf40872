/*
 * test_analysis_vacuum.c - vacuum advice from plain data files, plus the
 * version choice and the formula as plain calls.
 *
 * Each file in the directory $ANALYSIS_CASES (*.case) is one case:
 *   table key=value ...   one table fact; keys (all optional, defaults in
 *                         parse_table): instance db schema table version
 *                         standby live dead ins reltuples av server_av
 *                         vthr vsf iknown ithr isf age freeze real bloat
 *                         unreliable
 *   expect TYPE PRIORITY SCHEMA.TABLE key=value ...
 *                         one finding, in order; keys checked when given:
 *                         needs=0|1 pct=DEAD% trigger=N itrigger=N
 *                         bloatpct=N wasted=N left=N rec=TEXT (the rest of
 *                         the line after "rec=") ev=WORD (evidence has it,
 *                         "~" for a space)
 * The findings must be exactly the expected lines, in order.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis_vacuum.h"

#define MAX_ROWS 64

static const char *case_dir;

struct case_data {
	char text[16384];
	struct vacuum_table_fact tables[MAX_ROWS];
	size_t n_tables;
	char *expect[MAX_ROWS];
	size_t n_expect;
};

/* Splits "key=value" words of line (modified in place) into fact. */
static void
parse_table(char *line, struct vacuum_table_fact *t)
{
	memset(t, 0, sizeof(*t));
	t->instance = "p";
	t->database = "app";
	t->schema = "public";
	t->table = "t";
	t->server_version_num = 150000;
	t->autovacuum_enabled = true;
	t->server_autovacuum = 1;
	t->vacuum_threshold = 50;
	t->vacuum_scale_factor = 0.2;
	t->insert_known = true;
	t->insert_threshold = 1000;
	t->insert_scale_factor = 0.2;
	t->freeze_max_age = 200000000;
	for (char *word = strtok(line, " "); word != NULL; word = strtok(NULL, " ")) {
		char *value = strchr(word, '=');
		if (value == NULL)
			continue;
		*value++ = '\0';
		if (strcmp(word, "instance") == 0)
			t->instance = value;
		else if (strcmp(word, "db") == 0)
			t->database = value;
		else if (strcmp(word, "schema") == 0)
			t->schema = value;
		else if (strcmp(word, "table") == 0)
			t->table = value;
		else if (strcmp(word, "version") == 0)
			t->server_version_num = atoi(value);
		else if (strcmp(word, "standby") == 0)
			t->is_standby = atoi(value) != 0;
		else if (strcmp(word, "live") == 0)
			t->n_live_tup = atoll(value);
		else if (strcmp(word, "dead") == 0)
			t->n_dead_tup = atoll(value);
		else if (strcmp(word, "ins") == 0)
			t->n_ins_since_vacuum = atoll(value);
		else if (strcmp(word, "reltuples") == 0)
			t->reltuples = atof(value);
		else if (strcmp(word, "av") == 0)
			t->autovacuum_enabled = atoi(value) != 0;
		else if (strcmp(word, "server_av") == 0)
			t->server_autovacuum = atoi(value);
		else if (strcmp(word, "vthr") == 0)
			t->vacuum_threshold = atoll(value);
		else if (strcmp(word, "vsf") == 0)
			t->vacuum_scale_factor = atof(value);
		else if (strcmp(word, "iknown") == 0)
			t->insert_known = atoi(value) != 0;
		else if (strcmp(word, "ithr") == 0)
			t->insert_threshold = atoll(value);
		else if (strcmp(word, "isf") == 0)
			t->insert_scale_factor = atof(value);
		else if (strcmp(word, "age") == 0)
			t->relfrozenxid_age = atoll(value);
		else if (strcmp(word, "freeze") == 0)
			t->freeze_max_age = atoll(value);
		else if (strcmp(word, "real") == 0) {
			t->has_bloat = true;
			t->real_bytes = atoll(value);
		} else if (strcmp(word, "bloat") == 0)
			t->bloat_bytes = atoll(value);
		else if (strcmp(word, "unreliable") == 0)
			t->bloat_unreliable = atoi(value) != 0;
		else
			fail_msg("unknown table key \"%s\"", word);
	}
}

static void
load_case(const char *path, struct case_data *data)
{
	FILE *file = fopen(path, "r");
	size_t len;
	char *line, *next;

	assert_non_null(file);
	len = fread(data->text, 1, sizeof(data->text) - 1, file);
	fclose(file);
	data->text[len] = '\0';
	for (line = data->text; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strncmp(line, "table ", 6) == 0) {
			assert_true(data->n_tables < MAX_ROWS);
			parse_table(line + 6, &data->tables[data->n_tables++]);
		} else if (strncmp(line, "expect ", 7) == 0) {
			assert_true(data->n_expect < MAX_ROWS);
			data->expect[data->n_expect++] = line + 7;
		}
	}
}

/* Checks one finding against "TYPE PRIORITY SCHEMA.TABLE key=value...". */
static void
check_finding(
    const char *file, size_t index, const struct vacuum_finding *f, char *expect)
{
	char where[256], name[300];
	char *rec = strstr(expect, " rec=");
	char *word;

	snprintf(where, sizeof(where), "%s finding %zu", file, index + 1);
	if (rec != NULL) {
		*rec = '\0';
		rec += 5;
		if (strcmp(f->recommendation, rec) != 0)
			fail_msg("%s: recommendation \"%s\", expected \"%s\"", where,
			    f->recommendation, rec);
	}
	word = strtok(expect, " ");
	if (word == NULL || strcmp(vacuum_finding_type_name(f->type), word) != 0)
		fail_msg("%s: type %s, expected %s", where,
		    vacuum_finding_type_name(f->type), word != NULL ? word : "(none)");
	word = strtok(NULL, " ");
	if (word == NULL || strcmp(vacuum_priority_name(f->priority), word) != 0)
		fail_msg("%s: priority %s, expected %s", where,
		    vacuum_priority_name(f->priority), word != NULL ? word : "(none)");
	word = strtok(NULL, " ");
	snprintf(name, sizeof(name), "%s.%s", f->fact->schema, f->fact->table);
	if (word == NULL || strcmp(name, word) != 0)
		fail_msg("%s: table %s, expected %s", where, name,
		    word != NULL ? word : "(none)");
	while ((word = strtok(NULL, " ")) != NULL) {
		char *value = strchr(word, '=');
		double expected, actual = 0;

		if (value == NULL)
			fail_msg("%s: bad word \"%s\"", where, word);
		*value++ = '\0';
		if (strcmp(word, "ev") == 0) {
			for (char *p = value; *p != '\0'; p++)
				if (*p == '~')
					*p = ' ';
			if (strstr(f->evidence, value) == NULL)
				fail_msg("%s: evidence \"%s\" lacks \"%s\"", where,
				    f->evidence, value);
			continue;
		}
		expected = atof(value);
		if (strcmp(word, "needs") == 0)
			actual = f->figures.needs_vacuum;
		else if (strcmp(word, "pct") == 0)
			actual = f->figures.dead_tuple_percentage;
		else if (strcmp(word, "trigger") == 0)
			actual = f->figures.vacuum_trigger;
		else if (strcmp(word, "itrigger") == 0)
			actual = f->figures.insert_trigger;
		else if (strcmp(word, "bloatpct") == 0)
			actual = f->figures.bloat_percentage;
		else if (strcmp(word, "wasted") == 0)
			actual = (double) f->figures.wasted_bytes;
		else if (strcmp(word, "left") == 0)
			actual = (double) f->figures.xids_to_wraparound;
		else
			fail_msg("%s: unknown key \"%s\"", where, word);
		if (fabs(actual - expected) > 1e-9)
			fail_msg("%s: %s = %.4f, expected %.4f", where, word, actual,
			    expected);
	}
}

static void
run_case(const char *file)
{
	char path[1024];
	struct case_data *data = calloc(1, sizeof(*data));
	struct vacuum_finding *findings = calloc(MAX_ROWS * 4, sizeof(*findings));
	size_t count;

	assert_non_null(data);
	assert_non_null(findings);
	snprintf(path, sizeof(path), "%s/%s", case_dir, file);
	load_case(path, data);
	count = analysis_vacuum(data->tables, data->n_tables, findings, MAX_ROWS * 4);
	for (size_t i = 0; i < count; i++)
		print_message("%s: %s %s %s.%s | %s | %s\n", file,
		    vacuum_finding_type_name(findings[i].type),
		    vacuum_priority_name(findings[i].priority), findings[i].fact->schema,
		    findings[i].fact->table, findings[i].recommendation,
		    findings[i].evidence);
	if (count != data->n_expect)
		fail_msg("%s: %zu findings, expected %zu", file, count, data->n_expect);
	for (size_t i = 0; i < count; i++)
		check_finding(file, i, &findings[i], data->expect[i]);
	free(findings);
	free(data);
}

static void
test_cases(void **state)
{
	DIR *dir;
	struct dirent *entry;
	int cases = 0;

	(void) state;
	/* ctest sets the folder; run by hand (or under valgrind) from the
	 * source root, the default finds it */
	case_dir = getenv("ANALYSIS_CASES") != NULL ? getenv("ANALYSIS_CASES")
						     : "tests/analysis/vacuum";
	dir = opendir(case_dir);
	assert_non_null(dir);
	while ((entry = readdir(dir)) != NULL) {
		size_t len = strlen(entry->d_name);
		if (len > 5 && strcmp(entry->d_name + len - 5, ".case") == 0) {
			run_case(entry->d_name);
			cases++;
		}
	}
	closedir(dir);
	assert_true(cases >= 3);
}

/* The insert variant exists from PostgreSQL 13; the choice is plain code. */
static void
test_insert_trigger_versions(void **state)
{
	(void) state;
	assert_false(vacuum_insert_trigger_applies(120017));
	assert_true(vacuum_insert_trigger_applies(130000));
	assert_true(vacuum_insert_trigger_applies(150018));
	assert_true(vacuum_insert_trigger_applies(170002));
}

static void
test_trigger_formula(void **state)
{
	(void) state;
	assert_true(fabs(vacuum_trigger(50, 0.2, 2000) - 450.0) < 1e-9);
	/* never analyzed (-1 since PG 14) counts as no tuples */
	assert_true(fabs(vacuum_trigger(50, 0.2, -1) - 50.0) < 1e-9);
	assert_true(fabs(vacuum_trigger(0, 0.05, 1e6) - 50000.0) < 1e-9);
}

/* On PG 12 data the insert trigger is not judged even when known. */
static void
test_insert_not_judged_before_13(void **state)
{
	struct vacuum_table_fact t;
	struct vacuum_figures f;

	(void) state;
	memset(&t, 0, sizeof(t));
	t.server_version_num = 120000;
	t.insert_known = true;
	t.insert_threshold = 10;
	t.n_ins_since_vacuum = 1000;
	t.vacuum_threshold = 50;
	vacuum_figures_of(&t, &f);
	assert_false(f.needs_vacuum);
	assert_true(f.insert_trigger < 0);
	t.server_version_num = 130000;
	vacuum_figures_of(&t, &f);
	assert_true(f.needs_vacuum);
	assert_true(fabs(f.insert_trigger - 10.0) < 1e-9);
}

static void
test_empty_and_limit(void **state)
{
	struct vacuum_table_fact t[3];
	struct vacuum_finding out[1];

	(void) state;
	assert_int_equal(analysis_vacuum(NULL, 0, NULL, 0), 0);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 3; i++) {
		t[i].instance = "p";
		t[i].database = "d";
		t[i].schema = "s";
		t[i].table = i == 0 ? "a" : i == 1 ? "b" : "c";
		t[i].autovacuum_enabled = false;
		t[i].server_autovacuum = 0;
		t[i].n_dead_tup = 100 * (i + 1);
	}
	/* three tables, each needs_vacuum and autovacuum_disabled: 6 in all,
	 * the first is the one with the most dead tuples */
	assert_int_equal(analysis_vacuum(t, 3, out, 1), 6);
	assert_string_equal(out[0].fact->table, "c");
	assert_int_equal(out[0].type, VACUUM_FINDING_NEEDS_VACUUM);
	/* nothing written with room for none */
	assert_int_equal(analysis_vacuum(t, 3, NULL, 0), 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_insert_trigger_versions),
		cmocka_unit_test(test_trigger_formula),
		cmocka_unit_test(test_insert_not_judged_before_13),
		cmocka_unit_test(test_empty_and_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
