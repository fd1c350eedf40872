/*
 * explain_plan.c - EXPLAIN JSON to text and red flags (see explain_plan.h).
 *
 * The text is a close likeness of EXPLAIN's own text format (node labels,
 * costs, actual figures, the common conditions), not a byte-exact copy:
 * the JSON plan travels along for anything that needs every detail.
 * Exclusive time of a node = its inclusive time (Actual Total Time x
 * Actual Loops) minus its children's; it is an estimate for parallel plans
 * (worker times are averages), as every EXPLAIN reader's is.
 */
#include "agent/explain_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The walk over the plan tree: output stream, flags found so far, and the
 * nodes' exclusive times for "where the time went". */
struct timed_node {
	char *label;
	double exclusive_ms;
};

struct plan_walk {
	FILE *out;
	const struct explain_table_rows *tables;
	size_t table_count;
	const struct explain_thresholds *thresholds;
	bool analyzed;
	int node_number;
	struct explain_flag *flags;
	size_t flag_count;
	struct timed_node *timed;
	size_t timed_count;
	bool failed;
};

static double
number(json_t *object, const char *key)
{
	return json_number_value(json_object_get(object, key));
}

static const char *
text(json_t *object, const char *key)
{
	return json_string_value(json_object_get(object, key));
}

/* Parses plan_json down to the first element of EXPLAIN's array. */
static json_t *
load_plan(const char *plan_json, json_t **root, char *errbuf, size_t errlen)
{
	json_error_t error;
	json_t *first;

	*root = NULL;
	if (strlen(plan_json) > EXPLAIN_PLAN_MAX_BYTES) {
		snprintf(errbuf, errlen, "plan is larger than %d bytes",
		    EXPLAIN_PLAN_MAX_BYTES);
		return NULL;
	}
	*root = json_loads(plan_json, 0, &error);
	if (*root == NULL) {
		snprintf(errbuf, errlen, "plan is not JSON: %s (line %d)", error.text,
		    error.line);
		return NULL;
	}
	first = json_is_array(*root) ? json_array_get(*root, 0) : NULL;
	if (!json_is_object(first) || !json_is_object(json_object_get(first, "Plan"))) {
		snprintf(errbuf, errlen,
		    "not an EXPLAIN (FORMAT JSON) plan: no \"Plan\" object");
		json_decref(*root);
		*root = NULL;
		return NULL;
	}
	return first;
}

/* Calls visit on node and every node below it, depth first. */
static void
each_node(json_t *node, void (*visit)(json_t *node, void *arg), void *arg)
{
	json_t *children = json_object_get(node, "Plans");
	json_t *child;
	size_t i;

	visit(node, arg);
	json_array_foreach(children, i, child)
	{
		if (json_is_object(child))
			each_node(child, visit, arg);
	}
}

struct relation_list {
	char **names;
	size_t count;
	bool failed;
};

static void
collect_seq_scan(json_t *node, void *arg)
{
	struct relation_list *list = arg;
	const char *type = text(node, "Node Type");
	const char *relation = text(node, "Relation Name");
	char **grown;

	if (type == NULL || strcmp(type, "Seq Scan") != 0 || relation == NULL)
		return;
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->names[i], relation) == 0)
			return;
	}
	grown = realloc(list->names, (list->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		list->failed = true;
		return;
	}
	list->names = grown;
	if ((list->names[list->count] = strdup(relation)) == NULL) {
		list->failed = true;
		return;
	}
	list->count++;
}

