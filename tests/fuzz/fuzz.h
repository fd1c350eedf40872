/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point, and a
 * temporary store made once per process and removed at exit.
 *
 * Each target is built twice: with clang and PGFLEET_FUZZ as a libFuzzer
 * binary, and always as a replay driver (replay_main.c) that feeds every
 * file of the corpus folders given on its command line through the same
 * LLVMFuzzerTestOneInput, so the seed corpora run as ordinary tests.
 */
#ifndef PGFLEET_TESTS_FUZZ_H
#define PGFLEET_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_temp_store returns the path of a fresh store (schema made) in a
 * temporary folder, created on first call and removed at exit; NULL on
 * failure (reason on stderr). */
const char *fuzz_temp_store(void);

/* fuzz_open_store opens it (read_only or not) once per process; exits on
 * failure. Closed at exit. */
struct store *fuzz_open_store(bool read_only);

#endif
