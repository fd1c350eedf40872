/*
 * index_advice.c - tables read by sequential scans and CREATE INDEX
 * proposals from the statements that read them (see index_advice.h).
 *
 * Why the statement text: pg_stat_statements keeps no plans, but its
 * normalized text says which columns a statement filters, joins and sorts
 * on. libpg_query (Postgres' own parser) turns it into a parse tree, read
 * here as JSON with jansson, so odd quoting or comments never fool a
 * column search. Constants are $n placeholders in normalized text, so a
 * partial index can only come from conditions that hold whatever the
 * parameters: IS [NOT] NULL and boolean columns.
 *
 * Column order follows the guide ("order matters"): columns compared with
 * = (or IN, or joined) first, since a btree serves any mix of them, then
 * one range column (only the first range column of a btree narrows the
 * scan), else the ORDER BY columns so the index also returns rows in order.
 */
#include "collector/index_advice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pg_query.h>

/* ---- tables read by sequential scans ---- */

static int
compare_seq_scans(const void *pa, const void *pb, const struct table_window *tables)
{
	const struct seq_scan_advice *a = pa, *b = pb;
	int64_t ta = tables[a->table].seq_tuples_read, tb = tables[b->table].seq_tuples_read;
	if (ta != tb)
		return ta > tb ? -1 : 1;
	return a->table < b->table ? -1 : a->table > b->table;
}

size_t
index_advice_seq_scans(const struct table_window *tables, size_t n_tables,
    struct seq_scan_advice *out, size_t max_out)
{
	size_t count = 0;

