/*
 * index_answer.c - index recommendations and index checks from a store's
 * facts (index_answer.h): what used to be the second half of
 * store_sqlite_indexes.c, shared so that the SQLite and the PostgreSQL
 * stores answer alike with only their SQL apart.
 *
 * The facts live in one arena; the answer's rows are malloc'd one by one
 * (store_answer_free frees them).
 */
#include "collector/index_answer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/error.h"

struct index_facts {
	struct pgf_arena *arena;
	struct table_window *tables;
	const char **table_clusters;
	int64_t *table_spans_us;
	size_t n_tables, tables_capacity;
	struct statement_fact *statements;
	size_t n_statements, statements_capacity;
	struct index_fact *indexes;
	const char **index_clusters;
	int64_t *index_spans_us;
	size_t n_indexes, indexes_capacity;
	struct foreign_key_fact *foreign_keys;
	const char **foreign_key_clusters;
	size_t n_foreign_keys, foreign_keys_capacity;
	struct index_check_fact *checks;
	size_t n_checks, checks_capacity;
};

/* ---- filters and columns ---- */

void
index_answer_request_filter(const Pgfleet__V1__IndexRecommendationsRequest *request,
    int64_t now_us, struct index_filter *filter)
{
	const Pgfleet__V1__Scope *scope = request->scope;

	filter->instance = scope != NULL ? scope->instance : "";
	filter->cluster = scope != NULL ? scope->cluster : "";
	filter->database = scope != NULL ? scope->database : "";
	filter->until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : now_us;
	filter->since_us = scope != NULL && scope->since_us != 0
	    ? scope->since_us
	    : filter->until_us - INDEX_ANSWER_DEFAULT_WINDOW_US;
}

bool
index_answer_check_filter(const Pgfleet__V1__Report *report, struct index_filter *filter)
{
	/* a new tables snapshot is when the sequential scans change: asking
	 * then, not at every report, bounds the work */
	if (report->tables == NULL || report->instance == NULL)
		return false;
	filter->instance = report->instance->name;
	filter->cluster = "";
	filter->database = "";
	filter->until_us = report->collected_at_us;
	filter->since_us = report->collected_at_us - INDEX_ANSWER_CHECK_WINDOW_US;
	return true;
}

char *
index_answer_join_columns(char *const *list, size_t n)
{
	size_t len = 1;
	char *text;
	for (size_t i = 0; i < n; i++)
		len += strlen(list[i]) + 1;
	if ((text = malloc(len)) == NULL)
		return NULL;
	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(text, INDEX_ANSWER_COLUMN_SEPARATOR);
		strcat(text, list[i]);
	}
	return text;
}

/* ---- the facts ---- */

struct index_facts *
index_facts_new(void)
{
	struct index_facts *facts = calloc(1, sizeof(*facts));
	if (facts != NULL && (facts->arena = pgf_arena_new()) == NULL) {
		free(facts);
		return NULL;
	}
	return facts;
}

void
index_facts_free(struct index_facts *facts)
{
	if (facts == NULL)
		return;
	pgf_arena_free(facts->arena);
	free(facts);
}

/* An arena copy ("" for NULL); NULL when out of memory. */
static const char *
copy(struct index_facts *facts, const char *text)
{
	return pgf_arena_strdup(facts->arena, text != NULL ? text : "");
}

/* Splits a separator list into an arena array. */
static const char *const *
split_columns(struct index_facts *facts, const char *text, size_t *count)
{
	size_t n = text[0] == '\0' ? 0 : 1;
	const char **list;
	char *copied;
	for (const char *p = text; *p != '\0'; p++)
		n += *p == INDEX_ANSWER_COLUMN_SEPARATOR[0];
	*count = 0;
	list = pgf_arena_array(facts->arena, n > 0 ? n : 1, sizeof(list[0]));
	copied = pgf_arena_strdup(facts->arena, text);
	if (list == NULL || copied == NULL)
		return NULL;
	for (char *p = copied; n > 0 && *count < n;) {
		char *end = strchr(p, INDEX_ANSWER_COLUMN_SEPARATOR[0]);
		list[(*count)++] = p;
		if (end == NULL)
			break;
		*end = '\0';
		p = end + 1;
	}
	return list;
}

