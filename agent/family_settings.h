/*
 * family_settings.h - the pure parts of the settings family, for its tests.
 *
 * The settings family (family_settings.c) is sent when it changes: the
 * agent keeps a fingerprint of what it last sent and leaves the family out
 * of a report while the fingerprint stays the same, resending it once a
 * day anyway so a collector that lost it gets it back.
 */
#ifndef PGFLEET_AGENT_FAMILY_SETTINGS_H
#define PGFLEET_AGENT_FAMILY_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "pgfleet/v1/agent.pb-c.h"

/* An unchanged family is still sent this often (ms). */
#define SETTINGS_RESEND_MS ((int64_t) 24 * 3600 * 1000)

/* What the family remembers between collections (its context->state). */
struct settings_memory {
	/* a family was sent, with this fingerprint, at sent_ms (monotonic) */
	bool sent;
	uint64_t fingerprint;
	int64_t sent_ms;
};

/*
 * settings_fingerprint is a 64-bit FNV-1a hash of the family's settings
 * (name, value, unit, source, pending_restart), extensions (database,
 * name, version) and server version, in their order. Times (start, stats
 * resets) are left out: they do not make the family worth resending.
 */
uint64_t settings_fingerprint(const Pgfleet__V1__SettingsFamily *family);

/*
 * settings_should_send decides whether the family goes into this report:
 * yes when everything is asked for, when it has problems (those are sent
 * every time), when nothing was sent yet, when the fingerprint changed, or
 * when the last send is SETTINGS_RESEND_MS old. When yes, memory (may be
 * NULL: always yes) now holds fingerprint and now_ms.
 */
bool settings_should_send(struct settings_memory *memory, uint64_t fingerprint,
    bool has_problems, bool everything, int64_t now_ms);

#endif