	for (size_t i = 0; i < n_tables; i++) {
		const struct table_window *t = &tables[i];
		struct seq_scan_advice *row;
		double avg;
		if (t->table_bytes < INDEX_ADVICE_TINY_TABLE_BYTES ||
		    t->seq_scans < INDEX_ADVICE_MIN_SEQ_SCANS || t->seq_scans <= t->index_scans)
			continue;
		avg = (double) t->seq_tuples_read / (double) t->seq_scans;
		if (avg < INDEX_ADVICE_MIN_AVG_TUPLES)
			continue;
		if (count >= max_out) {
			count++;
			continue;
		}
		row = &out[count++];
		memset(row, 0, sizeof(*row));
		row->table = i;
		row->avg_tuples_per_scan = avg;
		row->priority = t->seq_tuples_read >= INDEX_ADVICE_HIGH_TUPLES ? ADVICE_PRIORITY_HIGH
									   : ADVICE_PRIORITY_MEDIUM;
		snprintf(row->recommendation, sizeof(row->recommendation),
		    "Consider adding indexes to table %s.%s", t->schema, t->table);
		snprintf(row->evidence, sizeof(row->evidence),
		    "%lld sequential scans read %lld tuples (%.0f a scan) against %lld index scans; the table has %lld live tuples in %lld bytes",
		    (long long) t->seq_scans, (long long) t->seq_tuples_read, avg,
		    (long long) t->index_scans, (long long) t->live_tuples,
		    (long long) t->table_bytes);
	}
	/* insertion sort: a handful of rows, and qsort has no context */
	for (size_t i = 1; i < count && i < max_out; i++) {
		struct seq_scan_advice key = out[i];
		size_t j = i;
		while (j > 0 && compare_seq_scans(&out[j - 1], &key, tables) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = key;
	}
	return count;
}

/* ---- columns from a statement's parse tree ---- */

struct relation {
	const char *schema; /* "" when unqualified */
	const char *name;
	const char *alias; /* "" when none */
};

#define MAX_RELATIONS 32

struct walk {
	const char *schema;
	const char *table;
	struct relation relations[MAX_RELATIONS];
	size_t n_relations;
	/* the target table's name in the statement: its alias, else its name */
	const char *target_ref;
	bool target_found;
	struct statement_columns *out;
	char range[INDEX_ADVICE_MAX_COLUMNS][INDEX_ADVICE_NAME_SIZE];
	size_t n_range;
	char order[INDEX_ADVICE_MAX_COLUMNS][INDEX_ADVICE_NAME_SIZE];
	size_t n_order;
	bool order_foreign; /* ORDER BY has something not of the target */
	char equality[INDEX_ADVICE_MAX_COLUMNS][INDEX_ADVICE_NAME_SIZE];
	size_t n_eq;
};

/* The only key of a one-key object ({"SelectStmt": {...}}), with its
 * value; NULL when node is not such an object. */
static const char *
node_type(json_t *node, json_t **value)
{
	const char *key;
	json_t *v;
	if (!json_is_object(node) || json_object_size(node) != 1)
		return NULL;
	json_object_foreach(node, key, v)
	{
		*value = v;
		return key;
	}
	return NULL;
}

static const char *
string_member(json_t *object, const char *name)
{
	json_t *v = json_object_get(object, name);
	return json_is_string(v) ? json_string_value(v) : "";
}

static void walk_condition(struct walk *w, json_t *node);

/* Collects the relations of a FROM list item; join conditions too. */
static void
walk_from(struct walk *w, json_t *node)
{
	json_t *v;
	const char *type = node_type(node, &v);
	if (type == NULL)
		return;
	if (strcmp(type, "RangeVar") == 0) {
		struct relation *r;
		if (w->n_relations >= MAX_RELATIONS)
			return;
		r = &w->relations[w->n_relations++];
		r->schema = string_member(v, "schemaname");
		r->name = string_member(v, "relname");
		r->alias = string_member(json_object_get(v, "alias"), "aliasname");
		if (!w->target_found && strcmp(r->name, w->table) == 0 &&
		    (r->schema[0] == '\0' || strcmp(r->schema, w->schema) == 0)) {
			w->target_found = true;
			w->target_ref = r->alias[0] != '\0' ? r->alias : r->name;
		}
	} else if (strcmp(type, "JoinExpr") == 0) {
		walk_from(w, json_object_get(v, "larg"));
		walk_from(w, json_object_get(v, "rarg"));
		walk_condition(w, json_object_get(v, "quals"));
	} else if (strcmp(type, "RangeSubselect") == 0) {
		/* a subquery's columns are not the table's: counts as another
		 * relation, so unqualified columns stay ambiguous */
		if (w->n_relations < MAX_RELATIONS) {
			struct relation *r = &w->relations[w->n_relations++];
			r->schema = "";
			r->name = "";
			r->alias = string_member(json_object_get(v, "alias"), "aliasname");
		}
	}
}

/* The column of the target table a node names, or NULL. */
static const char *
target_column(struct walk *w, json_t *node)
{
	json_t *v, *fields;
	const char *type = node_type(node, &v);
	size_t n;
	const char *names[3];

	if (type == NULL)
		return NULL;
	/* anything but a bare column (col::type, lower(col)) is an
	 * expression, which an index on the column does not serve */
	if (strcmp(type, "ColumnRef") != 0)
		return NULL;
	fields = json_object_get(v, "fields");
	n = json_array_size(fields);
	if (n == 0 || n > 3)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *field, *sv;
		const char *ftype = node_type(json_array_get(fields, i), &field);
		if (ftype == NULL || strcmp(ftype, "String") != 0)
			return NULL; /* t.* */
		sv = json_object_get(field, "sval");
		if (!json_is_string(sv))
			return NULL;
		names[i] = json_string_value(sv);
	}
	if (n == 1)
		return w->n_relations == 1 && w->target_found ? names[0] : NULL;
	if (n == 2)
		return strcmp(names[0], w->target_ref) == 0 ? names[1] : NULL;
	/* schema.table.column */
	return strcmp(names[0], w->schema) == 0 && strcmp(names[1], w->table) == 0 ? names[2]
										  : NULL;
}

static void
add_name(char list[][INDEX_ADVICE_NAME_SIZE], size_t *count, const char *name)
{
	for (size_t i = 0; i < *count; i++) {
		if (strcmp(list[i], name) == 0)
			return;
	}
	if (*count < INDEX_ADVICE_MAX_COLUMNS && strlen(name) < INDEX_ADVICE_NAME_SIZE)
		snprintf(list[(*count)++], INDEX_ADVICE_NAME_SIZE, "%s", name);
}

static void
add_predicate(struct walk *w, const char *column, const char *prefix, const char *suffix)
{
	char quoted[2 * INDEX_ADVICE_NAME_SIZE + 3];
	char *p = w->out->predicate;
	size_t used = strlen(p);
	int n;
	analysis_quote_ident(column, quoted, sizeof(quoted));
	n = snprintf(p + used, sizeof(w->out->predicate) - used, "%s%s%s%s",
	    used > 0 ? " AND " : "", prefix, quoted, suffix);
	if (n < 0 || (size_t) n >= sizeof(w->out->predicate) - used)
		p[used] = '\0'; /* too long: left out */
}

static const char *
operator_name(json_t *expr)
{
	json_t *names = json_object_get(expr, "name"), *v;
	const char *type;
	if (json_array_size(names) != 1)
		return "";
	type = node_type(json_array_get(names, 0), &v);
	if (type == NULL || strcmp(type, "String") != 0)
		return "";
	return string_member(v, "sval");
}

