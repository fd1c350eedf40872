/*
 * size_pretty.h - byte counts as people read them, exactly as PostgreSQL's
 * pg_size_pretty() writes them, so the collector's answers match what a
 * DBA sees in psql.
 */
#ifndef PGFLEET_COMMON_SIZE_PRETTY_H
#define PGFLEET_COMMON_SIZE_PRETTY_H

#include <stddef.h>
#include <stdint.h>

/*
 * pgf_size_pretty writes bytes like pg_size_pretty(bigint) (PostgreSQL 15
 * and later): "1023 bytes", "10 kB", "2048 kB", "125 MB", then GB, TB, PB.
 * A unit is used while the value is below 10240 of it (bytes) or rounds,
 * half away from zero, to less than 10240 of it (the larger units); PB is
 * the last unit. Negative sizes are written the same way with a sign.
 * buf is always NUL-terminated (cut when size is too small; 32 bytes
 * always suffice). Returns buf.
 */
char *pgf_size_pretty(int64_t bytes, char *buf, size_t size);

#endif
