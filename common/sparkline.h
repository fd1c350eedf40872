/*
 * sparkline.h - a series of numbers as one line of block characters
 * (▁▂▃▄▅▆▇█), for trends in a terminal.
 */
#ifndef PGFLEET_COMMON_SPARKLINE_H
#define PGFLEET_COMMON_SPARKLINE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * pgf_sparkline writes values[0..n) scaled from 0 to their maximum, one
 * block character (3 bytes of UTF-8) per value, into out (NUL-terminated,
 * cut at a character boundary when out is too small). A value whose
 * present[i] is false (no data in that bucket) is a space; present may be
 * NULL. Returns out. Pure.
 */
char *pgf_sparkline(const double *values, const bool *present, size_t n, char *out,
    size_t size);

#endif