/* Collects the columns of an AND-ed condition (WHERE, JOIN ... ON). */
static void
walk_condition(struct walk *w, json_t *node)
{
	json_t *v;
	const char *type = node_type(node, &v);
	const char *column;

	if (type == NULL)
		return;
	if (strcmp(type, "BoolExpr") == 0) {
		const char *op = string_member(v, "boolop");
		json_t *args = json_object_get(v, "args");
		if (strcmp(op, "AND_EXPR") == 0) {
			for (size_t i = 0; i < json_array_size(args); i++)
				walk_condition(w, json_array_get(args, i));
		} else if (strcmp(op, "NOT_EXPR") == 0 && json_array_size(args) == 1 &&
		    (column = target_column(w, json_array_get(args, 0))) != NULL) {
			add_predicate(w, column, "NOT ", "");
		}
		/* OR: each branch would want its own index (a BitmapOr) */
		return;
	}
	if (strcmp(type, "NullTest") == 0) {
		if ((column = target_column(w, json_object_get(v, "arg"))) != NULL)
			add_predicate(w, column, "",
			    strcmp(string_member(v, "nulltesttype"), "IS_NULL") == 0 ? " IS NULL"
										 : " IS NOT NULL");
		return;
	}
	if (strcmp(type, "ColumnRef") == 0) {
		/* WHERE flag: a boolean column */
		if ((column = target_column(w, node)) != NULL)
			add_predicate(w, column, "", "");
		return;
	}
	if (strcmp(type, "A_Expr") == 0) {
		const char *kind = string_member(v, "kind");
		const char *op = operator_name(v);
		json_t *left = json_object_get(v, "lexpr"), *right = json_object_get(v, "rexpr");
		const char *l = target_column(w, left), *r = target_column(w, right);
		const char *col = l != NULL ? l : r;
		/* a column compared with itself (t.a = t.b) is not a lookup */
		if (col == NULL || (l != NULL && r != NULL))
			return;
		if (strcmp(kind, "AEXPR_IN") == 0) {
			if (l != NULL && strcmp(op, "=") == 0)
				add_name(w->equality, &w->n_eq, col);
			return;
		}
		if (strcmp(kind, "AEXPR_BETWEEN") == 0) {
			if (l != NULL)
				add_name(w->range, &w->n_range, col);
			return;
		}
		if (strcmp(kind, "AEXPR_OP") != 0)
			return;
		if (strcmp(op, "=") == 0)
			add_name(w->equality, &w->n_eq, col);
		else if (strcmp(op, "<") == 0 || strcmp(op, ">") == 0 || strcmp(op, "<=") == 0 ||
		    strcmp(op, ">=") == 0)
			add_name(w->range, &w->n_range, col);
		return;
	}
}

static void
walk_order(struct walk *w, json_t *sort)
{
	for (size_t i = 0; i < json_array_size(sort); i++) {
		json_t *v;
		const char *type = node_type(json_array_get(sort, i), &v);
		const char *column;
		if (type == NULL || strcmp(type, "SortBy") != 0)
			continue;
		column = target_column(w, json_object_get(v, "node"));
		if (column == NULL)
			w->order_foreign = true;
		else
			add_name(w->order, &w->n_order, column);
	}
}

/* The highest ParamRef number anywhere in the tree. */
static unsigned
max_param(json_t *node)
{
	unsigned best = 0;
	if (json_is_object(node)) {
		const char *key;
		json_t *v;
		json_object_foreach(node, key, v)
		{
			unsigned m;
			if (strcmp(key, "ParamRef") == 0) {
				json_t *number = json_object_get(v, "number");
				if (json_is_integer(number) && json_integer_value(number) > 0 &&
				    json_integer_value(number) < 65536)
					m = (unsigned) json_integer_value(number);
				else
					m = 0;
			} else {
				m = max_param(v);
			}
			if (m > best)
				best = m;
		}
	} else if (json_is_array(node)) {
		for (size_t i = 0; i < json_array_size(node); i++) {
			unsigned m = max_param(json_array_get(node, i));
			if (m > best)
				best = m;
		}
	}
	return best;
}

int
index_advice_statement_columns(const char *text, const char *schema, const char *table,
    struct statement_columns *out, char *errbuf, size_t errlen)
{
	PgQueryParseResult parsed;
	json_t *tree = NULL, *stmt, *v;
	json_error_t jerror;
	struct walk *w = NULL;
	const char *type;
	int rv = 1;