/* Grows an arena array of elements of size bytes to hold one more (the
 * capacity is that of the first array of a kind; the others follow it). */
static void *
grow(struct index_facts *facts, void *array, size_t count, size_t capacity, size_t size)
{
	void *bigger;
	if (count < capacity)
		return array;
	if (count >= INDEX_ANSWER_MAX_ROWS)
		return NULL;
	if ((bigger = pgf_arena_array(facts->arena, capacity == 0 ? 64 : capacity * 2, size)) ==
	    NULL)
		return NULL;
	if (count > 0)
		memcpy(bigger, array, count * size);
	return bigger;
}

static size_t
grown(size_t count, size_t capacity)
{
	return count < capacity ? capacity : capacity == 0 ? 64 : capacity * 2;
}

int
index_facts_add_table(struct index_facts *facts, const struct table_window *table,
    const char *cluster, int64_t span_us)
{
	size_t n = facts->n_tables, capacity = facts->tables_capacity;
	struct table_window *t;

	if ((facts->tables = grow(facts, facts->tables, n, capacity, sizeof(facts->tables[0]))) ==
		NULL ||
	    (facts->table_clusters = grow(facts, facts->table_clusters, n, capacity,
		 sizeof(facts->table_clusters[0]))) == NULL ||
	    (facts->table_spans_us = grow(facts, facts->table_spans_us, n, capacity,
		 sizeof(facts->table_spans_us[0]))) == NULL)
		return PGF_ENOMEM;
	facts->tables_capacity = grown(n, capacity);
	t = &facts->tables[n];
	*t = *table;
	t->instance = copy(facts, table->instance);
	t->database = copy(facts, table->database);
	t->schema = copy(facts, table->schema);
	t->table = copy(facts, table->table);
	facts->table_clusters[n] = copy(facts, cluster);
	facts->table_spans_us[n] = span_us;
	if (t->instance == NULL || t->database == NULL || t->schema == NULL || t->table == NULL ||
	    facts->table_clusters[n] == NULL)
		return PGF_ENOMEM;
	facts->n_tables++;
	return PGF_OK;
}

int
index_facts_add_statement(struct index_facts *facts, const struct statement_fact *statement)
{
	size_t n = facts->n_statements;
	struct statement_fact *s;

	if ((facts->statements = grow(facts, facts->statements, n, facts->statements_capacity,
		 sizeof(facts->statements[0]))) == NULL)
		return PGF_ENOMEM;
	facts->statements_capacity = grown(n, facts->statements_capacity);
	s = &facts->statements[n];
	*s = *statement;
	s->instance = copy(facts, statement->instance);
	s->database = copy(facts, statement->database);
	s->text = copy(facts, statement->text);
	if (s->instance == NULL || s->database == NULL || s->text == NULL)
		return PGF_ENOMEM;
	facts->n_statements++;
	return PGF_OK;
}

int
index_facts_add_index(struct index_facts *facts, const struct index_fact *index,
    const char *columns, const char *cluster, int64_t span_us)
{
	size_t n = facts->n_indexes, capacity = facts->indexes_capacity;
	struct index_fact *x;

	if ((facts->indexes = grow(facts, facts->indexes, n, capacity, sizeof(facts->indexes[0]))) ==
		NULL ||
	    (facts->index_clusters = grow(facts, facts->index_clusters, n, capacity,
		 sizeof(facts->index_clusters[0]))) == NULL ||
	    (facts->index_spans_us = grow(facts, facts->index_spans_us, n, capacity,
		 sizeof(facts->index_spans_us[0]))) == NULL)
		return PGF_ENOMEM;
	facts->indexes_capacity = grown(n, capacity);
	x = &facts->indexes[n];
	*x = *index;
	x->instance = copy(facts, index->instance);
	x->database = copy(facts, index->database);
	x->schema = copy(facts, index->schema);
	x->table = copy(facts, index->table);
	x->index = copy(facts, index->index);
	x->access_method = copy(facts, index->access_method);
	x->predicate = copy(facts, index->predicate);
	x->definition = copy(facts, index->definition);
	x->constraint_type = copy(facts, index->constraint_type);
	facts->index_clusters[n] = copy(facts, cluster);
	facts->index_spans_us[n] = span_us;
	if (x->instance == NULL || x->database == NULL || x->schema == NULL || x->table == NULL ||
	    x->index == NULL || x->access_method == NULL || x->predicate == NULL ||
	    x->definition == NULL || x->constraint_type == NULL ||
	    facts->index_clusters[n] == NULL ||
	    (x->columns = split_columns(facts, columns != NULL ? columns : "", &x->n_columns)) ==
		NULL)
		return PGF_ENOMEM;
	facts->n_indexes++;
	return PGF_OK;
}

