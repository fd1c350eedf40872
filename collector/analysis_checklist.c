/*
 * analysis_checklist.c - the guide's production checklist (see
 * analysis_checklist.h). Each item is pass, warn or fail with the figures
 * that decided it; "not reported" is a warn, never a pass.
 */
#include "collector/analysis_checklist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <time.h>

/* Pool sizing: share of the usable connections the window's peak used. */
#define POOL_WARN_PERCENT 75.0
#define POOL_FAIL_PERCENT 90.0

const char *
checklist_status_name(enum checklist_status status)
{
	switch (status) {
	case CHECKLIST_PASS:
		return "pass";
	case CHECKLIST_WARN:
		return "warn";
	default:
		return "fail";
	}
}

bool
checklist_library_listed(const char *libraries, const char *name)
{
	size_t name_len = strlen(name);
	const char *p = libraries;

	if (libraries == NULL)
		return false;
	while (*p != '\0') {
		const char *start, *end;

		while (*p == ',' || *p == ' ' || *p == '"' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (
		    end > start && (end[-1] == ' ' || end[-1] == '"' || end[-1] == '\t'))
			end--;
		if ((size_t) (end - start) == name_len
		    && strncmp(start, name, name_len) == 0)
			return true;
	}
	return false;
}

void
checklist_index_signature(const char *definition, char *out, size_t size)
{
	const char *on = strstr(definition, " ON ");
	bool unique = strncmp(definition, "CREATE UNIQUE INDEX ", 20) == 0;

	if (on == NULL) {
		snprintf(out, size, "%s", definition);
		return;
	}
	snprintf(out, size, "CREATE %sINDEX%s", unique ? "UNIQUE " : "", on);
}

void
checklist_add_name(char *list, size_t size, const char *name)
{
	size_t used = strlen(list);

	if (used >= 5 && strcmp(list + used - 5, ", ...") == 0)
		return;
	if (used + strlen(name) + 2 + 5 >= size) {
		if (used + 5 < size)
			snprintf(
			    list + used, size - used, "%s", used > 0 ? ", ..." : "...");
		return;
	}
	snprintf(list + used, size - used, "%s%s", used > 0 ? ", " : "", name);
}

/* "YYYY-MM-DD HH:MM:SS" UTC. */
static void
time_text(int64_t us, char *out, size_t size)
{
	time_t seconds = (time_t) (us / 1000000);
	struct tm tm;

	if (gmtime_r(&seconds, &tm) == NULL
	    || strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, size, "?");
}

static void set(struct checklist_item *item, const char *name,
    enum checklist_status status, const char *recommendation, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

static void
set(struct checklist_item *item, const char *name, enum checklist_status status,
    const char *recommendation, const char *format, ...)
{
	va_list args;

	item->item = name;
	item->status = status;
	snprintf(item->recommendation, sizeof(item->recommendation), "%s",
	    status == CHECKLIST_PASS ? "" : recommendation);
	va_start(args, format);
	vsnprintf(item->evidence, sizeof(item->evidence), format, args);
	va_end(args);
}

static void
statements_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "pg_stat_statements enabled";
	bool preloaded
	    = checklist_library_listed(f->shared_preload_libraries, "pg_stat_statements");

	if (!f->have_settings)
		set(item, name, CHECKLIST_WARN, "let the agent's settings family report",
		    "no settings reported by the agent yet");
	else if (preloaded && f->statements_extension)
		set(item, name, CHECKLIST_PASS, "",
		    "shared_preload_libraries = '%s'; the extension is created",
		    f->shared_preload_libraries);
	else if (preloaded)
		set(item, name, CHECKLIST_WARN, "CREATE EXTENSION pg_stat_statements;",
		    "preloaded (shared_preload_libraries = '%s') but the extension is "
		    "not created"
		    " in any database the agent reads",
		    f->shared_preload_libraries);
	else
		set(item, name, CHECKLIST_FAIL,
		    "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; "
		    "then restart"
		    " and CREATE EXTENSION pg_stat_statements;",
		    "shared_preload_libraries = '%s' does not load pg_stat_statements",
		    f->shared_preload_libraries != NULL ? f->shared_preload_libraries
							: "");
}

static void
autovacuum_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "autovacuum configured";

	if (!f->have_settings)
		set(item, name, CHECKLIST_WARN, "let the agent's settings family report",
		    "no settings reported by the agent yet");
	else if (f->autovacuum == NULL || strcmp(f->autovacuum, "on") != 0)
		set(item, name, CHECKLIST_FAIL,
		    "ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();",
		    "autovacuum = %s",
		    f->autovacuum != NULL ? f->autovacuum : "(not reported)");
	else if (f->track_counts != NULL && strcmp(f->track_counts, "on") != 0)
		set(item, name, CHECKLIST_FAIL,
		    "ALTER SYSTEM SET track_counts = on; SELECT pg_reload_conf();",
		    "autovacuum = on but track_counts = %s: autovacuum cannot see dead "
		    "tuples",
		    f->track_counts);
	else if (f->tables_autovacuum_off > 0)
		set(item, name, CHECKLIST_WARN,
		    "ALTER TABLE ... RESET (autovacuum_enabled); for each table listed "
		    "(see"
		    " pgfleet vacuum-advice)",
		    "autovacuum = on, but off for %lld of %lld tables: %s",
		    (long long) f->tables_autovacuum_off, (long long) f->tables,
		    f->autovacuum_off_names);
	else if (!f->have_tables)
		set(item, name, CHECKLIST_PASS, "",
		    "autovacuum = on (no tables reported yet)");
	else
		set(item, name, CHECKLIST_PASS, "", "autovacuum = on for all %lld tables",
		    (long long) f->tables);
}