	memset(out, 0, sizeof(*out));
	parsed = pg_query_parse(text);
	if (parsed.error != NULL) {
		snprintf(errbuf, errlen, "could not parse the statement: %s",
		    parsed.error->message);
		pg_query_free_parse_result(parsed);
		return -1;
	}
	tree = json_loads(parsed.parse_tree, JSON_DECODE_ANY, &jerror);
	pg_query_free_parse_result(parsed);
	if (tree == NULL) {
		snprintf(errbuf, errlen, "could not read the parse tree: %s", jerror.text);
		return -1;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		rv = -1;
		goto done;
	}
	w->schema = schema;
	w->table = table;
	w->out = out;
	w->target_ref = "";
	stmt = json_object_get(json_array_get(json_object_get(tree, "stmts"), 0), "stmt");
	type = node_type(stmt, &v);
	if (type == NULL)
		goto done;
	if (strcmp(type, "SelectStmt") == 0) {
		json_t *from = json_object_get(v, "fromClause");
		/* UNION and friends: each arm is its own statement */
		if (strcmp(string_member(v, "op"), "SETOP_NONE") != 0)
			goto done;
		for (size_t i = 0; i < json_array_size(from); i++)
			walk_from(w, json_array_get(from, i));
		out->is_select = true;
	} else if (strcmp(type, "UpdateStmt") == 0 || strcmp(type, "DeleteStmt") == 0) {
		json_t *more = json_object_get(v, strcmp(type, "UpdateStmt") == 0 ? "fromClause"
										 : "usingClause");
		json_t *relation = json_object_get(v, "relation");
		json_t *wrapped = json_pack("{sO}", "RangeVar", relation);
		if (wrapped != NULL) {
			walk_from(w, wrapped);
			json_decref(wrapped);
		}
		for (size_t i = 0; i < json_array_size(more); i++)
			walk_from(w, json_array_get(more, i));
	} else {
		goto done;
	}
	if (!w->target_found)
		goto done;
	walk_condition(w, json_object_get(v, "whereClause"));
	if (out->is_select)
		walk_order(w, json_object_get(v, "sortClause"));

	/* equality columns, then one range column, else the order */
	for (size_t i = 0; i < w->n_eq; i++)
		add_name(out->columns, &out->n_columns, w->equality[i]);
	out->n_equality = out->n_columns;
	if (w->n_range > 0) {
		add_name(out->columns, &out->n_columns, w->range[0]);
	} else if (w->n_order > 0 && !w->order_foreign) {
		for (size_t i = 0; i < w->n_order; i++)
			add_name(out->columns, &out->n_columns, w->order[i]);
	}
	out->n_params = max_param(tree);
	rv = out->n_columns > 0 ? 0 : 1;
done:
	if (rv == 1) {
		bool is_select = out->is_select;
		memset(out, 0, sizeof(*out));
		out->is_select = is_select;
	}
	free(w);
	json_decref(tree);
	return rv;
}

/* ---- proposals ---- */

/* An existing valid index of the table whose leading columns are the
 * proposal's (as a set: equality columns serve in any order). */
static bool
already_indexed(const struct table_window *t, const struct statement_columns *key,
    const struct index_fact *existing, size_t n_existing)
{
	for (size_t i = 0; i < n_existing; i++) {
		const struct index_fact *x = &existing[i];
		size_t matched = 0;
		if (!x->is_valid || x->n_columns < key->n_columns ||
		    strcmp(x->database, t->database) != 0 || strcmp(x->schema, t->schema) != 0 ||
		    strcmp(x->table, t->table) != 0)
			continue;
		if (x->predicate[0] != '\0' && strcmp(x->predicate, key->predicate) != 0)
			continue;
		for (size_t c = 0; c < key->n_columns; c++) {
			for (size_t d = 0; d < key->n_columns; d++) {
				if (strcmp(key->columns[c], x->columns[d]) == 0) {
					matched++;
					break;
				}
			}
		}
		if (matched == key->n_columns)
			return true;
	}
	return false;
}

static bool
same_key(const struct statement_columns *a, const struct statement_columns *b)
{
	if (a->n_columns != b->n_columns || strcmp(a->predicate, b->predicate) != 0)
		return false;
	for (size_t i = 0; i < a->n_columns; i++) {
		if (strcmp(a->columns[i], b->columns[i]) != 0)
			return false;
	}
	return true;
}