int
index_facts_add_foreign_key(struct index_facts *facts,
    const struct foreign_key_fact *foreign_key, const char *columns, const char *cluster)
{
	size_t n = facts->n_foreign_keys, capacity = facts->foreign_keys_capacity;
	struct foreign_key_fact *k;

	if ((facts->foreign_keys = grow(facts, facts->foreign_keys, n, capacity,
		 sizeof(facts->foreign_keys[0]))) == NULL ||
	    (facts->foreign_key_clusters = grow(facts, facts->foreign_key_clusters, n, capacity,
		 sizeof(facts->foreign_key_clusters[0]))) == NULL)
		return PGF_ENOMEM;
	facts->foreign_keys_capacity = grown(n, capacity);
	k = &facts->foreign_keys[n];
	*k = *foreign_key;
	k->database = copy(facts, foreign_key->database);
	k->schema = copy(facts, foreign_key->schema);
	k->table = copy(facts, foreign_key->table);
	k->name = copy(facts, foreign_key->name);
	k->referenced_table = copy(facts, foreign_key->referenced_table);
	facts->foreign_key_clusters[n] = copy(facts, cluster);
	if (k->database == NULL || k->schema == NULL || k->table == NULL || k->name == NULL ||
	    k->referenced_table == NULL || facts->foreign_key_clusters[n] == NULL ||
	    (k->columns = split_columns(facts, columns != NULL ? columns : "", &k->n_columns)) ==
		NULL)
		return PGF_ENOMEM;
	facts->n_foreign_keys++;
	return PGF_OK;
}

int
index_facts_add_check(struct index_facts *facts, const struct index_check_fact *check)
{
	size_t n = facts->n_checks;
	struct index_check_fact *c;

	if ((facts->checks = grow(facts, facts->checks, n, facts->checks_capacity,
		 sizeof(facts->checks[0]))) == NULL)
		return PGF_ENOMEM;
	facts->checks_capacity = grown(n, facts->checks_capacity);
	c = &facts->checks[n];
	*c = *check;
	c->instance = copy(facts, check->instance);
	c->database = copy(facts, check->database);
	c->index_statement = copy(facts, check->index_statement);
	c->detail = copy(facts, check->detail);
	if (c->instance == NULL || c->database == NULL || c->index_statement == NULL ||
	    c->detail == NULL)
		return PGF_ENOMEM;
	facts->n_checks++;
	return PGF_OK;
}

bool
index_facts_any_flagged(const struct index_facts *facts)
{
	return index_advice_seq_scans(facts->tables, facts->n_tables, NULL, 0) > 0;
}

/* The stored verdict on proposal p for statement s on instance (the
 * stores' primary key: one at most); NULL when none. */
static const struct index_check_fact *
find_check(const struct index_facts *facts, const char *instance,
    const struct statement_fact *s, const struct index_proposal *p)
{
	for (size_t i = 0; i < facts->n_checks; i++) {
		const struct index_check_fact *c = &facts->checks[i];
		if (c->queryid == s->queryid && strcmp(c->instance, instance) == 0 &&
		    strcmp(c->database, s->database) == 0 &&
		    strcmp(c->index_statement, p->hypothetical_ddl) == 0)
			return c;
	}
	return NULL;
}

/* ---- the answer ---- */

/* A malloc'd copy (the answer's ownership); sets *oom when out of memory. */
static char *
dup(const char *text, bool *oom)
{
	char *copied = strdup(text != NULL ? text : "");
	if (copied == NULL)
		*oom = true;
	return copied;
}

struct answer_rows {
	Pgfleet__V1__IndexRecommendation **rows;
	size_t n_rows;
	size_t capacity;
	bool oom;
};

