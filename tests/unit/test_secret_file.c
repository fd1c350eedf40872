/* test_secret_file.c - secrets others can read are refused; short secrets are read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/secret_file.h"

static char dir[] = "/tmp/pgfleet-secret.XXXXXX";

static const char *
write_file(const char *name, const char *body, size_t len, mode_t mode)
{
	static char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(body, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_reads_a_private_token(void **state)
{
	char err[256] = "", *token = NULL;
	const char *path = write_file("token", "s3cret\r\n\n", 9, 0600);
	(void) state;
	assert_int_equal(pgf_secret_file_read(path, "agent_token", &token, err, sizeof(err)), PGF_OK);
	assert_string_equal(token, "s3cret");
	free(token);
	/* group read is allowed (Kubernetes Secrets with fsGroup) */
	path = write_file("token-group", "abc", 3, 0440);
	assert_int_equal(pgf_secret_file_read(path, "agent_token", &token, err, sizeof(err)), PGF_OK);
	assert_string_equal(token, "abc");
	free(token);
	assert_int_equal(pgf_secret_file_check(path, "tls_key", err, sizeof(err)), PGF_OK);
}

static void
test_refuses_what_others_can_read(void **state)
{
	char err[256] = "", *token = NULL;
	const char *path = write_file("world", "abc", 3, 0644);
	(void) state;
	assert_int_equal(pgf_secret_file_read(path, "agent_token", &token, err, sizeof(err)),
	    PGF_ECONFIG);
	assert_null(token);
	assert_non_null(strstr(err, "agent_token file"));
	assert_non_null(strstr(err, "0644"));
	assert_non_null(strstr(err, "others can read"));
	path = write_file("world-writable", "abc", 3, 0602);
	assert_int_equal(pgf_secret_file_check(path, "tls_key", err, sizeof(err)), PGF_ECONFIG);
	assert_non_null(strstr(err, "others can write"));
}

static void
test_refuses_empty_huge_binary_missing(void **state)
{
	char err[256] = "", *token = NULL;
	char *big = calloc(1, PGF_SECRET_MAX_BYTES + 1);
	const char *path;
	(void) state;
	assert_non_null(big);
	memset(big, 'x', PGF_SECRET_MAX_BYTES);
	path = write_file("exact", big, PGF_SECRET_MAX_BYTES, 0600);
	assert_int_equal(pgf_secret_file_read(path, "t", &token, err, sizeof(err)), PGF_OK);
	assert_int_equal(strlen(token), PGF_SECRET_MAX_BYTES);
	free(token);
	token = NULL;
	big[PGF_SECRET_MAX_BYTES] = 'x';
	path = write_file("huge", big, PGF_SECRET_MAX_BYTES + 1, 0600);
	assert_int_equal(pgf_secret_file_read(path, "t", &token, err, sizeof(err)), PGF_ECONFIG);
	assert_non_null(strstr(err, "larger than"));
	free(big);
	path = write_file("empty", "\n", 1, 0600);
	assert_int_equal(pgf_secret_file_read(path, "t", &token, err, sizeof(err)), PGF_ECONFIG);
	assert_non_null(strstr(err, "empty"));
	path = write_file("nul", "a\0b", 3, 0600);
	assert_int_equal(pgf_secret_file_read(path, "t", &token, err, sizeof(err)), PGF_ECONFIG);
	assert_non_null(strstr(err, "NUL"));
	assert_int_equal(pgf_secret_file_read("/nonexistent/x", "t", &token, err, sizeof(err)),
	    PGF_ECONFIG);
	assert_non_null(strstr(err, "could not open t file \"/nonexistent/x\""));
	assert_int_equal(pgf_secret_file_check(dir, "t", err, sizeof(err)), PGF_ECONFIG);
	assert_non_null(strstr(err, "not a regular file"));
	assert_null(token);
}

static int
teardown(void **state)
{
	char cmd[300];
	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_a_private_token),
	    cmocka_unit_test(test_refuses_what_others_can_read),
	    cmocka_unit_test(test_refuses_empty_huge_binary_missing),
	};
	if (mkdtemp(dir) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