int
explain_plan_seq_scans(
    const char *plan_json, char ***relations, size_t *count, char *errbuf, size_t errlen)
{
	struct relation_list list = { NULL, 0, false };
	json_t *root;
	json_t *first = load_plan(plan_json, &root, errbuf, errlen);

	*relations = NULL;
	*count = 0;
	if (first == NULL)
		return PGF_EDECODE;
	each_node(json_object_get(first, "Plan"), collect_seq_scan, &list);
	json_decref(root);
	if (list.failed) {
		explain_relations_free(list.names, list.count);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	*relations = list.names;
	*count = list.count;
	return PGF_OK;
}

void
explain_relations_free(char **relations, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(relations[i]);
	free(relations);
}

/* The node's label as EXPLAIN's text shows it: "Hash Left Join",
 * "Index Scan using orders_pkey on orders o", "HashAggregate". */
static void
node_label(json_t *node, char *label, size_t size)
{
	const char *type = text(node, "Node Type");
	const char *join = text(node, "Join Type");
	const char *strategy = text(node, "Strategy");
	const char *relation = text(node, "Relation Name");
	const char *alias = text(node, "Alias");
	const char *index = text(node, "Index Name");
	const char *cte = text(node, "CTE Name");
	const char *function = text(node, "Function Name");
	size_t len = 0;

	if (type == NULL)
		type = "?";
	label[0] = '\0';
	if (json_is_true(json_object_get(node, "Parallel Aware")))
		len += (size_t) snprintf(label + len, size - len, "Parallel ");
	if (strcmp(type, "Aggregate") == 0 && strategy != NULL
	    && strcmp(strategy, "Sorted") == 0)
		len += (size_t) snprintf(label + len, size - len, "GroupAggregate");
	else if (strcmp(type, "Aggregate") == 0 && strategy != NULL
	    && strcmp(strategy, "Hashed") == 0)
		len += (size_t) snprintf(label + len, size - len, "HashAggregate");
	else if (strcmp(type, "Aggregate") == 0 && strategy != NULL
	    && strcmp(strategy, "Mixed") == 0)
		len += (size_t) snprintf(label + len, size - len, "MixedAggregate");
	else if (join != NULL && strcmp(join, "Inner") != 0
	    && strcmp(type, "Nested Loop") == 0)
		len += (size_t) snprintf(
		    label + len, size - len, "Nested Loop %s Join", join);
	else if (join != NULL && strcmp(join, "Inner") != 0 && strlen(type) > 5
	    && strcmp(type + strlen(type) - 5, " Join") == 0)
		len += (size_t) snprintf(label + len, size - len, "%.*s %s Join",
		    (int) (strlen(type) - 5), type, join);
	else
		len += (size_t) snprintf(label + len, size - len, "%s", type);
	if (len >= size)
		return;
	if (index != NULL && strcmp(type, "Bitmap Index Scan") == 0)
		len += (size_t) snprintf(label + len, size - len, " on %s", index);
	else if (index != NULL)
		len += (size_t) snprintf(label + len, size - len, " using %s", index);
	if (len >= size)
		return;
	if (relation != NULL) {
		len += (size_t) snprintf(label + len, size - len, " on %s", relation);
		if (len < size && alias != NULL && strcmp(alias, relation) != 0)
			len += (size_t) snprintf(label + len, size - len, " %s", alias);
	} else if (cte != NULL) {
		len += (size_t) snprintf(label + len, size - len, " on %s", cte);
	} else if (function != NULL) {
		len += (size_t) snprintf(label + len, size - len, " on %s", function);
	}
}

/* Adds a flag; the strings are copied. */
static void
add_flag(struct plan_walk *walk, const char *kind, const char *node, const char *detail)
{
	struct explain_flag *grown
	    = realloc(walk->flags, (walk->flag_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		walk->failed = true;
		return;
	}
	walk->flags = grown;
	grown[walk->flag_count].kind = kind;
	grown[walk->flag_count].node = strdup(node);
	grown[walk->flag_count].detail = strdup(detail);
	if (grown[walk->flag_count].node == NULL
	    || grown[walk->flag_count].detail == NULL) {
		free(grown[walk->flag_count].node);
		free(grown[walk->flag_count].detail);
		walk->failed = true;
		return;
	}
	walk->flag_count++;
}

static double
table_rows(const struct plan_walk *walk, const char *relation)
{
	double rows = -1.0;
	for (size_t i = 0; relation != NULL && i < walk->table_count; i++) {
		if (strcmp(walk->tables[i].relation, relation) == 0
		    && walk->tables[i].rows > rows)
			rows = walk->tables[i].rows;
	}
	return rows;
}

static void
check_node(struct plan_walk *walk, json_t *node, const char *where)
{
	const struct explain_thresholds *t = walk->thresholds;
	const char *type = text(node, "Node Type");
	double plan_rows = number(node, "Plan Rows");
	double loops = number(node, "Actual Loops");
	double actual_rows = number(node, "Actual Rows");
	char detail[512];

	if (type != NULL && strcmp(type, "Seq Scan") == 0) {
		const char *relation = text(node, "Relation Name");
		const char *filter = text(node, "Filter");
		double rows = table_rows(walk, relation);
		double scanned = plan_rows;
		if (walk->analyzed && loops > 0)
			scanned = (actual_rows + number(node, "Rows Removed by Filter"))
			    * loops;
		if (scanned > rows)
			rows = scanned;
		if (rows >= t->large_table_rows) {
			snprintf(detail, sizeof(detail),
			    "sequential scan of \"%s\" (about %.0f rows)%s%.200s%s",
			    relation != NULL ? relation : "?", rows,
			    filter != NULL ? " filtered by " : "",
			    filter != NULL ? filter : "",
			    filter != NULL ? ": an index on the filtered columns may help"
					   : ": reads the whole table");
			add_flag(walk, "seq_scan_large_table", where, detail);
		}
	}
	if (walk->analyzed && loops > 0) {
		double high = plan_rows > actual_rows ? plan_rows : actual_rows;
		double low = plan_rows > actual_rows ? actual_rows : plan_rows;
		if (low < 1.0)
			low = 1.0;
		if (high >= t->misestimate_min_rows
		    && high / low >= t->misestimate_ratio) {
			snprintf(detail, sizeof(detail),
			    "estimated %.0f rows, got %.0f per loop (%.0fx %s): "
			    "statistics may be"
			    " stale (ANALYZE the table) or the columns are correlated",
			    plan_rows, actual_rows, high / low,
			    plan_rows > actual_rows ? "too many" : "too few");
			add_flag(walk, "misestimate", where, detail);
		}
		if (loops >= t->many_loops) {
			snprintf(detail, sizeof(detail),
			    "ran %.0f times (loops), %.3f ms each: the outer side feeds "
			    "it row by row",
			    loops, number(node, "Actual Total Time"));
			add_flag(walk, "many_loops", where, detail);
		}
	}
}

/* Writes one detail line ("Filter: (x > 1)") when key is present. */
static void
detail_line(FILE *out, json_t *node, const char *key, int indent)
{
	json_t *value = json_object_get(node, key);
	size_t i;
	json_t *item;

	if (value == NULL)
		return;
	if (json_is_string(value))
		fprintf(out, "%*s%s: %s\n", indent, "", key, json_string_value(value));
	else if (json_is_number(value))
		fprintf(out, "%*s%s: %.0f\n", indent, "", key, json_number_value(value));
	else if (json_is_array(value)) {
		fprintf(out, "%*s%s: ", indent, "", key);
		json_array_foreach(value, i, item)
		{
			fprintf(out, "%s%s", i > 0 ? ", " : "",
			    json_is_string(item) ? json_string_value(item) : "?");
		}
		fputc('\n', out);
	}
}

static const char *const detail_keys[] = {
	"Hash Cond",
	"Merge Cond",
	"Index Cond",
	"Recheck Cond",
	"Join Filter",
	"Filter",
	"Rows Removed by Join Filter",
	"Rows Removed by Filter",
	"Sort Key",
	"Group Key",
	"Heap Fetches",
	"Workers Planned",
	"Workers Launched",
	NULL,
};

/* Renders node at depth, checks it, and returns its inclusive time (ms). */
static double
render_node(struct plan_walk *walk, json_t *node, int depth)
{
	char label[512];
	char where[600];
	int label_indent = depth == 0 ? 0 : 6 * (depth - 1) + 2;
	int detail_indent = depth == 0 ? 2 : 6 * depth + 2;
	json_t *children = json_object_get(node, "Plans");
	const char *subplan = text(node, "Subplan Name");
	double loops = number(node, "Actual Loops");
	double inclusive = number(node, "Actual Total Time") * loops;
	double children_time = 0.0;
	json_t *child;
	size_t i;

	walk->node_number++;
	node_label(node, label, sizeof(label));
	snprintf(where, sizeof(where), "%s (node %d)", label, walk->node_number);
	if (subplan != NULL)
		fprintf(walk->out, "%*s%s\n", label_indent, "", subplan);
	fprintf(walk->out, "%*s%s%s  (cost=%.2f..%.2f rows=%.0f width=%.0f)",
	    label_indent, "", depth == 0 ? "" : "->  ", label,
	    number(node, "Startup Cost"), number(node, "Total Cost"),
	    number(node, "Plan Rows"), number(node, "Plan Width"));
	if (walk->analyzed && json_object_get(node, "Actual Loops") != NULL) {
		if (loops > 0)
			fprintf(walk->out,
			    " (actual time=%.3f..%.3f rows=%.0f loops=%.0f)",
			    number(node, "Actual Startup Time"),
			    number(node, "Actual Total Time"),
			    number(node, "Actual Rows"), loops);
		else
			fprintf(walk->out, " (never executed)");
	}
	fputc('\n', walk->out);
	for (size_t k = 0; detail_keys[k] != NULL; k++)
		detail_line(walk->out, node, detail_keys[k], detail_indent);
	check_node(walk, node, where);
	json_array_foreach(children, i, child)
	{
		if (json_is_object(child))
			children_time += render_node(walk, child, depth + 1);
	}
	if (walk->analyzed && loops > 0) {
		struct timed_node *grown
		    = realloc(walk->timed, (walk->timed_count + 1) * sizeof(*grown));
		if (grown == NULL) {
			walk->failed = true;
		} else {
			walk->timed = grown;
			grown[walk->timed_count].exclusive_ms
			    = inclusive > children_time ? inclusive - children_time : 0.0;
			grown[walk->timed_count].label = strdup(where);
			if (grown[walk->timed_count].label == NULL)
				walk->failed = true;
			else
				walk->timed_count++;
		}
	}
	return inclusive;
}

static int
by_exclusive_time(const void *a, const void *b)
{
	const struct timed_node *x = a;
	const struct timed_node *y = b;
	if (x->exclusive_ms != y->exclusive_ms)
		return x->exclusive_ms < y->exclusive_ms ? 1 : -1;
	return 0;
}

int
explain_plan_summarize(const char *plan_json, const struct explain_table_rows *tables,
    size_t table_count, const struct explain_thresholds *thresholds,
    struct explain_summary *out, char *errbuf, size_t errlen)
{
	struct plan_walk walk;
	json_t *root;
	json_t *first;
	char *buffer = NULL;
	size_t buffer_size = 0;
	int rv = PGF_ENOMEM;

	memset(out, 0, sizeof(*out));
	memset(&walk, 0, sizeof(walk));
	first = load_plan(plan_json, &root, errbuf, errlen);
	if (first == NULL)
		return PGF_EDECODE;
	walk.out = open_memstream(&buffer, &buffer_size);
	if (walk.out == NULL)
		goto done;
	walk.tables = tables;
	walk.table_count = table_count;
	walk.thresholds = thresholds;
	walk.analyzed = json_object_get(first, "Execution Time") != NULL;
	out->analyzed = walk.analyzed;
	out->planning_ms = number(first, "Planning Time");
	out->execution_ms = number(first, "Execution Time");
	render_node(&walk, json_object_get(first, "Plan"), 0);
	if (json_object_get(first, "Planning Time") != NULL)
		fprintf(walk.out, "Planning Time: %.3f ms\n", out->planning_ms);
	if (walk.analyzed)
		fprintf(walk.out, "Execution Time: %.3f ms\n", out->execution_ms);
	if (fclose(walk.out) != 0) {
		walk.out = NULL;
		goto done;
	}
	walk.out = NULL;
	/* where the time went: the largest exclusive times, with their share */
	if (walk.timed_count > 1)
		qsort(
		    walk.timed, walk.timed_count, sizeof(*walk.timed), by_exclusive_time);
	for (size_t i = 0; i < walk.timed_count && (int) i < thresholds->time_nodes;
	     i++) {
		double total = out->execution_ms > 0 ? out->execution_ms : 1.0;
		char detail[256];
		if (walk.timed[i].exclusive_ms <= 0.0)
			break;
		snprintf(detail, sizeof(detail),
		    "%.3f ms of the %.3f ms execution (%.0f%%) spent in this node",
		    walk.timed[i].exclusive_ms, out->execution_ms,
		    100.0 * walk.timed[i].exclusive_ms / total);
		add_flag(&walk, "time_spent", walk.timed[i].label, detail);
	}
	if (walk.failed)
		goto done;
	out->text = buffer;
	buffer = NULL;
	out->flags = walk.flags;
	out->flag_count = walk.flag_count;
	walk.flags = NULL;
	walk.flag_count = 0;
	rv = PGF_OK;
done:
	if (walk.out != NULL)
		fclose(walk.out);
	free(buffer);
	for (size_t i = 0; i < walk.timed_count; i++)
		free(walk.timed[i].label);
	free(walk.timed);
	for (size_t i = 0; i < walk.flag_count; i++) {
		free(walk.flags[i].node);
		free(walk.flags[i].detail);
	}
	free(walk.flags);
	json_decref(root);
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	return rv;
}

void
explain_summary_fini(struct explain_summary *summary)
{
	free(summary->text);
	for (size_t i = 0; i < summary->flag_count; i++) {
		free(summary->flags[i].node);
		free(summary->flags[i].detail);
	}
	free(summary->flags);
	memset(summary, 0, sizeof(*summary));
}