static Pgfleet__V1__IndexRecommendation *
new_row(struct answer_rows *a, const char *type, enum advice_priority priority)
{
	Pgfleet__V1__IndexRecommendation *row;
	if (a->n_rows == a->capacity) {
		size_t capacity = a->capacity == 0 ? 32 : a->capacity * 2;
		Pgfleet__V1__IndexRecommendation **rows =
		    realloc(a->rows, capacity * sizeof(rows[0]));
		if (rows == NULL) {
			a->oom = true;
			return NULL;
		}
		a->rows = rows;
		a->capacity = capacity;
	}
	if ((row = malloc(sizeof(*row))) == NULL) {
		a->oom = true;
		return NULL;
	}
	pgfleet__v1__index_recommendation__init(row);
	a->rows[a->n_rows++] = row;
	/* every string malloc'd, as store_answer_free expects */
	row->type = dup(type, &a->oom);
	row->priority = dup(advice_priority_name(priority), &a->oom);
	row->schema = dup("", &a->oom);
	row->table = dup("", &a->oom);
	row->recommendation = dup("", &a->oom);
	row->instance = dup("", &a->oom);
	row->cluster = dup("", &a->oom);
	row->database = dup("", &a->oom);
	row->index = dup("", &a->oom);
	row->ddl = dup("", &a->oom);
	row->evidence = dup("", &a->oom);
	row->predicate = dup("", &a->oom);
	row->query = dup("", &a->oom);
	row->hypopg_check = dup("", &a->oom);
	row->window = dup("", &a->oom);
	return row;
}

static void
set(char **field, const char *text, bool *oom)
{
	free(*field);
	*field = dup(text, oom);
}

static void
set_window(Pgfleet__V1__IndexRecommendation *row, int64_t span_us, bool *oom)
{
	char text[32];
	row->window_seconds = span_us / 1000000;
	analysis_duration(row->window_seconds, text, sizeof(text));
	set(&row->window, text, oom);
}

/* The hypopg verdict for a proposal, from the stored checks. */
static void
fill_check(const struct index_facts *facts, Pgfleet__V1__IndexRecommendation *row,
    const char *instance, const struct statement_fact *s, const struct index_proposal *p,
    bool *oom)
{
	const struct index_check_fact *c = find_check(facts, instance, s, p);
	char evidence[2048];

	if (c == NULL) {
		set(&row->hypopg_check, p->key.is_select ? "pending" : "not_checked", oom);
		return;
	}
	if (c->status == PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK) {
		row->cost_before = c->cost_before;
		row->cost_after = c->cost_after;
		row->hypothetical_index_used = c->index_used;
		set(&row->hypopg_check, "ok", oom);
		snprintf(evidence, sizeof(evidence),
		    "%s; hypopg: the planner's cost of the statement goes from %.2f to %.2f with the index (%s, %s; estimated size %lld bytes)",
		    row->evidence, row->cost_before, row->cost_after,
		    row->hypothetical_index_used ? "the plan uses it" : "the plan does not use it",
		    c->detail, (long long) c->estimated_bytes);
	} else {
		set(&row->hypopg_check,
		    c->status == PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_NOT_INSTALLED
			? "not_installed"
			: "error",
		    oom);
		snprintf(evidence, sizeof(evidence), "%s; hypopg check: %s", row->evidence,
		    c->detail);
	}
	set(&row->evidence, evidence, oom);
}

static const char *
cluster_key(const char *cluster, const char *instance)
{
	/* an instance that never said its system identifier is alone */
	return cluster[0] != '\0' ? cluster : instance;
}

