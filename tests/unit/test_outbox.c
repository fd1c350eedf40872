/* test_outbox.c - the agent outbox: record format (encode, scan, recovery
 * from damaged buffers) and the spool's replay, retirement and bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/outbox.h"

struct seen {
	uint64_t numbers[16];
	char texts[16][32];
	size_t reports;
	uint64_t retired;
};

static bool
collect(const struct outbox_record_view *record, void *arg)
{
	struct seen *seen = arg;
	if (record->kind == OUTBOX_RETIRED) {
		seen->retired++;
		return true;
	}
	if (seen->reports < 16) {
		seen->numbers[seen->reports] = record->number;
		snprintf(seen->texts[seen->reports], sizeof(seen->texts[0]), "%.*s",
		    (int) record->len, (const char *) record->data);
	}
	seen->reports++;
	return true;
}

/* three records "one", "two", "three" numbered 1..3, back to back */
static size_t
three_records(uint8_t *buf, size_t offsets[4])
{
	const char *texts[] = {"one", "two", "three"};
	size_t at = 0;
	for (int i = 0; i < 3; i++) {
		offsets[i] = at;
		outbox_encode(buf + at, OUTBOX_REPORT, (uint64_t) i + 1, 1000 + i,
		    (const uint8_t *) texts[i], strlen(texts[i]));
		at += outbox_encode_size(strlen(texts[i]));
	}
	offsets[3] = at;
	return at;
}

static void
test_crc32c_known_value(void **state)
{
	(void) state;
	/* the standard check value of CRC-32C */
	assert_int_equal(outbox_crc32c((const uint8_t *) "123456789", 9), 0xE3069283u);
}

static void
test_roundtrip(void **state)
{
	uint8_t buf[256];
	size_t offsets[4];
	struct seen seen = {0};
	uint64_t corrupt = 0;
	size_t len = three_records(buf, offsets);

	(void) state;
	assert_int_equal(len, 3 * (OUTBOX_HEADER + OUTBOX_PAYLOAD_HEADER) + 11);
	outbox_scan(buf, len, collect, &seen, &corrupt);
	assert_int_equal(corrupt, 0);
	assert_int_equal(seen.reports, 3);
	assert_int_equal(seen.numbers[2], 3);
	assert_string_equal(seen.texts[0], "one");
	assert_string_equal(seen.texts[2], "three");
}

static void
test_truncated_tail(void **state)
{
	uint8_t buf[256];
	size_t offsets[4];
	size_t len = three_records(buf, offsets);

	(void) state;
	/* cut the last record at every offset: two good ones, one corrupt
	 * (none when the cut is exactly at a record boundary) */
	for (size_t cut = offsets[2]; cut < len; cut++) {
		struct seen seen = {0};
		uint64_t corrupt = 0;
		outbox_scan(buf, cut, collect, &seen, &corrupt);
		assert_int_equal(seen.reports, 2);
		assert_int_equal(corrupt, cut == offsets[2] ? 0 : 1);
	}
}

static void
test_flipped_bytes(void **state)
{
	uint8_t buf[256];
	size_t offsets[4];
	size_t len = three_records(buf, offsets);

	(void) state;
	/* flip each byte of the middle record in turn: the other two always
	 * come back, the middle one never does, and one stretch is corrupt */
	for (size_t at = offsets[1]; at < offsets[2]; at++) {
		struct seen seen = {0};
		uint64_t corrupt = 0;
		buf[at] ^= 0x5a;
		outbox_scan(buf, len, collect, &seen, &corrupt);
		buf[at] ^= 0x5a;
		assert_int_equal(seen.reports, 2);
		assert_string_equal(seen.texts[0], "one");
		assert_string_equal(seen.texts[1], "three");
		assert_int_equal(corrupt, 1);
	}
}

static void
test_garbage_and_lies(void **state)
{
	uint8_t buf[512];
	size_t offsets[4];
	struct seen seen = {0};
	uint64_t corrupt = 0;
	size_t len;

	(void) state;
	/* garbage before the records, then a header claiming 2^32-1 bytes */
	memset(buf, 0xee, 40);
	len = 40 + three_records(buf + 40, offsets);
	outbox_scan(buf, len, collect, &seen, &corrupt);
	assert_int_equal(seen.reports, 3);
	assert_int_equal(corrupt, 1);

	memset(&seen, 0, sizeof(seen));
	corrupt = 0;
	len = three_records(buf, offsets);
	buf[offsets[1] + 4] = 0xff;
	buf[offsets[1] + 5] = 0xff;
	buf[offsets[1] + 6] = 0xff;
	buf[offsets[1] + 7] = 0xff;
	outbox_scan(buf, len, collect, &seen, &corrupt);
	assert_int_equal(seen.reports, 2);
	assert_int_equal(corrupt, 1);

	/* empty and tiny buffers */
	corrupt = 0;
	outbox_scan(buf, 0, collect, &seen, &corrupt);
	assert_int_equal(corrupt, 0);
	outbox_scan(buf, 3, collect, &seen, &corrupt);
	assert_int_equal(corrupt, 1);
}

