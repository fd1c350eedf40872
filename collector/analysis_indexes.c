/*
 * analysis_indexes.c - structural index advice for one cluster (see
 * analysis_indexes.h).
 *
 * Why per cluster: an index can look unused on the primary while a
 * replica's read traffic depends on it; statistics are per node, so only
 * "0 scans on every member over the window" means unused.
 */
#include "collector/analysis_indexes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
index_advice_type_name(enum index_advice_type type)
{
	switch (type) {
	case INDEX_ADVICE_UNUSED:
		return "unused";
	case INDEX_ADVICE_DUPLICATE:
		return "duplicate";
	case INDEX_ADVICE_REDUNDANT:
		return "redundant";
	case INDEX_ADVICE_INVALID:
		return "invalid";
	case INDEX_ADVICE_FOREIGN_KEY_WITHOUT_INDEX:
		return "foreign_key_without_index";
	}
	return "unknown";
}

void
analysis_duration(int64_t seconds, char *out, size_t size)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60)
		snprintf(out, size, "%llds", (long long) seconds);
	else if (seconds < 3600)
		snprintf(out, size, "%lldm%02llds", (long long) (seconds / 60),
		    (long long) (seconds % 60));
	else if (seconds < 86400)
		snprintf(out, size, "%lldh%02lldm", (long long) (seconds / 3600),
		    (long long) (seconds % 3600 / 60));
	else
		snprintf(out, size, "%lldd%02lldh", (long long) (seconds / 86400),
		    (long long) (seconds % 86400 / 3600));
}

const char *
advice_priority_name(enum advice_priority priority)
{
	switch (priority) {
	case ADVICE_PRIORITY_HIGH:
		return "high";
	case ADVICE_PRIORITY_MEDIUM:
		return "medium";
	default:
		return "low";
	}
}