/* Structural advice (analysis_indexes) for each cluster in facts. */
static void
add_structural(const struct index_facts *facts, struct answer_rows *a)
{
	size_t start = 0;
	while (start < facts->n_indexes) {
		const char *cluster =
		    cluster_key(facts->index_clusters[start], facts->indexes[start].instance);
		size_t end = start, n_members = 0, n_fks = 0, fk_start = 0;
		int64_t span_us = INT64_MAX;
		char members[512] = "";
		struct index_advice *advice;
		size_t count;

		while (end < facts->n_indexes &&
		    strcmp(cluster_key(facts->index_clusters[end], facts->indexes[end].instance),
			cluster) == 0) {
			bool seen = false;
			for (size_t j = start; j < end && !seen; j++)
				seen = strcmp(facts->indexes[j].instance, facts->indexes[end].instance) == 0;
			if (!seen) {
				n_members++;
				snprintf(members + strlen(members), sizeof(members) - strlen(members),
				    "%s%s", n_members > 1 ? "," : "", facts->indexes[end].instance);
			}
			if (facts->indexes[end].window_scans >= 0 && facts->index_spans_us[end] < span_us)
				span_us = facts->index_spans_us[end];
			end++;
		}
		if (span_us == INT64_MAX)
			span_us = 0;
		for (size_t k = 0; k < facts->n_foreign_keys; k++) {
			if (strcmp(facts->foreign_key_clusters[k], facts->index_clusters[start]) == 0) {
				if (n_fks == 0)
					fk_start = k;
				n_fks++;
			}
		}
		/* foreign keys of a cluster are contiguous (ordered by cluster) */
		count = analysis_indexes(&facts->indexes[start], end - start, n_members,
		    n_fks > 0 ? &facts->foreign_keys[fk_start] : NULL, n_fks, span_us / 1000000,
		    NULL, 0);
		advice = calloc(count > 0 ? count : 1, sizeof(*advice));
		if (advice == NULL) {
			a->oom = true;
			return;
		}
		count = analysis_indexes(&facts->indexes[start], end - start, n_members,
		    n_fks > 0 ? &facts->foreign_keys[fk_start] : NULL, n_fks, span_us / 1000000,
		    advice, count);
		for (size_t i = 0; i < count; i++) {
			Pgfleet__V1__IndexRecommendation *row =
			    new_row(a, index_advice_type_name(advice[i].type), advice[i].priority);
			char text[1400];
			if (row == NULL)
				break;
			set(&row->schema, advice[i].schema, &a->oom);
			set(&row->table, advice[i].table, &a->oom);
			set(&row->database, advice[i].database, &a->oom);
			set(&row->index, advice[i].index, &a->oom);
			set(&row->ddl, advice[i].ddl, &a->oom);
			set(&row->evidence, advice[i].evidence, &a->oom);
			set(&row->instance, members, &a->oom);
			set(&row->cluster, facts->index_clusters[start], &a->oom);
			switch (advice[i].type) {
			case INDEX_ADVICE_FOREIGN_KEY_WITHOUT_INDEX:
				snprintf(text, sizeof(text), "Add an index for the foreign key of %s.%s",
				    advice[i].schema, advice[i].table);
				break;
			case INDEX_ADVICE_INVALID:
				snprintf(text, sizeof(text), "Rebuild invalid index %s.%s",
				    advice[i].schema, advice[i].index);
				break;
			default:
				snprintf(text, sizeof(text), "Drop %s index %s.%s",
				    index_advice_type_name(advice[i].type), advice[i].schema,
				    advice[i].index);
				break;
			}
			set(&row->recommendation, text, &a->oom);
			set_window(row, span_us, &a->oom);
		}
		free(advice);
		start = end;
	}
}

/* The tables read mostly by sequential scans and the index proposals for
 * them (both malloc'd, the caller's); PGF_ENOMEM. */
static int
propose(const struct index_facts *facts, struct seq_scan_advice **flagged_out,
    size_t *n_flagged_out, struct index_proposal **proposals_out, size_t *n_proposals_out)
{
	struct seq_scan_advice *flagged;
	struct index_proposal *proposals;
	size_t n_flagged, n_proposals;

	*flagged_out = NULL;
	*proposals_out = NULL;
	n_flagged = index_advice_seq_scans(facts->tables, facts->n_tables, NULL, 0);
	flagged = calloc(n_flagged > 0 ? n_flagged : 1, sizeof(*flagged));
	if (flagged == NULL)
		return PGF_ENOMEM;
	n_flagged = index_advice_seq_scans(facts->tables, facts->n_tables, flagged, n_flagged);
	n_proposals = index_advice_proposals(facts->tables, flagged, n_flagged,
	    facts->statements, facts->n_statements, facts->indexes, facts->n_indexes, NULL, 0);
	proposals = calloc(n_proposals > 0 ? n_proposals : 1, sizeof(*proposals));
	if (proposals == NULL) {
		free(flagged);
		return PGF_ENOMEM;
	}
	n_proposals = index_advice_proposals(facts->tables, flagged, n_flagged,
	    facts->statements, facts->n_statements, facts->indexes, facts->n_indexes, proposals,
	    n_proposals);
	*flagged_out = flagged;
	*n_flagged_out = n_flagged;
	*proposals_out = proposals;
	*n_proposals_out = n_proposals;
	return PGF_OK;
}

