/*
 * slow_history.h - a month of statement history for comparing the two
 * ways of answering slow-queries (slow_answer.h: plain and pruned), on any
 * store backend (test_slow_pruning.c on SQLite, test_store_pg.c on
 * PostgreSQL). The history is made so the heaviest statements of the
 * whole month are not the heaviest of recent windows: bounds alone would
 * pick the wrong ones.
 */
#ifndef PGFLEET_TESTS_SLOW_HISTORY_H
#define PGFLEET_TESTS_SLOW_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/store.h"

/* slow_history_write stores 30 days of reports of 3 instances (db0..db2,
 * one cluster) in one batch, then rolls up everything older than two
 * days (the last two stay raw, past the hourly watermark). PGF_OK, or an
 * error with one line in errbuf. */
int slow_history_write(struct store *store, char *errbuf, size_t errlen);

/* The questions to compare: windows that cross raw, hourly and daily
 * rows and the raw tail, every order, several limits, an instance scope
 * and a minimum duration. slow_history_case fills request (and scope,
 * which request points to) for case number index < slow_history_cases(). */
size_t slow_history_cases(void);
void slow_history_case(size_t index, Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__Scope *scope);

/* Same rows in the same order; times within rounding of the sums. When
 * they differ, *why says how (a static string). */
bool slow_history_same(const Pgfleet__V1__SlowQueries *a, const Pgfleet__V1__SlowQueries *b,
    const char **why);

#endif
