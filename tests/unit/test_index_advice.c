/*
 * test_index_advice.c - tables read by sequential scans, columns from
 * statement texts, and CREATE INDEX proposals, from plain data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/index_advice.h"

/* The key columns as "a,b,c" and the predicate, or "-" for no columns. */
static void
key_text(const struct statement_columns *key, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < key->n_columns; i++)
		used += (size_t) snprintf(out + used, size - used, "%s%s", i > 0 ? "," : "",
		    key->columns[i]);
	if (key->n_columns == 0)
		snprintf(out, size, "-");
	if (key->predicate[0] != '\0')
		snprintf(out + strlen(out), size - strlen(out), " WHERE %s", key->predicate);
}

struct columns_case {
	const char *text;
	const char *schema;
	const char *table;
	int rv;
	const char *expect; /* key_text */
	unsigned n_params;
	bool is_select;
};

static const struct columns_case columns_cases[] = {
	{"SELECT * FROM orders WHERE customer_id = $1", "public", "orders", 0, "customer_id", 1,
	    true},
	/* equality (join and where) before range; alias; partial from IS NULL */
	{"SELECT o.id FROM public.orders o JOIN customers c ON c.id = o.customer_id "
	 "WHERE o.created_at > $1 AND o.status = $2 AND o.deleted_at IS NULL "
	 "ORDER BY o.created_at LIMIT $3",
	    "public", "orders", 0, "customer_id,status,created_at WHERE deleted_at IS NULL", 3,
	    true},
	/* ORDER BY columns when there is no range; NOT flag is the predicate */
	{"SELECT * FROM events WHERE NOT processed ORDER BY created_at, id LIMIT $1", "public",
	    "events", 0, "created_at,id WHERE NOT processed", 1, true},
	/* IN counts as equality, BETWEEN as range */
	{"SELECT * FROM t WHERE b BETWEEN $1 AND $2 AND a IN ($3, $4)", "public", "t", 0, "a,b",
	    4, true},
	/* only the first range column */
	{"SELECT * FROM t WHERE x < $1 AND y > $2", "public", "t", 0, "x", 2, true},
	/* an unqualified column with two tables could be either's */
	{"SELECT * FROM a, b WHERE k = $1", "public", "a", 1, "-", 0, true},
	/* OR branches are not one index's */
	{"SELECT * FROM t WHERE a = $1 OR b = $2", "public", "t", 1, "-", 0, true},
	/* the table is not in the statement; another schema's table of the
	 * same name is not it */
	{"SELECT * FROM other WHERE a = $1", "public", "t", 1, "-", 0, true},
	{"SELECT * FROM s2.t WHERE a = $1", "public", "t", 1, "-", 0, true},
	/* UPDATE and DELETE use the index too, but are not SELECTs */
	{"UPDATE orders SET status = $1 WHERE customer_id = $2", "public", "orders", 0,
	    "customer_id", 2, false},
	{"DELETE FROM orders WHERE placed_at < $1", "public", "orders", 0, "placed_at", 1, false},
	/* a column needing quotes keeps its case; a predicate quotes it */
	{"SELECT * FROM t WHERE \"CamelCase\" = $1 AND \"Gone\" IS NOT NULL", "public", "t", 0,
	    "CamelCase WHERE \"Gone\" IS NOT NULL", 1, true},
	/* an expression over a column is not the column */
	{"SELECT * FROM t WHERE lower(email) = $1", "public", "t", 1, "-", 0, true},
	/* a column compared with another column of the same table */
	{"SELECT * FROM t WHERE a = b", "public", "t", 1, "-", 0, true},
	/* utility statements and set operations */
	{"VACUUM t", "public", "t", 1, "-", 0, false},
	{"SELECT * FROM t WHERE a = $1 UNION SELECT * FROM t WHERE b = $2", "public", "t", 1,
	    "-", 0, false},
	/* schema-qualified column reference */
	{"SELECT * FROM public.t WHERE public.t.a = $1", "public", "t", 0, "a", 1, true},
};

