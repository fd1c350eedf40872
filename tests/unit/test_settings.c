/*
 * test_settings.c - the settings family's "sent on change" logic without a
 * server: the fingerprint moves with every setting, extension and the
 * server version (and not with times), fields cannot slide into their
 * neighbours, and the decision to send follows changes, problems,
 * --once and the daily resend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/family_settings.h"

/* A small family built on the stack: two settings, two extensions. */
struct sample {
	Pgfleet__V1__SettingsFamily family;
	Pgfleet__V1__Setting settings[2];
	Pgfleet__V1__Setting *setting_rows[2];
	Pgfleet__V1__Extension extensions[2];
	Pgfleet__V1__Extension *extension_rows[2];
};

static void
sample_init(struct sample *s)
{
	memset(s, 0, sizeof(*s));
	pgfleet__v1__settings_family__init(&s->family);
	for (int i = 0; i < 2; i++) {
		pgfleet__v1__setting__init(&s->settings[i]);
		pgfleet__v1__extension__init(&s->extensions[i]);
		s->setting_rows[i] = &s->settings[i];
		s->extension_rows[i] = &s->extensions[i];
	}
	s->settings[0].name = "max_connections";
	s->settings[0].setting = "100";
	s->settings[0].unit = "";
	s->settings[0].source = "default";
	s->settings[1].name = "work_mem";
	s->settings[1].setting = "4096";
	s->settings[1].unit = "kB";
	s->settings[1].source = "default";
	s->extensions[0].database = "postgres";
	s->extensions[0].name = "pg_stat_statements";
	s->extensions[0].version = "1.10";
	s->extensions[1].database = "shop";
	s->extensions[1].name = "hstore";
	s->extensions[1].version = "1.8";
	s->family.settings = s->setting_rows;
	s->family.n_settings = 2;
	s->family.extensions = s->extension_rows;
	s->family.n_extensions = 2;
	s->family.server_version = "15.8";
	s->family.postmaster_start_time_us = 1000;
	s->family.bgwriter_stats_reset_us = 2000;
	s->family.statements_stats_reset_us = 3000;
}

/* ---- fingerprint ---- */

static void
test_fingerprint_stable(void **state)
{
	struct sample a, b;
	(void) state;
	sample_init(&a);
	sample_init(&b);
	assert_int_equal(settings_fingerprint(&a.family), settings_fingerprint(&b.family));
	assert_int_not_equal(settings_fingerprint(&a.family), 0);
}

static void
test_fingerprint_ignores_times(void **state)
{
	struct sample s;
	uint64_t before;
	(void) state;
	sample_init(&s);
	before = settings_fingerprint(&s.family);
	s.family.postmaster_start_time_us = 99;
	s.family.bgwriter_stats_reset_us = 99;
	s.family.statements_stats_reset_us = 99;
	s.family.fingerprint = 12345;
	assert_int_equal(settings_fingerprint(&s.family), before);
}

/* Each change in the list moves the fingerprint away from the sample's. */
static void
test_fingerprint_follows_every_field(void **state)
{
	struct sample s;
	uint64_t base;
	(void) state;
	sample_init(&s);
	base = settings_fingerprint(&s.family);

#define CHANGED(statement) \
	do { \
		sample_init(&s); \
		statement; \
		assert_int_not_equal(settings_fingerprint(&s.family), base); \
	} while (0)
	CHANGED(s.settings[0].name = "max_connectionz");
	CHANGED(s.settings[0].setting = "200");
	CHANGED(s.settings[1].unit = "MB");
	CHANGED(s.settings[1].source = "configuration file");
	CHANGED(s.settings[1].pending_restart = true);
	CHANGED(s.extensions[0].version = "1.11");
	CHANGED(s.extensions[1].database = "shop2");
	CHANGED(s.extensions[1].name = "pgcrypto");
	CHANGED(s.family.server_version = "15.9");
	CHANGED(s.family.n_extensions = 1);
	CHANGED(s.family.n_settings = 1);
	CHANGED(s.family.n_settings = 0);
	CHANGED((s.setting_rows[0] = &s.settings[1], s.setting_rows[1] = &s.settings[0]));
#undef CHANGED
}

