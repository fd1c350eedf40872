/*
 * action_broker.h - the collector's end of the action channel.
 *
 * Agents only dial out, so an action reaches an agent through a long poll
 * the agent keeps open on `action_listen`: the broker holds each agent's
 * poll (one nng context per poll) until it has a command for that instance
 * or the poll's wait passes. An operator's request (an API thread) is
 * handed to the instance's held poll, and the requesting thread waits, with
 * a deadline, for the result the agent sends on its next poll. Every way
 * this can fail is a one-line error, never a hang: no such agent polling,
 * the agent disconnected, the deadline passed.
 */
#ifndef PGFLEET_COLLECTOR_ACTION_BROKER_H
#define PGFLEET_COLLECTOR_ACTION_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "pgfleet/v1/agent_actions.pb-c.h"

struct action_broker;
struct pgf_tls_link;

/* How many agents can hold a poll at once (one nng context each). */
#define ACTION_BROKER_MAX_POLLS 256

/*
 * action_broker_start listens on every address of the comma-separated
 * list and starts serving polls; timeout_ms is how long a call waits for
 * an agent's answer. The broker becomes the process's current one
 * (action_broker_current) until stopped. tls+tcp:// addresses get tls's
 * certificates (common/tls_link.h; borrowed for the call). PGF_EIO with a one-line reason
 * (e.g. the address is in use). The caller owns *out (action_broker_stop).
 */
int action_broker_start(const char *addresses, const struct pgf_tls_link *tls,
    int64_t timeout_ms,
    struct action_broker **out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* action_broker_use_gate makes brokers started afterwards check every
 * poll's agent token with gate (agent_gate.h; NULL = no check): a poll
 * with a wrong token is dropped unanswered (the agent polls again after
 * its receive timeout), is never given a command and cannot deliver a
 * result. Call it before action_broker_start; gate must outlive them. */
struct agent_gate;
void action_broker_use_gate(struct agent_gate *gate);

/* action_broker_stop closes the listener, ends held polls and frees the
 * broker; call it once no thread is inside action_broker_call. NULL is a
 * no-op. */
void action_broker_stop(struct action_broker *broker);

/* action_broker_current is the running broker, or NULL (no action
 * listener): the API handlers' way to it, since they take only a store. */
struct action_broker *action_broker_current(void);

/*
 * action_broker_call sends command (its action set; id and deadline are
 * the broker's) to the agent polling for instance and waits up to the
 * broker's timeout for its result. Blocks the calling thread only; other
 * calls and polls go on. On PGF_OK *result is the agent's (caller frees
 * with protobuf_c_message_free_unpacked). Otherwise a one-line reason:
 * PGF_ENOTFOUND (no agent of that instance is polling), PGF_ETIMEDOUT (no
 * answer within the deadline), PGF_ENOMEM, PGF_EIO.
 */
int action_broker_call(struct action_broker *broker, const char *instance,
    Pgfleet__V1__Command *command, Pgfleet__V1__CommandResult **result, char *errbuf,
    size_t errlen) PGF_MUST_CHECK;

/* action_broker_polling is true while an agent of instance holds a poll
 * (a command for it would be delivered now). Never blocks long. */
bool action_broker_polling(struct action_broker *broker, const char *instance);

#endif