static void
pool_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "pool sized";
	int64_t usable = f->max_connections - f->reserved_connections;
	double percent;

	if (!f->have_activity || usable <= 0) {
		set(item, name, CHECKLIST_WARN, "let the agent's activity family report",
		    "no connection counts reported in the window");
		return;
	}
	percent = (double) f->peak_connections * 100.0 / (double) usable;
	if (percent >= POOL_FAIL_PERCENT)
		set(item, name, CHECKLIST_FAIL,
		    "put a pooler (pgbouncer) in front or shrink the application pools "
		    "(see pgfleet"
		    " pool-recommendation)",
		    "peak %lld connections of %lld usable (max_connections %lld - %lld "
		    "reserved):"
		    " %.0f%%",
		    (long long) f->peak_connections, (long long) usable,
		    (long long) f->max_connections, (long long) f->reserved_connections,
		    percent);
	else
		set(item, name,
		    percent >= POOL_WARN_PERCENT ? CHECKLIST_WARN : CHECKLIST_PASS,
		    "review the application pool sizes (see pgfleet pool-recommendation)",
		    "peak %lld connections of %lld usable (max_connections %lld - %lld "
		    "reserved):"
		    " %.0f%%",
		    (long long) f->peak_connections, (long long) usable,
		    (long long) f->max_connections, (long long) f->reserved_connections,
		    percent);
}

static void
slow_query_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "slow query monitoring active";

	char when[32];

	time_text(f->last_statement_us, when, sizeof(when));
	if (f->last_statement_us > 0 && f->last_statement_us >= f->window_since_us)
		set(item, name, CHECKLIST_PASS, "",
		    "pg_stat_statements intervals stored in the window, the latest at %s",
		    when);
	else if (f->last_statement_us > 0)
		set(item, name, CHECKLIST_FAIL,
		    "check the agent's statements family (pg_stat_statements, "
		    "privileges)",
		    "no pg_stat_statements interval stored in the window; the latest at "
		    "%s",
		    when);
	else
		set(item, name, CHECKLIST_FAIL,
		    "enable pg_stat_statements and check the agent's statements family",
		    "no pg_stat_statements interval ever stored");
}