/* "ab" then "c" is not "a" then "bc": fields end where they end. */
static void
test_fingerprint_field_boundaries(void **state)
{
	struct sample a, b;
	(void) state;
	sample_init(&a);
	sample_init(&b);
	a.settings[0].name = "ab";
	a.settings[0].setting = "c";
	b.settings[0].name = "a";
	b.settings[0].setting = "bc";
	assert_int_not_equal(settings_fingerprint(&a.family), settings_fingerprint(&b.family));
}

/* A NULL string hashes as the empty one (protobuf's empty default). */
static void
test_fingerprint_null_is_empty(void **state)
{
	struct sample a, b;
	(void) state;
	sample_init(&a);
	sample_init(&b);
	a.settings[0].unit = NULL;
	b.settings[0].unit = "";
	assert_int_equal(settings_fingerprint(&a.family), settings_fingerprint(&b.family));
}

/* ---- the decision ---- */

static void
test_send_first_then_only_on_change(void **state)
{
	struct settings_memory memory = {false, 0, 0};
	(void) state;
	assert_true(settings_should_send(&memory, 42, false, false, 1000));
	assert_true(memory.sent);
	assert_int_equal(memory.fingerprint, 42);
	assert_int_equal(memory.sent_ms, 1000);
	/* unchanged: left out, and the memory keeps the first send's time */
	assert_false(settings_should_send(&memory, 42, false, false, 2000));
	assert_false(settings_should_send(&memory, 42, false, false, 3600 * 1000));
	assert_int_equal(memory.sent_ms, 1000);
	/* changed: sent, and remembered */
	assert_true(settings_should_send(&memory, 43, false, false, 5000));
	assert_int_equal(memory.fingerprint, 43);
	assert_int_equal(memory.sent_ms, 5000);
	assert_false(settings_should_send(&memory, 43, false, false, 6000));
	/* changed back: that is a change too */
	assert_true(settings_should_send(&memory, 42, false, false, 7000));
}

static void
test_send_daily_even_unchanged(void **state)
{
	struct settings_memory memory = {false, 0, 0};
	(void) state;
	assert_true(settings_should_send(&memory, 7, false, false, 0));
	assert_false(settings_should_send(&memory, 7, false, false, SETTINGS_RESEND_MS - 1));
	assert_true(settings_should_send(&memory, 7, false, false, SETTINGS_RESEND_MS));
	assert_int_equal(memory.sent_ms, SETTINGS_RESEND_MS);
	/* the next day counts from the resend */
	assert_false(settings_should_send(&memory, 7, false, false, 2 * SETTINGS_RESEND_MS - 1));
	assert_true(settings_should_send(&memory, 7, false, false, 2 * SETTINGS_RESEND_MS));
}

static void
test_send_with_problems_or_everything(void **state)
{
	struct settings_memory memory = {false, 0, 0};
	(void) state;
	assert_true(settings_should_send(&memory, 9, false, false, 100));
	/* problems are sent every time */
	assert_true(settings_should_send(&memory, 9, true, false, 200));
	assert_true(settings_should_send(&memory, 9, true, false, 300));
	/* --once and the first report after start */
	assert_true(settings_should_send(&memory, 9, false, true, 400));
	assert_int_equal(memory.sent_ms, 400);
	assert_false(settings_should_send(&memory, 9, false, false, 500));
}

static void
test_send_without_memory(void **state)
{
	(void) state;
	assert_true(settings_should_send(NULL, 1, false, false, 0));
	assert_true(settings_should_send(NULL, 1, false, false, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint_stable),
		cmocka_unit_test(test_fingerprint_ignores_times),
		cmocka_unit_test(test_fingerprint_follows_every_field),
		cmocka_unit_test(test_fingerprint_field_boundaries),
		cmocka_unit_test(test_fingerprint_null_is_empty),
		cmocka_unit_test(test_send_first_then_only_on_change),
		cmocka_unit_test(test_send_daily_even_unchanged),
		cmocka_unit_test(test_send_with_problems_or_everything),
		cmocka_unit_test(test_send_without_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
