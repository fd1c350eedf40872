/*
 * decode_budget.h - a protobuf-c allocator with a byte budget.
 *
 * Why: a small message can unpack into far more memory than its size (an
 * empty submessage is 2 bytes on the wire and a whole struct in memory),
 * so checking the wire size alone (NNG_OPT_RECVMAXSZ) does not bound what
 * decoding allocates. Unpacking through this allocator fails once the
 * total allocated passes the budget.
 *
 * The blocks are plain malloc blocks, so a message unpacked with it is
 * freed as usual with protobuf_c_message_free_unpacked(message, NULL).
 * The budget counts allocations only (unpacking hardly frees before it
 * ends), which makes it a bound on the peak too.
 */
#ifndef PGFLEET_COMMON_DECODE_BUDGET_H
#define PGFLEET_COMMON_DECODE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* What one unpacked message may allocate. A legitimate report at the
 * largest wire size (16 MiB, at most 100 000 statements) needs well under
 * this; 10^6 empty rows need more. */
#define PGF_DECODE_BUDGET (64u * 1024u * 1024u)

struct pgf_decode_budget {
	ProtobufCAllocator allocator; /* pass &budget->allocator to unpack */
	size_t limit;
	size_t used;
	bool exceeded; /* an allocation was refused */
};

/* pgf_decode_budget_init prepares budget to allow limit bytes in total. */
void pgf_decode_budget_init(struct pgf_decode_budget *budget, size_t limit);

#endif