/* Sequential-scan tables and the proposals for them, with their stored
 * hypopg verdicts. */
static void
add_missing(const struct index_facts *facts, struct answer_rows *a)
{
	struct seq_scan_advice *flagged = NULL;
	struct index_proposal *proposals = NULL;
	size_t n_flagged = 0, n_proposals = 0;

	if (propose(facts, &flagged, &n_flagged, &proposals, &n_proposals) != PGF_OK) {
		a->oom = true;
		return;
	}
	for (size_t i = 0; i < n_flagged; i++) {
		const struct table_window *t = &facts->tables[flagged[i].table];
		Pgfleet__V1__IndexRecommendation *row =
		    new_row(a, "high_sequential_scans", flagged[i].priority);
		if (row == NULL)
			break;
		set(&row->schema, t->schema, &a->oom);
		set(&row->table, t->table, &a->oom);
		set(&row->instance, t->instance, &a->oom);
		set(&row->cluster, facts->table_clusters[flagged[i].table], &a->oom);
		set(&row->database, t->database, &a->oom);
		set(&row->recommendation, flagged[i].recommendation, &a->oom);
		set(&row->evidence, flagged[i].evidence, &a->oom);
		row->seq_scans = t->seq_scans;
		row->seq_tuples_read = t->seq_tuples_read;
		row->index_scans = t->index_scans;
		row->avg_tuples_per_scan = round(flagged[i].avg_tuples_per_scan * 100.0) / 100.0;
		set_window(row, facts->table_spans_us[flagged[i].table], &a->oom);
	}
	for (size_t i = 0; i < n_proposals && !a->oom; i++) {
		const struct index_proposal *p = &proposals[i];
		const struct table_window *t = &facts->tables[p->table];
		const struct statement_fact *s = &facts->statements[p->statement];
		Pgfleet__V1__IndexRecommendation *row = new_row(a, "missing_index", p->priority);
		if (row == NULL)
			break;
		set(&row->schema, t->schema, &a->oom);
		set(&row->table, t->table, &a->oom);
		set(&row->instance, t->instance, &a->oom);
		set(&row->cluster, facts->table_clusters[p->table], &a->oom);
		set(&row->database, t->database, &a->oom);
		set(&row->recommendation, p->recommendation, &a->oom);
		set(&row->evidence, p->evidence, &a->oom);
		set(&row->ddl, p->ddl, &a->oom);
		set(&row->index, "", &a->oom);
		set(&row->predicate, p->key.predicate, &a->oom);
		set(&row->query, s->text, &a->oom);
		row->queryid = s->queryid;
		row->seq_scans = t->seq_scans;
		row->seq_tuples_read = t->seq_tuples_read;
		row->index_scans = t->index_scans;
		row->avg_tuples_per_scan =
		    t->seq_scans > 0 ? round((double) t->seq_tuples_read / (double) t->seq_scans * 100.0) / 100.0
				     : 0.0;
		row->columns = calloc(p->key.n_columns > 0 ? p->key.n_columns : 1, sizeof(char *));
		if (row->columns == NULL) {
			a->oom = true;
			break;
		}
		for (size_t c = 0; c < p->key.n_columns; c++)
			row->columns[row->n_columns++] = dup(p->key.columns[c], &a->oom);
		set_window(row, facts->table_spans_us[p->table], &a->oom);
		fill_check(facts, row, t->instance, s, p, &a->oom);
	}
	free(flagged);
	free(proposals);
}

static int
priority_rank(const char *priority)
{
	return strcmp(priority, "high") == 0 ? 0 : strcmp(priority, "medium") == 0 ? 1 : 2;
}