static void
test_statement_columns(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(columns_cases) / sizeof(columns_cases[0]); i++) {
		const struct columns_case *c = &columns_cases[i];
		struct statement_columns key;
		char errbuf[256] = "", got[512];
		int rv = index_advice_statement_columns(c->text, c->schema, c->table, &key, errbuf,
		    sizeof(errbuf));
		key_text(&key, got, sizeof(got));
		if (rv != c->rv || strcmp(got, c->expect) != 0 ||
		    (rv == 0 && (key.n_params != c->n_params || key.is_select != c->is_select))) {
			print_error("case %zu \"%s\":\n  got rv %d key \"%s\" params %u select %d (%s)\n"
				    "  expected rv %d key \"%s\" params %u select %d\n",
			    i, c->text, rv, got, key.n_params, key.is_select, errbuf, c->rv, c->expect,
			    c->n_params, c->is_select);
			fail();
		}
	}
}

static void
test_parse_error(void **state)
{
	struct statement_columns key;
	char errbuf[256] = "";
	(void) state;
	assert_int_equal(index_advice_statement_columns("SELEC * FRM t", "public", "t", &key,
			     errbuf, sizeof(errbuf)),
	    -1);
	assert_non_null(strstr(errbuf, "could not parse the statement"));
	assert_null(strchr(errbuf, '\n'));
}

