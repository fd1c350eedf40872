/*
 * collector_list.c - the collector address list and the failover policy
 * (see collector_list.h for the rules; here only how).
 */
#include "agent/collector_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

void
collector_list_fini(struct collector_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->addresses[i]);
	list->count = 0;
}

/* Checks one trimmed entry and appends a copy of it. */
static int
list_add(struct collector_list *list, const char *start, size_t len, const char *key,
    char *errbuf, size_t errlen)
{
	nng_url *url = NULL;
	char *address;

	if (len == 0) {
		snprintf(errbuf, errlen, "invalid %s: empty address in the list", key);
		return PGF_ECONFIG;
	}
	if (list->count == COLLECTOR_LIST_MAX) {
		snprintf(errbuf, errlen, "invalid %s: more than %d addresses", key,
		    COLLECTOR_LIST_MAX);
		return PGF_ECONFIG;
	}
	address = strndup(start, len);
	if (address == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	/* the syntax only (nng_url_parse opens nothing): a wrong transport
	 * or an unreachable host shows when the agent dials */
	if (strstr(address, "://") == NULL || nng_url_parse(&url, address) != 0) {
		snprintf(errbuf, errlen,
		    "invalid %s address \"%s\": not an nng address such as "
		    "tcp://host:7450",
		    key, address);
		free(address);
		return PGF_ECONFIG;
	}
	nng_url_free(url);
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->addresses[i], address) == 0) {
			snprintf(errbuf, errlen,
			    "invalid %s: address \"%s\" is listed twice", key, address);
			free(address);
			return PGF_ECONFIG;
		}
	}
	list->addresses[list->count++] = address;
	return PGF_OK;
}

int
collector_list_parse(const char *text, const char *key, struct collector_list *out,
    char *errbuf, size_t errlen)
{
	const char *p = text;
	int rv;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *end = strchr(p, ',');
		const char *last;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		last = end;
		while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
			last--;
		if ((rv = list_add(out, p, (size_t) (last - p), key, errbuf, errlen))
		    != PGF_OK) {
			collector_list_fini(out);
			return rv;
		}
		if (*end == '\0')
			return PGF_OK;
		p = end + 1;
	}
}

int
collector_list_check_dialable(
    const struct collector_list *list, const char *key, char *errbuf, size_t errlen)
{
	nng_socket socket;
	int rv;

	if ((rv = nng_req0_open(&socket)) != 0) {
		snprintf(errbuf, errlen, "could not open socket: %s", nng_strerror(rv));
		return PGF_EIO;
	}
	for (size_t i = 0; i < list->count; i++) {
		nng_dialer dialer;
		if ((rv = nng_dialer_create(&dialer, socket, list->addresses[i])) != 0) {
			snprintf(errbuf, errlen, "invalid %s address \"%s\": %s", key,
			    list->addresses[i], nng_strerror(rv));
			nng_close(socket);
			return PGF_ECONFIG;
		}
		nng_dialer_close(dialer);
	}
	nng_close(socket);
	return PGF_OK;
}

void
collector_list_policy_init(struct collector_list_policy *policy, size_t count,
    int64_t failover_after_ms, int64_t return_after_ms, int64_t now_ms)
{
	memset(policy, 0, sizeof(*policy));
	policy->count = count;
	policy->failover_after_ms = failover_after_ms;
	policy->return_after_ms = return_after_ms;
	policy->failing_since_ms = -1;
	policy->settled_ms = now_ms;
}

enum collector_list_move
collector_list_policy_before_send(struct collector_list_policy *policy, int64_t now_ms)
{
	if (policy->current == 0 || policy->probing || policy->return_after_ms <= 0
	    || now_ms - policy->settled_ms < policy->return_after_ms)
		return COLLECTOR_LIST_STAY;
	policy->probing = true;
	policy->probe_from = policy->current;
	policy->current = 0;
	return COLLECTOR_LIST_PROBE;
}

enum collector_list_move
collector_list_policy_after(
    struct collector_list_policy *policy, bool answered, int64_t now_ms)
{
	if (policy->probing) {
		policy->probing = false;
		if (answered) {
			/* a fresh start on the first address */
			policy->failing_since_ms = -1;
			policy->failures = 0;
			policy->settled_ms = now_ms;
			policy->switches++;
			return COLLECTOR_LIST_RETURNED;
		}
		/* back where it was, its own failure count untouched: a probe
		 * neither hastens nor delays a failover there */
		policy->current = policy->probe_from;
		policy->settled_ms = now_ms;
		return COLLECTOR_LIST_PROBE_FAILED;
	}
	if (answered) {
		policy->failing_since_ms = -1;
		policy->failures = 0;
		return COLLECTOR_LIST_STAY;
	}
	if (policy->failing_since_ms < 0)
		policy->failing_since_ms = now_ms;
	policy->failures++;
	if (policy->count < 2 || policy->failures < 2
	    || now_ms - policy->failing_since_ms < policy->failover_after_ms)
		return COLLECTOR_LIST_STAY;
	policy->current = (policy->current + 1) % policy->count;
	policy->failing_since_ms = -1;
	policy->failures = 0;
	policy->settled_ms = now_ms;
	policy->switches++;
	return COLLECTOR_LIST_FAILOVER;
}
