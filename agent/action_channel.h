/*
 * action_channel.h - the agent's end of the action channel: EXPLAIN,
 * EXPLAIN ANALYZE, cancel and terminate asked for through the collector.
 *
 * One thread dials the collector's action address (the agent only dials
 * out) and keeps a long poll open there; a Command that comes back is run
 * on the agent's own action connection (application_name
 * pgfleet-agent-action) only when this agent's config allows it, and its
 * result rides on the next poll. Every action is logged with who asked,
 * what, where and the outcome.
 */
#ifndef PGFLEET_AGENT_ACTION_CHANNEL_H
#define PGFLEET_AGENT_ACTION_CHANNEL_H

#include <stddef.h>

#include "agent/agent_config.h"
#include "common/error.h"

struct action_channel;

/*
 * action_channel_start starts the channel's thread. It copies what it
 * needs from config (a later reload does not change a running channel).
 * With action_collector = "off", or a collector address it cannot derive
 * an action address from, it logs why and returns PGF_OK with *out NULL.
 * PGF_ECONFIG for an invalid address; PGF_ENOMEM; PGF_EIO.
 */
int action_channel_start(const struct agent_config *config, const char *agent_id,
    struct action_channel **out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* action_channel_stop stops the thread and frees the channel; an action
 * running at that moment finishes first (bounded by
 * action_statement_timeout). NULL is a no-op. */
void action_channel_stop(struct action_channel *channel);

/* action_channel_follow: the report loop moved to collector index (of its
 * collector list); with one action address per collector the channel
 * leaves a poll held by the old one and polls the new one's action
 * address. No-op for NULL, a single action address or a bad index. Does
 * not block on the network. */
void action_channel_follow(struct action_channel *channel, size_t index);

/* action_channel_derive_address writes the action address of collector
 * (tcp://HOST:PORT -> tcp://HOST:7453, tls+tcp:// likewise) into out;
 * false when it cannot. */
bool action_channel_derive_address(const char *collector, char *out, size_t size);

#endif