static char spool[256];

static int
make_spool(void **state)
{
	(void) state;
	snprintf(spool, sizeof(spool), "/tmp/test_outbox.XXXXXX");
	return mkdtemp(spool) == NULL ? -1 : 0;
}

static int
remove_spool(void **state)
{
	DIR *d = opendir(spool);
	struct dirent *e;
	char path[512];

	(void) state;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", spool, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(spool);
	return 0;
}

static void
append_text(struct outbox *box, const char *text, int64_t now_us)
{
	uint8_t *data = (uint8_t *) strdup(text);
	assert_non_null(data);
	assert_int_equal(outbox_append(box, data, strlen(text), now_us), PGF_OK);
}

static void
assert_head(struct outbox *box, const char *text)
{
	const uint8_t *data;
	size_t len;
	assert_true(outbox_head(box, &data, &len));
	assert_int_equal(len, strlen(text));
	assert_memory_equal(data, text, len);
}

static bool
keep_all_but_r3(const uint8_t *data, size_t len, void *arg)
{
	(void) arg;
	return !(len == 2 && memcmp(data, "r3", 2) == 0);
}

static void
test_spool_replay_and_retire(void **state)
{
	struct outbox_limits limits = {100, 1 << 20, 0};
	struct outbox *box;

	(void) state;
	assert_int_equal(outbox_open(spool, &limits, NULL, NULL, &box), PGF_OK);
	assert_true(outbox_spooling(box));
	append_text(box, "r1", 1);
	append_text(box, "r2", 2);
	append_text(box, "r3", 3);
	outbox_retire(box); /* r1 acknowledged */
	outbox_close(box);  /* like a kill -9: nothing else written */

	assert_int_equal(outbox_open(spool, &limits, NULL, NULL, &box), PGF_OK);
	assert_int_equal(outbox_count(box), 2);
	assert_head(box, "r2");
	assert_int_equal(outbox_corrupt(box), 0);
	append_text(box, "r4", 4);
	outbox_close(box);

	/* the caller may refuse a recovered report (newer than its state) */
	assert_int_equal(outbox_open(spool, &limits, keep_all_but_r3, NULL, &box), PGF_OK);
	assert_int_equal(outbox_count(box), 2);
	assert_head(box, "r2");
	outbox_retire(box);
	assert_head(box, "r4");
	outbox_retire(box);
	assert_int_equal(outbox_count(box), 0);
	outbox_close(box);

	/* everything acknowledged: nothing comes back, no segment is left */
	assert_int_equal(outbox_open(spool, &limits, NULL, NULL, &box), PGF_OK);
	assert_int_equal(outbox_count(box), 0);
	outbox_close(box);
}

static void
test_bounds_drop_oldest(void **state)
{
	struct outbox_limits limits = {3, 1 << 20, 0};
	struct outbox *box;
	char text[8];

	(void) state;
	assert_int_equal(outbox_open(spool, &limits, NULL, NULL, &box), PGF_OK);
	for (int i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "b%d", i);
		append_text(box, text, i);
	}
	assert_int_equal(outbox_count(box), 3);
	assert_int_equal(outbox_dropped(box), 2);
	assert_head(box, "b3");
	outbox_close(box);
	assert_int_equal(outbox_open(spool, &limits, NULL, NULL, &box), PGF_OK);
	assert_int_equal(outbox_count(box), 3);
	assert_head(box, "b3");
	/* an age bound drops what is too old, oldest first */
	limits.max_age_ms = 1;
	outbox_set_limits(box, &limits);
	append_text(box, "b6", 4000);
	assert_int_equal(outbox_count(box), 1);
	assert_head(box, "b6");
	assert_int_equal(outbox_dropped(box), 3);
	outbox_retire(box);
	outbox_close(box);
}

static void
test_unusable_spool(void **state)
{
	struct outbox_limits limits = {10, 1 << 20, 0};
	struct outbox *box;

	(void) state;
	/* a path under a regular file can never be a directory */
	assert_int_equal(outbox_open("/dev/null/spool", &limits, NULL, NULL, &box), PGF_OK);
	assert_false(outbox_spooling(box));
	assert_int_equal(outbox_spool_failures(box), 1);
	append_text(box, "m1", 1);
	assert_head(box, "m1");
	outbox_close(box);
	/* memory only */
	assert_int_equal(outbox_open("", &limits, NULL, NULL, &box), PGF_OK);
	assert_false(outbox_spooling(box));
	assert_int_equal(outbox_spool_failures(box), 0);
	outbox_close(box);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_value),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated_tail),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_garbage_and_lies),
		cmocka_unit_test_setup_teardown(test_spool_replay_and_retire, make_spool, remove_spool),
		cmocka_unit_test_setup_teardown(test_bounds_drop_oldest, make_spool, remove_spool),
		cmocka_unit_test(test_unusable_spool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