/* idx_TABLE_COL1_COL2[_partial], cut to 63 bytes (NAMEDATALEN - 1). */
static void
index_name(const struct table_window *t, const struct statement_columns *key, char *out,
    size_t size)
{
	size_t used = (size_t) snprintf(out, size, "idx_%s", t->table);
	for (size_t i = 0; i < key->n_columns && used < size; i++)
		used += (size_t) snprintf(out + used, size - used, "_%s", key->columns[i]);
	if (key->predicate[0] != '\0' && used < size)
		snprintf(out + used, size - used, "_partial");
	if (strlen(out) > 63)
		out[63] = '\0';
}

static void
column_list(const struct statement_columns *key, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < key->n_columns && used < size; i++) {
		char quoted[2 * INDEX_ADVICE_NAME_SIZE + 3];
		analysis_quote_ident(key->columns[i], quoted, sizeof(quoted));
		used += (size_t) snprintf(out + used, size - used, "%s%s", i > 0 ? ", " : "",
		    quoted);
	}
}

size_t
index_advice_proposals(const struct table_window *tables,
    const struct seq_scan_advice *flagged, size_t n_flagged,
    const struct statement_fact *statements, size_t n_statements,
    const struct index_fact *existing, size_t n_existing, struct index_proposal *out,
    size_t max_out)
{
	size_t count = 0;
	size_t *order = NULL;

	if (n_statements > 0 && (order = malloc(n_statements * sizeof(order[0]))) == NULL)
		return 0;
	/* statements by total time, largest first (insertion sort into the
	 * order array: statements are a few hundred at most per instance) */
	for (size_t i = 0; i < n_statements; i++) {
		size_t j = i;
		while (j > 0 && statements[order[j - 1]].total_ms < statements[i].total_ms) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t f = 0; f < n_flagged; f++) {
		const struct table_window *t = &tables[flagged[f].table];
		size_t proposed = 0;
		for (size_t k = 0; k < n_statements && proposed < INDEX_ADVICE_STATEMENTS_PER_TABLE;
		     k++) {
			const struct statement_fact *s = &statements[order[k]];
			struct statement_columns key;
			struct index_proposal *row;
			char errbuf[256], columns[640], table_name[340];
			bool repeated = false;

			if (strcmp(s->instance, t->instance) != 0 ||
			    strcmp(s->database, t->database) != 0 || s->calls <= 0 ||
			    index_advice_statement_columns(s->text, t->schema, t->table, &key, errbuf,
				sizeof(errbuf)) != 0 ||
			    already_indexed(t, &key, existing, n_existing))
				continue;
			for (size_t p = 0; p < count && p < max_out && !repeated; p++)
				repeated = out[p].table == flagged[f].table && same_key(&out[p].key, &key);
			if (repeated)
				continue;
			proposed++;
			if (count >= max_out) {
				count++;
				continue;
			}
			row = &out[count++];
			memset(row, 0, sizeof(*row));
			row->table = flagged[f].table;
			row->statement = order[k];
			row->key = key;
			row->priority = flagged[f].priority;
			index_name(t, &key, row->index_name, sizeof(row->index_name));
			column_list(&key, columns, sizeof(columns));
			analysis_qualified(t->schema, t->table, table_name, sizeof(table_name));
			snprintf(row->ddl, sizeof(row->ddl), "CREATE INDEX CONCURRENTLY %s ON %s (%s)%s%s;",
			    row->index_name, table_name, columns, key.predicate[0] != '\0' ? " WHERE " : "",
			    key.predicate);
			snprintf(row->hypothetical_ddl, sizeof(row->hypothetical_ddl),
			    "CREATE INDEX ON %s (%s)%s%s", table_name, columns,
			    key.predicate[0] != '\0' ? " WHERE " : "", key.predicate);
			snprintf(row->recommendation, sizeof(row->recommendation),
			    "Add an index on %s (%s)%s%s for statement %lld", table_name, columns,
			    key.predicate[0] != '\0' ? " WHERE " : "", key.predicate,
			    (long long) s->queryid);
			snprintf(row->evidence, sizeof(row->evidence),
			    "statement %lld ran %lld times for %.1f ms in all; it %s %s.%s by (%s)%s, and %s.%s is read by %lld sequential scans (%.0f tuples a scan)%s%s",
			    (long long) s->queryid, (long long) s->calls, s->total_ms,
			    key.n_equality > 0 ? "looks up rows of" : "reads", t->schema, t->table,
			    columns,
			    key.n_equality > 0 && key.n_equality < key.n_columns
				? " (equality columns first, then the range or order column)"
				: "",
			    t->schema, t->table, (long long) t->seq_scans,
			    flagged[f].avg_tuples_per_scan,
			    key.predicate[0] != '\0' ? "; partial index: it only reads rows where "
						     : "",
			    key.predicate);
		}
	}
	free(order);
	return count;
}
