/*
 * family_status.c - the status of each family of one report (see
 * family_status.h).
 */
#include "collector/family_status.h"

#include <stdio.h>
#include <string.h>

/* The families that carry FamilyProblems, in the agent's collection order
 * (agent/families.c). */
static const char *const problem_families[] = {
	"settings", "activity", "replication", "tables", "indexes", "bloat", "pool",
};

int
family_status_is_problem(const char *status)
{
	return strcmp(status, "ok") != 0 && strcmp(status, "baseline") != 0;
}

static const char *
statements_status(Pgfleet__V1__StatementsFamily__Status status)
{
	switch (status) {
	case PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK:
		return "ok";
	case PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_BASELINE:
		return "baseline";
	case PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_UNAVAILABLE:
		return "unavailable";
	case PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_INSUFFICIENT_PRIVILEGE:
		return "insufficient_privilege";
	default:
		return "error";
	}
}

/* Most severe first: what needs a person (error) before what fixes itself
 * (timeout) before what is a setup choice (privilege, unavailable). */
static int
severity(Pgfleet__V1__FamilyProblem__Code code)
{
	switch (code) {
	case PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNAVAILABLE:
		return 1;
	case PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_INSUFFICIENT_PRIVILEGE:
		return 2;
	case PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT:
		return 3;
	default:
		return 4;
	}
}

static const char *
problem_status(Pgfleet__V1__FamilyProblem__Code code)
{
	switch (code) {
	case PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNAVAILABLE:
		return "unavailable";
	case PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_INSUFFICIENT_PRIVILEGE:
		return "insufficient_privilege";
	case PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT:
		return "timeout";
	default:
		return "error";
	}
}

/* The problems of family name in report; false when the report does not
 * carry that family. */
static int
family_problems(const Pgfleet__V1__Report *report, const char *name,
    Pgfleet__V1__FamilyProblem *const **problems, size_t *count)
{
#define FAMILY_CASE(field)                                                     \
	if (strcmp(name, #field) == 0) {                                         \
		if (report->field == NULL)                                       \
			return 0;                                                \
		*problems = (Pgfleet__V1__FamilyProblem *const *) report->field->problems; \
		*count = report->field->n_problems;                              \
		return 1;                                                        \
	}
	FAMILY_CASE(settings)
	FAMILY_CASE(activity)
	FAMILY_CASE(replication)
	FAMILY_CASE(tables)
	FAMILY_CASE(indexes)
	FAMILY_CASE(bloat)
	FAMILY_CASE(pool)
#undef FAMILY_CASE
	return 0;
}

static void
fill_problems(struct family_status_entry *entry, Pgfleet__V1__FamilyProblem *const *problems,
    size_t count)
{
	const Pgfleet__V1__FamilyProblem *worst = NULL;

	entry->status = "ok";
	entry->detail[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (problems[i] == NULL)
			continue;
		if (worst == NULL || severity(problems[i]->code) > severity(worst->code))
			worst = problems[i];
	}
	if (worst == NULL)
		return;
	entry->status = problem_status(worst->code);
	if (worst->database != NULL && worst->database[0] != '\0')
		snprintf(entry->detail, sizeof(entry->detail), "database \"%s\": %s%s",
		    worst->database, worst->detail != NULL ? worst->detail : "",
		    count > 1 ? " (and more)" : "");
	else
		snprintf(entry->detail, sizeof(entry->detail), "%s%s",
		    worst->detail != NULL ? worst->detail : "", count > 1 ? " (and more)" : "");
}

static int
is_known_family(const char *name, const char **canonical)
{
	if (strcmp(name, "statements") == 0) {
		*canonical = "statements";
		return 1;
	}
	for (size_t i = 0; i < sizeof(problem_families) / sizeof(problem_families[0]); i++) {
		if (strcmp(name, problem_families[i]) == 0) {
			*canonical = problem_families[i];
			return 1;
		}
	}
	return 0;
}

size_t
family_status_of_report(const Pgfleet__V1__Report *report,
    struct family_status_entry *out, size_t max)
{
	size_t n = 0;

	if (report->statements != NULL && n < max) {
		const Pgfleet__V1__StatementsFamily *family = report->statements;
		struct family_status_entry *entry = &out[n++];
		entry->family = "statements";
		entry->status = statements_status(family->status);
		snprintf(entry->detail, sizeof(entry->detail), "%s",
		    family->status_detail != NULL ? family->status_detail : "");
		entry->dealloc = family->dealloc > 0 ? family->dealloc : 0;
	}
	for (size_t i = 0; i < sizeof(problem_families) / sizeof(problem_families[0]); i++) {
		Pgfleet__V1__FamilyProblem *const *problems = NULL;
		size_t count = 0;
		struct family_status_entry *entry;

		if (n >= max || !family_problems(report, problem_families[i], &problems, &count))
			continue;
		entry = &out[n++];
		entry->family = problem_families[i];
		entry->dealloc = 0;
		fill_problems(entry, problems, count);
	}
	for (size_t i = 0; i < report->n_skipped_families; i++) {
		const char *name = NULL;
		int seen = 0;

		if (report->skipped_families[i] == NULL ||
		    !is_known_family(report->skipped_families[i], &name))
			continue;
		/* a family the report carries is not skipped; a name twice is
		 * one entry */
		for (size_t k = 0; k < n; k++)
			seen = seen || strcmp(out[k].family, name) == 0;
		if (seen || n >= max)
			continue;
		out[n].family = name;
		out[n].status = "skipped";
		out[n].dealloc = 0;
		snprintf(out[n].detail, sizeof(out[n].detail),
		    "not collected: the connection to Postgres was lost during an earlier"
		    " family; collected at the next interval");
		n++;
	}
	return n;
}