static int
compare_rows(const void *pa, const void *pb)
{
	const Pgfleet__V1__IndexRecommendation *a =
	    *(const Pgfleet__V1__IndexRecommendation *const *) pa;
	const Pgfleet__V1__IndexRecommendation *b =
	    *(const Pgfleet__V1__IndexRecommendation *const *) pb;
	int ra = priority_rank(a->priority), rb = priority_rank(b->priority);
	return ra < rb ? -1 : ra > rb;
}

int
index_answer_recommendations(const struct index_facts *facts, uint32_t limit,
    Pgfleet__V1__IndexRecommendations *answer)
{
	struct answer_rows rows;
	size_t keep = limit > 0 ? limit : INDEX_ANSWER_DEFAULT_LIMIT;

	memset(&rows, 0, sizeof(rows));
	add_missing(facts, &rows);
	if (!rows.oom)
		add_structural(facts, &rows);
	answer->rows = rows.rows;
	answer->n_rows = rows.n_rows;
	if (rows.oom)
		return PGF_ENOMEM;
	/* stable by priority: insertion sort keeps each type's order */
	for (size_t i = 1; i < answer->n_rows; i++) {
		Pgfleet__V1__IndexRecommendation *key = answer->rows[i];
		size_t j = i;
		while (j > 0 && compare_rows(&answer->rows[j - 1], &key) > 0) {
			answer->rows[j] = answer->rows[j - 1];
			j--;
		}
		answer->rows[j] = key;
	}
	/* past the limit: freed here, the answer keeps the first rows */
	while (answer->n_rows > keep)
		protobuf_c_message_free_unpacked(&answer->rows[--answer->n_rows]->base, NULL);
	return PGF_OK;
}

int
index_answer_checks(const struct index_facts *facts, const char *instance, int64_t now_us,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count)
{
	struct seq_scan_advice *flagged = NULL;
	struct index_proposal *proposals = NULL;
	size_t n_flagged = 0, n_proposals = 0;
	int rv;

	*checks = NULL;
	*count = 0;
	if ((rv = propose(facts, &flagged, &n_flagged, &proposals, &n_proposals)) != PGF_OK)
		return rv;
	free(flagged);
	if (n_proposals > 0 &&
	    (*checks = calloc(n_proposals < INDEX_ANSWER_MAX_CHECKS ? n_proposals
								 : INDEX_ANSWER_MAX_CHECKS,
		 sizeof((*checks)[0]))) == NULL)
		rv = PGF_ENOMEM;
	for (size_t i = 0; rv == PGF_OK && i < n_proposals && *count < INDEX_ANSWER_MAX_CHECKS;
	     i++) {
		const struct index_proposal *p = &proposals[i];
		const struct statement_fact *s = &facts->statements[p->statement];
		const struct index_check_fact *c;
		Pgfleet__V1__IndexCheckRequest *check;
		bool oom = false;
		if (!p->key.is_select)
			continue;
		/* a verdict stands for a day; a failed check for an hour */
		c = find_check(facts, instance, s, p);
		if (c != NULL &&
		    c->checked_us > (c->status == PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK
					    ? now_us - INDEX_ANSWER_CHECK_FRESH_US
					    : now_us - INDEX_ANSWER_RECHECK_FAILED_US))
			continue;
		if ((check = malloc(sizeof(*check))) == NULL) {
			rv = PGF_ENOMEM;
			break;
		}
		pgfleet__v1__index_check_request__init(check);
		(*checks)[(*count)++] = check;
		check->database = dup(s->database, &oom);
		check->statement = dup(s->text, &oom);
		check->index_statement = dup(p->hypothetical_ddl, &oom);
		check->queryid = s->queryid;
		check->n_params = p->key.n_params;
		if (oom)
			rv = PGF_ENOMEM;
	}
	free(proposals);
	if (rv != PGF_OK) {
		for (size_t i = 0; i < *count; i++)
			protobuf_c_message_free_unpacked(&(*checks)[i]->base, NULL);
		free(*checks);
		*checks = NULL;
		*count = 0;
		return rv;
	}
	if (*count == 0) {
		free(*checks);
		*checks = NULL;
	}
	return PGF_OK;
}
