/*
 * test_log.c - one event is one line of text: newlines, carriage returns
 * and terminal escape sequences inside a message (a peer's or a server's
 * strings) come out as spaces; a message longer than the line buffer is
 * cut and still ends the line; levels below the minimum are not written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Runs log_some with stderr going to a temporary file; returns what was
 * written (malloc'd). */
static char *
captured(void (*log_some)(void))
{
	char path[] = "/tmp/pgfleet-test-log.XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	char *text = calloc(1, 8192);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0 && text != NULL);
	unlink(path);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_some();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, text, 8191, 0);
	assert_true(n >= 0);
	close(fd);
	return text;
}

static void
log_hostile(void)
{
	pgf_log_init("test_log", PGF_LOG_INFO);
	pgf_info("application \"%s\" connected",
	    "evil\n2026-01-01T00:00:00Z fake ERROR: \x1b[31mred\r\t\x7f");
}

static void
test_control_characters(void **state)
{
	char *text = captured(log_hostile);
	(void) state;

	/* one line: the only newline ends it */
	assert_non_null(strchr(text, '\n'));
	assert_true(strchr(text, '\n') == text + strlen(text) - 1);
	for (const char *p = text; *p != '\n'; p++)
		assert_true((unsigned char) *p >= 0x20 && (unsigned char) *p != 0x7f);
	assert_non_null(strstr(text, " test_log LOG: application \"evil 2026-01-01T00:00:00Z"
				     " fake ERROR:  [31mred   \" connected\n"));
	free(text);
}

static void
log_long_and_filtered(void)
{
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pgf_log_init("test_log", PGF_LOG_WARNING);
	pgf_info("not shown");
	pgf_warning("%s", big);
}

static void
test_long_line_and_level(void **state)
{
	char *text = captured(log_long_and_filtered);
	size_t len = strlen(text);
	(void) state;

	assert_null(strstr(text, "not shown"));
	assert_true(len > 100 && len < 5000);
	assert_int_equal(text[len - 1], '\n');
	assert_null(memchr(text, '\n', len - 1));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_long_line_and_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
