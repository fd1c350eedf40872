/*
 * decode_budget.c - a protobuf-c allocator with a byte budget (see
 * decode_budget.h).
 */
#include "common/decode_budget.h"

#include <stdlib.h>

static void *
budget_alloc(void *data, size_t size)
{
	struct pgf_decode_budget *budget = data;

	if (size > budget->limit - budget->used) {
		budget->exceeded = true;
		return NULL;
	}
	budget->used += size;
	return malloc(size);
}

static void
budget_free(void *data, void *pointer)
{
	(void) data;
	free(pointer);
}

void
pgf_decode_budget_init(struct pgf_decode_budget *budget, size_t limit)
{
	budget->allocator.alloc = budget_alloc;
	budget->allocator.free = budget_free;
	budget->allocator.allocator_data = budget;
	budget->limit = limit;
	budget->used = 0;
	budget->exceeded = false;
}
