/*
 * temp_store.h - a writable store in a fresh temporary folder, for unit
 * tests that need a real SQLite file (cmocka setup/teardown helpers).
 */
#ifndef PGFLEET_TESTS_TEMP_STORE_H
#define PGFLEET_TESTS_TEMP_STORE_H

#include "collector/store.h"

struct temp_store {
	char dir[64];
	char path[96];
	struct store *store;
};

/* temp_store_setup is a cmocka setup: *state becomes a struct temp_store
 * with an open writer store at path; -1 on failure (printed). */
int temp_store_setup(void **state);

/* temp_store_teardown closes the store and removes the folder. */
int temp_store_teardown(void **state);

#endif
