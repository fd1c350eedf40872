/*
 * slow_answer.c - one slow-queries row from a store's sums (see
 * slow_answer.h).
 */
#include "collector/slow_answer.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/name_list.h"

static char *
copy_text(const char *text)
{
	return strdup(text != NULL ? text : "");
}

bool
slow_answer_row(Pgfleet__V1__SlowQuery *row, const struct slow_answer_sums *sums)
{
	double calls = (double) sums->calls;
	double mean_ms = sums->calls > 0 ? sums->total_ms / calls : 0.0;
	double variance = sums->calls > 0 ? sums->sum_sq_ms2 / calls - mean_ms * mean_ms : 0.0;

	/* SQLite lists a group's names in plan order, PostgreSQL sorted */
	row->instance = name_list_sorted(sums->instances != NULL ? sums->instances : "");
	row->cluster = name_list_sorted(sums->clusters != NULL ? sums->clusters : "");
	row->database = copy_text(sums->database);
	row->query = copy_text(sums->query);
	if (row->instance == NULL || row->cluster == NULL || row->database == NULL ||
	    row->query == NULL)
		return false;
	row->instances = sums->instance_count;
	row->queryid = sums->queryid;
	row->calls = sums->calls;
	row->total_seconds = sums->total_ms / 1000.0;
	row->mean_seconds = mean_ms / 1000.0;
	/* rounding can make the variance a hair below zero */
	row->stddev_seconds = variance > 0.0 ? sqrt(variance) / 1000.0 : 0.0;
	row->max_seconds = sums->max_ms / 1000.0;
	row->rows = sums->rows;
	row->query_truncated = sums->truncated;
	return true;
}
