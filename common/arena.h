/*
 * arena.h - memory for one cycle or one request, freed all at once.
 *
 * A report's families are built from many small allocations (rows, their
 * strings, their pointer arrays) that all die together once the report is
 * packed: they come from an arena, so no family needs its own free code.
 * Not thread-safe; one arena per thread of work.
 */
#ifndef PGFLEET_COMMON_ARENA_H
#define PGFLEET_COMMON_ARENA_H

#include <stddef.h>

struct pgf_arena;

/* pgf_arena_new returns an empty arena, or NULL when out of memory. */
struct pgf_arena *pgf_arena_new(void);

/* pgf_arena_free frees the arena and everything allocated from it; NULL is
 * a no-op. */
void pgf_arena_free(struct pgf_arena *arena);

/* pgf_arena_reset frees everything allocated from the arena and keeps the
 * arena for reuse. */
void pgf_arena_reset(struct pgf_arena *arena);

/* pgf_arena_alloc returns size zeroed bytes aligned for any type, valid
 * until the next reset or free; NULL when out of memory. */
void *pgf_arena_alloc(struct pgf_arena *arena, size_t size);

/* pgf_arena_array returns count zeroed elements of size bytes (overflow
 * checked); NULL when out of memory or on overflow. */
void *pgf_arena_array(struct pgf_arena *arena, size_t count, size_t size);

/* pgf_arena_strdup copies text (NULL gives ""). */
char *pgf_arena_strdup(struct pgf_arena *arena, const char *text);

/* pgf_arena_memdup copies len bytes. */
void *pgf_arena_memdup(struct pgf_arena *arena, const void *data, size_t len);

/* Bytes handed out since the last reset (for the agent's own figures). */
size_t pgf_arena_used(const struct pgf_arena *arena);

#endif
