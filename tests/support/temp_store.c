/*
 * temp_store.c - see temp_store.h.
 */
#include "tests/support/temp_store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

int
temp_store_setup(void **state)
{
	struct temp_store *t = calloc(1, sizeof(*t));
	char errbuf[512];

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/pgfleet-test-store-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/store.db", t->dir);
	if (store_open(t->path, false, &t->store, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "%s\n", errbuf);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int
temp_store_teardown(void **state)
{
	struct temp_store *t = *state;
	int rc;

	store_close(t->store);
	rc = nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return rc;
}