static void
indexes_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "indexes optimized";

	if (!f->have_indexes)
		set(item, name, CHECKLIST_WARN, "let the agent's indexes family report",
		    "no indexes reported by the agent yet");
	else if (f->invalid_indexes > 0)
		set(item, name, CHECKLIST_FAIL,
		    "REINDEX INDEX CONCURRENTLY each invalid index (see pgfleet"
		    " index-recommendations)",
		    "%lld invalid and %lld duplicate indexes of %lld: %s",
		    (long long) f->invalid_indexes, (long long) f->duplicate_indexes,
		    (long long) f->indexes, f->index_names);
	else if (f->duplicate_indexes > 0)
		set(item, name, CHECKLIST_WARN,
		    "drop the duplicates (see pgfleet index-recommendations)",
		    "%lld duplicate indexes of %lld: %s",
		    (long long) f->duplicate_indexes, (long long) f->indexes,
		    f->index_names);
	else if (f->have_index_advice && f->index_advice_high > 0)
		set(item, name, CHECKLIST_WARN, "apply pgfleet index-recommendations",
		    "%lld indexes, none invalid or duplicate; %lld index recommendations,"
		    " %lld high: %s",
		    (long long) f->indexes, (long long) f->index_advice,
		    (long long) f->index_advice_high, f->index_advice_names);
	else if (f->have_index_advice)
		set(item, name, CHECKLIST_PASS, "",
		    "%lld indexes, none invalid or duplicate; %lld index recommendations,"
		    " none high%s%s",
		    (long long) f->indexes, (long long) f->index_advice,
		    f->index_advice > 0 ? ": " : "", f->index_advice_names);
	else
		set(item, name, CHECKLIST_PASS, "",
		    "%lld indexes, none invalid or duplicate (see pgfleet "
		    "index-recommendations"
		    " for unused and missing ones)",
		    (long long) f->indexes);
}

static void
bloat_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "bloat monitored";

	char when[32];

	time_text(f->last_bloat_us, when, sizeof(when));
	if (f->last_bloat_us <= 0 || f->last_bloat_us < f->window_since_us)
		set(item, name, CHECKLIST_WARN, "let the agent's bloat family report",
		    "no bloat estimate stored in the window%s%s",
		    f->last_bloat_us > 0 ? "; the latest at " : "",
		    f->last_bloat_us > 0 ? when : "");
	else if (f->tables_need_vacuum > 0)
		set(item, name, CHECKLIST_WARN, "see pgfleet vacuum-advice",
		    "latest bloat estimate at %s; %lld tables need a vacuum now: %s",
		    when, (long long) f->tables_need_vacuum, f->need_vacuum_names);
	else
		set(item, name, CHECKLIST_PASS, "",
		    "latest bloat estimate at %s; no table needs a vacuum", when);
}

static void
replicas_item(const struct checklist_facts *f, struct checklist_item *item)
{
	static const char name[] = "replicas configured";

	if (!f->have_replication)
		set(item, name, CHECKLIST_WARN,
		    "let the agent's replication family report",
		    "no replication state reported by the agent yet");
	else if (f->is_standby)
		set(item, name,
		    f->receiver_status != NULL
			    && strcmp(f->receiver_status, "streaming") == 0
			? CHECKLIST_PASS
			: CHECKLIST_FAIL,
		    "see pgfleet replication-health", "a standby; walreceiver %s",
		    f->receiver_status != NULL && f->receiver_status[0] != '\0'
			? f->receiver_status
			: "absent");
	else if (f->streaming_walsenders > 0)
		set(item, name, CHECKLIST_PASS, "", "%lld of %lld walsenders streaming",
		    (long long) f->streaming_walsenders, (long long) f->walsenders);
	else
		set(item, name, CHECKLIST_WARN,
		    "add a streaming replica if reads or failover need one (the guide's "
		    "Read"
		    " Replicas section)",
		    "no replica streams from this primary (%lld walsenders)",
		    (long long) f->walsenders);
}

void
analysis_checklist(
    const struct checklist_facts *facts, struct checklist_item out[CHECKLIST_ITEMS])
{
	memset(out, 0, sizeof(out[0]) * CHECKLIST_ITEMS);
	statements_item(facts, &out[0]);
	autovacuum_item(facts, &out[1]);
	pool_item(facts, &out[2]);
	slow_query_item(facts, &out[3]);
	indexes_item(facts, &out[4]);
	bloat_item(facts, &out[5]);
	replicas_item(facts, &out[6]);
}
