/*
 * slow_history.c - a month of statement history for the slow-queries
 * comparisons (see slow_history.h).
 */
#include "tests/support/slow_history.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define HOUR (3600LL * 1000000)
#define DAY (24 * HOUR)
/* a fixed day boundary, so the rollups' buckets are the same every run */
#define NOW (1790000000LL * 1000000 - 1790000000LL * 1000000 % DAY)
#define DAYS 30
#define STEP (8 * HOUR)
#define INSTANCES 3
#define STATEMENTS 40

/* Statement j of instance i in report k: statements 0-9 are heavy early
 * (their totals lead), 30-39 heavy in the last 10 days, the rest steady
 * with a spread; a few are slow but rare. */
static void
fill(Pgfleet__V1__StatementDelta *d, int instance, int64_t k, int64_t day, int j)
{
	int64_t calls = 1 + (k * 7 + instance * 3 + j) % 11;
	double mean = 1.0 + (double) ((j * 13 + instance) % 17);

	if (j < 10 && day < DAYS - 20)
		calls *= 40;
	if (j >= 30 && day >= DAYS - 10)
		calls *= 25;
	if (j % 9 == 4) {
		calls = 1;
		mean = 400.0 + j;
	}
	d->queryid = 1000 + j;
	d->dbid = 5;
	d->datname = (char *) (j % 2 ? "app" : "jobs");
	d->username = (char *) "web";
	d->calls = calls;
	d->total_exec_time_ms = mean * (double) calls;
	d->sum_sq_exec_time_ms2 = mean * mean * (double) calls;
	d->max_exec_time_ms = mean * 1.5;
	d->rows = calls;
}

static int
write_reports(struct store *store, char *errbuf, size_t errlen)
{
	Pgfleet__V1__StatementDelta deltas[STATEMENTS];
	Pgfleet__V1__StatementDelta *pointers[STATEMENTS];
	int rv;

	/* one batch: one commit for the whole history */
	if ((rv = store_batch_begin(store, errbuf, errlen)) != PGF_OK)
		return rv;
	for (int instance = 0; instance < INSTANCES; instance++) {
		uint64_t seq = 1;
		char name[16];

		snprintf(name, sizeof(name), "db%d", instance);
		for (int64_t ts = NOW - DAYS * DAY + STEP; ts <= NOW; ts += STEP, seq++) {
			Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
			Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
			Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
			int64_t day = (ts - (NOW - DAYS * DAY)) / DAY;
			size_t n = 0;
			bool duplicate;

			/* a statement is seen in some reports only, as when it
			 * did not run in an interval */
			for (int j = 0; j < STATEMENTS; j++) {
				if ((j + (int) seq + instance) % 3 == 0)
					continue;
				pgfleet__v1__statement_delta__init(&deltas[n]);
				fill(&deltas[n], instance, (int64_t) seq, day, j);
				pointers[n] = &deltas[n];
				n++;
			}
			report.agent_id = name;
			report.boot_id = (char *) "boot";
			report.seq = seq;
			report.collected_at_us = ts;
			report.instance = &identity;
			report.statements = &family;
			identity.name = name;
			identity.system_identifier = (char *) "42";
			family.interval_start_us = ts - STEP;
			family.interval_end_us = ts;
			family.statements = pointers;
			family.n_statements = n;
			if ((rv = store_write_report(store, &report, ts, &duplicate, errbuf,
				 errlen)) != PGF_OK) {
				char ignored[64];
				/* the write's error is the one to tell */
				(void) !store_batch_end(store, false, ignored, sizeof(ignored));
				return rv;
			}
		}
	}
	return store_batch_end(store, true, errbuf, errlen);
}

int
slow_history_write(struct store *store, char *errbuf, size_t errlen)
{
	struct store_retention retention = {7 * DAY, 90 * DAY, 365 * DAY};
	bool more = true;
	int rv;

	if ((rv = write_reports(store, errbuf, errlen)) != PGF_OK)
		return rv;
	for (int steps = 0; more; steps++) {
		if (steps == 10000) {
			snprintf(errbuf, errlen, "maintenance did not finish in %d steps", steps);
			return PGF_EINVAL;
		}
		if ((rv = store_maintain(store, NOW - 2 * DAY, &retention, &more, errbuf,
			 errlen)) != PGF_OK)
			return rv;
	}
	return PGF_OK;
}

static const int64_t sinces[] = {0, NOW - 30 * DAY, NOW - 8 * DAY, NOW - 3 * DAY,
    NOW - 1 * DAY, NOW - 10 * DAY};
static const int64_t untils[] = {0, 0, 0, 0, 0, NOW - 5 * DAY};
static const Pgfleet__V1__SlowQueriesRequest__Order orders[] = {
    PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL,
    PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN,
    PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS};
static const uint32_t limits[] = {1, 10, 200};
static const char *const instances[] = {"", "db1"};
static const double minimums[] = {0.0, 10.0};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t
slow_history_cases(void)
{
	return COUNT(sinces) * COUNT(orders) * COUNT(limits) * COUNT(instances) *
	    COUNT(minimums);
}

void
slow_history_case(size_t index, Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__Scope *scope)
{
	size_t m = index % COUNT(minimums), s, l, o, w;

	index /= COUNT(minimums);
	s = index % COUNT(instances);
	index /= COUNT(instances);
	l = index % COUNT(limits);
	index /= COUNT(limits);
	o = index % COUNT(orders);
	w = index / COUNT(orders) % COUNT(sinces);
	pgfleet__v1__slow_queries_request__init(request);
	pgfleet__v1__scope__init(scope);
	scope->since_us = sinces[w];
	scope->until_us = untils[w];
	scope->instance = (char *) instances[s];
	request->scope = scope;
	request->order = orders[o];
	request->limit = limits[l];
	request->min_duration_ms = minimums[m];
}

bool
slow_history_same(const Pgfleet__V1__SlowQueries *a, const Pgfleet__V1__SlowQueries *b,
    const char **why)
{
	if (a->n_rows != b->n_rows) {
		*why = "a different number of rows";
		return false;
	}
	for (size_t i = 0; i < a->n_rows; i++) {
		const Pgfleet__V1__SlowQuery *x = a->rows[i], *y = b->rows[i];
		if (strcmp(x->instance, y->instance) != 0 || x->queryid != y->queryid ||
		    strcmp(x->database, y->database) != 0) {
			*why = "a different statement in a row";
			return false;
		}
		if (x->calls != y->calls || x->rows != y->rows) {
			*why = "different calls or rows";
			return false;
		}
		if (fabs(x->total_seconds - y->total_seconds) >
			1e-9 * fabs(y->total_seconds) + 1e-12 ||
		    fabs(x->max_seconds - y->max_seconds) > 1e-12) {
			*why = "different times";
			return false;
		}
	}
	return true;
}