static const struct table_window tables[] = {
	/* 0: hot: 200 scans of 100000 tuples, 20M read: high */
	{"p", "app", "public", "orders", 200, 20000000, 3, 8 << 20, 100000},
	/* 1: tiny table scanned a lot: ignored */
	{"p", "app", "public", "small", 5000, 5000000, 0, 512 << 10, 1000},
	/* 2: mostly index scans: ignored */
	{"p", "app", "public", "indexed", 50, 500000, 5000, 8 << 20, 10000},
	/* 3: few tuples a scan (LIMIT 1 scans): ignored */
	{"p", "app", "public", "cheap", 1000, 50000, 0, 8 << 20, 100000},
	/* 4: medium: 20 scans of 20000 */
	{"p", "app", "public", "events", 20, 400000, 0, 4 << 20, 20000},
	/* 5: the same table on a replica, hot there */
	{"r", "app", "public", "orders", 100, 10000000, 0, 8 << 20, 100000},
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static void
test_seq_scans(void **state)
{
	struct seq_scan_advice out[8];
	size_t n;
	(void) state;
	n = index_advice_seq_scans(tables, N_TABLES, out, 8);
	assert_int_equal(n, 3);
	/* most tuples read first */
	assert_int_equal(out[0].table, 0);
	assert_int_equal(out[0].priority, ADVICE_PRIORITY_HIGH);
	assert_true(out[0].avg_tuples_per_scan == 100000.0);
	assert_string_equal(out[0].recommendation, "Consider adding indexes to table public.orders");
	assert_int_equal(out[1].table, 5);
	assert_int_equal(out[1].priority, ADVICE_PRIORITY_HIGH);
	assert_int_equal(out[2].table, 4);
	assert_int_equal(out[2].priority, ADVICE_PRIORITY_MEDIUM);
	assert_true(out[2].avg_tuples_per_scan == 20000.0);
	assert_non_null(strstr(out[2].evidence, "20 sequential scans read 400000 tuples"));
	/* the count is the whole, even when out is short */
	assert_int_equal(index_advice_seq_scans(tables, N_TABLES, out, 1), 3);
	assert_int_equal(out[0].table, 0);
}

static const struct statement_fact statements[] = {
	/* 0: the hot lookup on the primary */
	{"p", "app", 11, "SELECT * FROM orders WHERE customer_id = $1", 200, 900.0},
	/* 1: cheaper, same columns: made once */
	{"p", "app", 12, "SELECT id FROM orders WHERE customer_id = $1", 10, 40.0},
	/* 2: already served by orders_status_idx (status, placed_at) */
	{"p", "app", 13, "SELECT * FROM orders WHERE status = $1", 100, 500.0},
	/* 3: the most expensive, but on another database */
	{"p", "other", 14, "SELECT * FROM orders WHERE region = $1", 100, 5000.0},
	/* 4: a range after an equality */
	{"p", "app", 15, "SELECT * FROM orders WHERE placed_at >= $1 AND shop_id = $2", 50,
	    300.0},
	/* 5: events, partial */
	{"p", "app", 16, "SELECT * FROM events WHERE kind = $1 AND handled_at IS NULL", 20, 80.0},
	/* 6: does not parse: skipped */
	{"p", "app", 17, "SELECT FROM WHERE", 20, 10000.0},
	/* 7: the replica's own statement */
	{"r", "app", 18, "SELECT * FROM orders o WHERE o.email = $1", 100, 700.0},
};
#define N_STATEMENTS (sizeof(statements) / sizeof(statements[0]))

static const char *const status_columns[] = {"status", "placed_at"};
static const struct index_fact existing[] = {
	{.instance = "p", .database = "app", .schema = "public", .table = "orders",
	    .index = "orders_status_idx", .access_method = "btree", .columns = status_columns,
	    .n_columns = 2, .predicate = "", .definition = "", .constraint_type = "",
	    .is_valid = true},
};

static void
test_proposals(void **state)
{
	struct seq_scan_advice flagged[8];
	struct index_proposal out[16];
	size_t n_flagged, n;
	(void) state;

	n_flagged = index_advice_seq_scans(tables, N_TABLES, flagged, 8);
	n = index_advice_proposals(tables, flagged, n_flagged, statements, N_STATEMENTS,
	    existing, 1, out, 16);
	assert_int_equal(n, 4);
	/* orders on p: the hot lookup, then the range one (status is served) */
	assert_int_equal(out[0].table, 0);
	assert_int_equal(out[0].statement, 0);
	assert_int_equal(out[0].priority, ADVICE_PRIORITY_HIGH);
	assert_string_equal(out[0].index_name, "idx_orders_customer_id");
	assert_string_equal(out[0].ddl,
	    "CREATE INDEX CONCURRENTLY idx_orders_customer_id ON public.orders (customer_id);");
	assert_string_equal(out[0].hypothetical_ddl, "CREATE INDEX ON public.orders (customer_id)");
	assert_int_equal(out[0].key.n_params, 1);
	assert_non_null(strstr(out[0].evidence, "statement 11 ran 200 times"));
	assert_int_equal(out[1].statement, 4);
	assert_string_equal(out[1].ddl,
	    "CREATE INDEX CONCURRENTLY idx_orders_shop_id_placed_at ON public.orders (shop_id, placed_at);");
	assert_non_null(strstr(out[1].evidence, "equality columns first"));
	/* orders on the replica: its own statement */
	assert_int_equal(out[2].table, 5);
	assert_int_equal(out[2].statement, 7);
	assert_string_equal(out[2].ddl,
	    "CREATE INDEX CONCURRENTLY idx_orders_email ON public.orders (email);");
	/* events: partial */
	assert_int_equal(out[3].table, 4);
	assert_string_equal(out[3].ddl,
	    "CREATE INDEX CONCURRENTLY idx_events_kind_partial ON public.events (kind) WHERE handled_at IS NULL;");
	assert_string_equal(out[3].hypothetical_ddl,
	    "CREATE INDEX ON public.events (kind) WHERE handled_at IS NULL");
	assert_int_equal(out[3].priority, ADVICE_PRIORITY_MEDIUM);
	assert_non_null(strstr(out[3].evidence, "partial index"));

	/* short output: the count is still the whole */
	assert_int_equal(index_advice_proposals(tables, flagged, n_flagged, statements,
			     N_STATEMENTS, existing, 1, out, 1),
	    4);
	/* nothing flagged, nothing proposed */
	assert_int_equal(index_advice_proposals(tables, flagged, 0, statements, N_STATEMENTS,
			     existing, 1, out, 16),
	    0);
}

static void
test_duration(void **state)
{
	char text[32];
	(void) state;
	analysis_duration(45, text, sizeof(text));
	assert_string_equal(text, "45s");
	analysis_duration(725, text, sizeof(text));
	assert_string_equal(text, "12m05s");
	analysis_duration(3 * 3600 + 120, text, sizeof(text));
	assert_string_equal(text, "3h02m");
	analysis_duration(2 * 86400 + 4 * 3600, text, sizeof(text));
	assert_string_equal(text, "2d04h");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statement_columns),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_seq_scans),
		cmocka_unit_test(test_proposals),
		cmocka_unit_test(test_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