void
analysis_quote_ident(const char *name, char *out, size_t size)
{
	bool plain = name[0] != '\0' && (islower((unsigned char) name[0]) || name[0] == '_');
	size_t used = 0;

	for (const char *p = name; *p != '\0' && plain; p++)
		plain = islower((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '_';
	if (plain) {
		snprintf(out, size, "%s", name);
		return;
	}
	if (size < 3) {
		out[0] = '\0';
		return;
	}
	out[used++] = '"';
	for (const char *p = name; *p != '\0' && used + 3 < size; p++) {
		if (*p == '"')
			out[used++] = '"';
		out[used++] = *p;
	}
	out[used++] = '"';
	out[used] = '\0';
}

void
analysis_qualified(const char *schema, const char *name, char *out, size_t size)
{
	char a[160], b[160];
	analysis_quote_ident(schema, a, sizeof(a));
	analysis_quote_ident(name, b, sizeof(b));
	snprintf(out, size, "%s.%s", a, b);
}

static bool
same_table(const struct index_fact *a, const struct index_fact *b)
{
	return strcmp(a->database, b->database) == 0 && strcmp(a->schema, b->schema) == 0 &&
	    strcmp(a->table, b->table) == 0;
}

static bool
same_index(const struct index_fact *a, const struct index_fact *b)
{
	return same_table(a, b) && strcmp(a->index, b->index) == 0;
}

/* a's columns are the first a->n_columns of b's (prefix when shorter). */
static bool
leads(const struct index_fact *a, const struct index_fact *b)
{
	if (a->n_columns > b->n_columns)
		return false;
	for (size_t i = 0; i < a->n_columns; i++) {
		if (strcmp(a->columns[i], b->columns[i]) != 0)
			return false;
	}
	return true;
}

static bool
backs_constraint(const struct index_fact *index)
{
	return index->constraint_type[0] != '\0';
}

static struct index_advice *
add(struct index_advice *rows, size_t *count, size_t max, enum index_advice_type type,
    enum advice_priority priority, const struct index_fact *index)
{
	struct index_advice *row;
	if (*count >= max) {
		(*count)++;
		return NULL;
	}
	row = &rows[(*count)++];
	memset(row, 0, sizeof(*row));
	row->type = type;
	row->priority = priority;
	snprintf(row->database, sizeof(row->database), "%s", index->database);
	snprintf(row->schema, sizeof(row->schema), "%s", index->schema);
	snprintf(row->table, sizeof(row->table), "%s", index->table);
	snprintf(row->index, sizeof(row->index), "%s", index->index);
	return row;
}

static void
drop_ddl(const struct index_fact *index, char *out, size_t size)
{
	char name[340];
	analysis_qualified(index->schema, index->index, name, sizeof(name));
	snprintf(out, size, "DROP INDEX CONCURRENTLY %s;", name);
}

static int
compare_advice(const void *pa, const void *pb)
{
	const struct index_advice *a = pa, *b = pb;
	int c;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if ((c = strcmp(a->schema, b->schema)) != 0)
		return c;
	if ((c = strcmp(a->table, b->table)) != 0)
		return c;
	return strcmp(a->index, b->index);
}

size_t
analysis_indexes(const struct index_fact *indexes, size_t n_indexes, size_t n_members,
    const struct foreign_key_fact *foreign_keys, size_t n_foreign_keys, int64_t window_seconds,
    struct index_advice *out, size_t max_out)
{
	/* the first fact of each index stands for it; dropped[] marks those
	 * already advised away, so one index gets one drop advice */
	bool *first = calloc(n_indexes > 0 ? n_indexes : 1, sizeof(bool));
	bool *dropped = calloc(n_indexes > 0 ? n_indexes : 1, sizeof(bool));
	size_t count = 0;

	if (first == NULL || dropped == NULL) {
		free(first);
		free(dropped);
		return 0;
	}
	for (size_t i = 0; i < n_indexes; i++) {
		first[i] = true;
		for (size_t j = 0; j < i && first[i]; j++)
			first[i] = !same_index(&indexes[i], &indexes[j]);
	}

	/* invalid: a failed CREATE INDEX CONCURRENTLY costs writes, serves
	 * no read */
	for (size_t i = 0; i < n_indexes; i++) {
		struct index_advice *row;
		char name[340];
		if (!first[i] || indexes[i].is_valid)
			continue;
		row = add(out, &count, max_out, INDEX_ADVICE_INVALID, ADVICE_PRIORITY_HIGH, &indexes[i]);
		dropped[i] = true;
		if (row == NULL)
			continue;
		analysis_qualified(indexes[i].schema, indexes[i].index, name, sizeof(name));
		snprintf(row->ddl, sizeof(row->ddl),
		    "DROP INDEX CONCURRENTLY %s; -- then build it again: %s", name,
		    indexes[i].definition);
		snprintf(row->evidence, sizeof(row->evidence),
		    "index is not valid (a failed CREATE INDEX CONCURRENTLY or REINDEX): it is maintained on every write and never used");
	}

	/* duplicates and redundant prefixes, between valid indexes */
	for (size_t i = 0; i < n_indexes; i++) {
		const struct index_fact *a = &indexes[i];
		if (!first[i] || !a->is_valid || dropped[i])
			continue;
		for (size_t j = 0; j < n_indexes && !dropped[i]; j++) {
			const struct index_fact *b = &indexes[j];
			bool duplicate;
			struct index_advice *row;
			if (j == i || !first[j] || !b->is_valid || dropped[j] || !same_table(a, b) ||
			    strcmp(a->access_method, b->access_method) != 0 ||
			    strcmp(a->predicate, b->predicate) != 0 || !leads(a, b))
				continue;
			duplicate = a->n_columns == b->n_columns;
			if (duplicate) {
				/* keep the one that backs a constraint (or is
				 * unique), else the earlier name */
				bool keep_a = backs_constraint(a) || (a->is_unique && !b->is_unique) ||
				    (!backs_constraint(b) && a->is_unique == b->is_unique &&
					strcmp(a->index, b->index) < 0);
				if (keep_a || backs_constraint(a))
					continue; /* the pair is reported from b's side */
				row = add(out, &count, max_out, INDEX_ADVICE_DUPLICATE,
				    ADVICE_PRIORITY_MEDIUM, a);
				dropped[i] = true;
				if (row == NULL)
					continue;
				drop_ddl(a, row->ddl, sizeof(row->ddl));
				snprintf(row->evidence, sizeof(row->evidence),
				    "same columns (%s%s) and predicate as %s, %lld bytes to save",
				    a->columns[0], a->n_columns > 1 ? ", ..." : "", b->index,
				    (long long) a->size_bytes);
			} else {
				if (strcmp(a->access_method, "btree") != 0 || a->is_unique ||
				    backs_constraint(a))
					continue;
				row = add(out, &count, max_out, INDEX_ADVICE_REDUNDANT,
				    ADVICE_PRIORITY_LOW, a);
				dropped[i] = true;
				if (row == NULL)
					continue;
				drop_ddl(a, row->ddl, sizeof(row->ddl));
				snprintf(row->evidence, sizeof(row->evidence),
				    "its %zu column(s) lead %s, which serves the same lookups; %lld bytes to save",
				    a->n_columns, b->index, (long long) a->size_bytes);
			}
		}
	}

	/* unused on every member of the cluster */
	for (size_t i = 0; i < n_indexes; i++) {
		const struct index_fact *a = &indexes[i];
		size_t zero = 0;
		struct index_advice *row;
		char window[32];
		if (!first[i] || dropped[i] || !a->is_valid || a->is_unique || backs_constraint(a))
			continue;
		for (size_t j = 0; j < n_indexes; j++) {
			if (same_index(a, &indexes[j]) && indexes[j].window_scans == 0)
				zero++;
		}
		if (zero < n_members || n_members == 0)
			continue;
		row = add(out, &count, max_out, INDEX_ADVICE_UNUSED,
		    a->size_bytes >= 100LL * 1024 * 1024 ? ADVICE_PRIORITY_HIGH
		    : a->size_bytes >= 1024 * 1024      ? ADVICE_PRIORITY_MEDIUM
							: ADVICE_PRIORITY_LOW,
		    a);
		dropped[i] = true;
		if (row == NULL)
			continue;
		drop_ddl(a, row->ddl, sizeof(row->ddl));
		analysis_duration(window_seconds, window, sizeof(window));
		snprintf(row->evidence, sizeof(row->evidence),
		    "0 scans on all %zu member(s) of the cluster (primary and replicas) over the last %s; %lld bytes; backs no constraint",
		    n_members, window, (long long) a->size_bytes);
	}

	/* foreign keys whose columns lead no index: every delete or key
	 * update on the referenced table scans the referencing one */
	for (size_t k = 0; k < n_foreign_keys; k++) {
		const struct foreign_key_fact *fk = &foreign_keys[k];
		bool covered = false;
		for (size_t i = 0; i < n_indexes && !covered; i++) {
			const struct index_fact *a = &indexes[i];
			size_t matched = 0;
			if (!first[i] || !a->is_valid || a->predicate[0] != '\0' ||
			    strcmp(a->database, fk->database) != 0 ||
			    strcmp(a->schema, fk->schema) != 0 || strcmp(a->table, fk->table) != 0 ||
			    a->n_columns < fk->n_columns)
				continue;
			/* the key's columns, in any order, must be the leading
			 * ones */
			for (size_t c = 0; c < fk->n_columns; c++) {
				for (size_t d = 0; d < fk->n_columns; d++) {
					if (strcmp(fk->columns[c], a->columns[d]) == 0) {
						matched++;
						break;
					}
				}
			}
			covered = matched == fk->n_columns;
		}
		if (!covered) {
			struct index_fact table = {.database = fk->database, .schema = fk->schema,
			    .table = fk->table, .index = ""};
			struct index_advice *row = add(out, &count, max_out,
			    INDEX_ADVICE_FOREIGN_KEY_WITHOUT_INDEX, ADVICE_PRIORITY_MEDIUM, &table);
			char name[340];
			char columns[256] = "";
			size_t used = 0;
			if (row == NULL)
				continue;
			for (size_t c = 0; c < fk->n_columns && used < sizeof(columns); c++) {
				char column[160];
				analysis_quote_ident(fk->columns[c], column, sizeof(column));
				used += (size_t) snprintf(columns + used, sizeof(columns) - used, "%s%s",
				    c > 0 ? ", " : "", column);
			}
			analysis_qualified(fk->schema, fk->table, name, sizeof(name));
			snprintf(row->ddl, sizeof(row->ddl), "CREATE INDEX CONCURRENTLY ON %s (%s);",
			    name, columns);
			snprintf(row->evidence, sizeof(row->evidence),
			    "foreign key %s references %s: without an index on (%s), each delete or key update there scans %s",
			    fk->name, fk->referenced_table, columns, name);
		}
	}
	free(first);
	free(dropped);
	if (count > 0 && max_out > 0)
		qsort(out, count < max_out ? count : max_out, sizeof(out[0]), compare_advice);
	return count;
}
