/*
 * arena.c - a chain of blocks; allocations bump a pointer (see arena.h).
 */
#include "common/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE (64u * 1024u)
#define ARENA_ALIGN alignof(max_align_t)

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct pgf_arena {
	struct arena_block *blocks;
	size_t used_total;
};

struct pgf_arena *
pgf_arena_new(void)
{
	return calloc(1, sizeof(struct pgf_arena));
}

void
pgf_arena_reset(struct pgf_arena *arena)
{
	struct arena_block *block = arena->blocks;
	while (block != NULL) {
		struct arena_block *next = block->next;
		free(block);
		block = next;
	}
	arena->blocks = NULL;
	arena->used_total = 0;
}

void
pgf_arena_free(struct pgf_arena *arena)
{
	if (arena == NULL)
		return;
	pgf_arena_reset(arena);
	free(arena);
}

void *
pgf_arena_alloc(struct pgf_arena *arena, size_t size)
{
	struct arena_block *block = arena->blocks;
	size_t aligned;
	void *result;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	aligned = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (block == NULL || block->size - block->used < aligned) {
		size_t block_size = aligned > ARENA_BLOCK_SIZE ? aligned : ARENA_BLOCK_SIZE;
		block = malloc(sizeof(*block) + block_size);
		if (block == NULL)
			return NULL;
		block->size = block_size;
		block->used = 0;
		block->next = arena->blocks;
		arena->blocks = block;
	}
	result = block->data + block->used;
	block->used += aligned;
	arena->used_total += aligned;
	memset(result, 0, size);
	return result;
}

void *
pgf_arena_array(struct pgf_arena *arena, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	return pgf_arena_alloc(arena, count * size);
}

void *
pgf_arena_memdup(struct pgf_arena *arena, const void *data, size_t len)
{
	void *copy = pgf_arena_alloc(arena, len);
	if (copy != NULL && len > 0)
		memcpy(copy, data, len);
	return copy;
}

char *
pgf_arena_strdup(struct pgf_arena *arena, const char *text)
{
	if (text == NULL)
		text = "";
	return pgf_arena_memdup(arena, text, strlen(text) + 1);
}

size_t
pgf_arena_used(const struct pgf_arena *arena)
{
	return arena->used_total;
}
