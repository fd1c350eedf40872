/* test_family_status.c - the status of each family of a report
 * (collector/family_status.c), from plain reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/family_status.h"

static const struct family_status_entry *
find(const struct family_status_entry *entries, size_t n, const char *family)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(entries[i].family, family) == 0)
			return &entries[i];
	return NULL;
}

static void
test_statements_unavailable_and_dealloc(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	struct family_status_entry out[FAMILY_STATUS_MAX];
	size_t n;
	(void) state;

	assert_int_equal(family_status_of_report(&report, out, FAMILY_STATUS_MAX), 0);
	report.statements = &family;
	family.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_UNAVAILABLE;
	family.status_detail = "pg_stat_statements must be loaded via shared_preload_libraries (55000)";
	n = family_status_of_report(&report, out, FAMILY_STATUS_MAX);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].family, "statements");
	assert_string_equal(out[0].status, "unavailable");
	assert_non_null(strstr(out[0].detail, "55000"));
	assert_true(family_status_is_problem(out[0].status));

	family.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
	family.status_detail = "";
	family.dealloc = 12;
	n = family_status_of_report(&report, out, FAMILY_STATUS_MAX);
	assert_string_equal(out[0].status, "ok");
	assert_int_equal(out[0].dealloc, 12);
	assert_false(family_status_is_problem(out[0].status));
	family.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_BASELINE;
	family_status_of_report(&report, out, FAMILY_STATUS_MAX);
	assert_string_equal(out[0].status, "baseline");
	assert_false(family_status_is_problem(out[0].status));
}

static void
test_worst_problem_wins(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	Pgfleet__V1__ActivityFamily activity = PGFLEET__V1__ACTIVITY_FAMILY__INIT;
	Pgfleet__V1__FamilyProblem timeout = PGFLEET__V1__FAMILY_PROBLEM__INIT;
	Pgfleet__V1__FamilyProblem error = PGFLEET__V1__FAMILY_PROBLEM__INIT;
	Pgfleet__V1__FamilyProblem *problems[] = {&timeout, &error};
	struct family_status_entry out[FAMILY_STATUS_MAX];
	const struct family_status_entry *entry;
	size_t n;
	(void) state;

	timeout.code = PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT;
	timeout.database = "app";
	timeout.detail = "canceling statement due to lock timeout";
	error.code = PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR;
	error.database = "shop";
	error.detail = "terminating connection due to administrator command";
	tables.problems = problems;
	tables.n_problems = 2;
	report.tables = &tables;
	report.activity = &activity;
	n = family_status_of_report(&report, out, FAMILY_STATUS_MAX);
	assert_int_equal(n, 2);
	/* collection order: activity before tables */
	assert_string_equal(out[0].family, "activity");
	assert_string_equal(out[0].status, "ok");
	assert_string_equal(out[0].detail, "");
	entry = find(out, n, "tables");
	assert_non_null(entry);
	assert_string_equal(entry->status, "error");
	assert_string_equal(entry->detail,
	    "database \"shop\": terminating connection due to administrator command (and more)");
	tables.n_problems = 1;
	family_status_of_report(&report, out, FAMILY_STATUS_MAX);
	entry = find(out, n, "tables");
	assert_string_equal(entry->status, "timeout");
	assert_string_equal(entry->detail, "database \"app\": canceling statement due to lock timeout");
}

static void
test_skipped_families(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__SettingsFamily settings = PGFLEET__V1__SETTINGS_FAMILY__INIT;
	/* settings is carried (not skipped), "bogus" is unknown, tables twice */
	char *skipped[] = {"settings", "tables", "bogus", "tables", "index_checks"};
	struct family_status_entry out[FAMILY_STATUS_MAX];
	size_t n;
	(void) state;

	report.settings = &settings;
	report.skipped_families = skipped;
	report.n_skipped_families = 5;
	n = family_status_of_report(&report, out, FAMILY_STATUS_MAX);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].family, "settings");
	assert_string_equal(out[0].status, "ok");
	assert_string_equal(out[1].family, "tables");
	assert_string_equal(out[1].status, "skipped");
	assert_true(family_status_is_problem(out[1].status));
	/* a full output array is never overrun */
	assert_int_equal(family_status_of_report(&report, out, 1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements_unavailable_and_dealloc),
		cmocka_unit_test(test_worst_problem_wins),
		cmocka_unit_test(test_skipped_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
