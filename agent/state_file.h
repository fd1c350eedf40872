/*
 * state_file.h - the agent's memory across restarts.
 *
 * state_dir/agent_id holds the agent's id (made once). state_dir/agent.state
 * holds the last statements snapshot (the baseline of the next delta), the
 * seq of the last report made with it and the dropped-report count, as one
 * AgentState message behind a header with a checksum (unacknowledged
 * reports live in the outbox, agent/outbox.c). It is written to a temporary file, fsync'd and
 * renamed, so a crash leaves the old state or the new one, never half.
 */
#ifndef PGFLEET_AGENT_STATE_FILE_H
#define PGFLEET_AGENT_STATE_FILE_H

#include <stddef.h>

#include "common/error.h"
#include "pgfleet/v1/agent_state.pb-c.h"

/* Largest state file read back (the pending bound keeps it far below). */
#define STATE_FILE_MAX_BYTES (256u * 1024u * 1024u)

/* state_file_agent_id reads state_dir/agent_id, creating it with a new
 * random id if missing, into id (33 bytes: 32 hex digits and NUL). Creates
 * state_dir if needed. Returns PGF_EIO with a one-line reason in errbuf. */
int state_file_agent_id(const char *state_dir, char id[33], char *errbuf,
    size_t errlen) PGF_MUST_CHECK;

/* state_file_random_id writes 32 random hex digits and a NUL into id. */
int state_file_random_id(char id[33]) PGF_MUST_CHECK;

/* state_file_load reads state_dir/agent.state. On PGF_OK *out is owned by
 * the caller (pgfleet__v1__agent_state__free_unpacked). PGF_ENOTFOUND when
 * there is no state yet; PGF_EDECODE when the file is corrupt (the caller
 * starts fresh and says so). */
int state_file_load(const char *state_dir, Pgfleet__V1__AgentState **out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* state_file_save replaces state_dir/agent.state with state, durably. */
int state_file_save(const char *state_dir, const Pgfleet__V1__AgentState *state,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

#endif
