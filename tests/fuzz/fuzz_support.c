/*
 * fuzz_support.c - the temporary store the fuzz targets use (see fuzz.h).
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static char temp_dir[64];
static char temp_path[128];
static struct store *opened[2];

static void
remove_temp(void)
{
	char path[192];

	for (int i = 0; i < 2; i++) {
		store_close(opened[i]);
		opened[i] = NULL;
	}
	if (temp_dir[0] == '\0')
		return;
	/* the store and SQLite's companions (WAL, shared memory) */
	const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", temp_path, suffixes[i]);
		unlink(path);
	}
	rmdir(temp_dir);
}

const char *
fuzz_temp_store(void)
{
	struct store *store = NULL;
	char errbuf[512];

	if (temp_path[0] != '\0')
		return temp_path;
	snprintf(temp_dir, sizeof(temp_dir), "/tmp/pgfleet-fuzz-XXXXXX");
	if (mkdtemp(temp_dir) == NULL) {
		perror("mkdtemp");
		temp_dir[0] = '\0';
		return NULL;
	}
	snprintf(temp_path, sizeof(temp_path), "%s/store.db", temp_dir);
	atexit(remove_temp);
	/* the writer makes the schema; a reader needs it to exist */
	if (store_open(temp_path, false, &store, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "%s\n", errbuf);
		return NULL;
	}
	store_close(store);
	return temp_path;
}

struct store *
fuzz_open_store(bool read_only)
{
	char errbuf[512];
	const char *path;

	if (opened[read_only] != NULL)
		return opened[read_only];
	/* the targets feed thousands of bad inputs: their warnings are noise */
	pgf_log_init("fuzz", PGF_LOG_ERROR);
	if ((path = fuzz_temp_store()) == NULL)
		exit(1);
	if (store_open(path, read_only, &opened[read_only], errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "%s\n", errbuf);
		exit(1);
	}
	return opened[read_only];
}
