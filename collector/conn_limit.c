/*
 * conn_limit.c - pipe counting with nng's pipe events (see conn_limit.h).
 *
 * nng 1.5.2 runs REM_POST for every pipe that saw ADD_PRE, also for one
 * closed inside ADD_PRE, so counting up at ADD_PRE and down at REM_POST
 * stays exact. The callbacks run on nng's threads: only atomics here.
 */
#include "collector/conn_limit.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/timeutil.h"

#define LOG_EVERY_MS 10000

struct conn_limit {
	long long max;
	const char *what;
	atomic_llong open;
	atomic_ullong refused;
	atomic_llong logged_ms;
};

static void
describe_peer(nng_pipe pipe, char *out, size_t len)
{
	nng_sockaddr address;

	if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &address) != 0) {
		snprintf(out, len, "an unknown peer");
		return;
	}
	switch (address.s_family) {
	case NNG_AF_INET: {
		const uint8_t *a = (const uint8_t *) &address.s_in.sa_addr;
		const uint8_t *p = (const uint8_t *) &address.s_in.sa_port;
		snprintf(out, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
		    (unsigned) (p[0] << 8 | p[1]));
		break;
	}
	case NNG_AF_INET6:
		snprintf(out, len, "an IPv6 peer");
		break;
	default:
		snprintf(out, len, "a local peer");
		break;
	}
}

static void
on_pipe_event(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
	struct conn_limit *limit = arg;

	if (event == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&limit->open, 1);
		return;
	}
	if (event != NNG_PIPE_EV_ADD_PRE)
		return;
	if (atomic_fetch_add(&limit->open, 1) + 1 > limit->max) {
		int64_t now = pgf_monotonic_ms();
		long long last = atomic_load(&limit->logged_ms);

		atomic_fetch_add(&limit->refused, 1);
		if ((last == 0 || now - last >= LOG_EVERY_MS) &&
		    atomic_compare_exchange_strong(&limit->logged_ms, &last, now)) {
			char peer[64];
			describe_peer(pipe, peer, sizeof(peer));
			pgf_warning("refused a connection from %s: %lld %s connections are open "
				    "(max_agent_connections); %llu refused so far",
			    peer, limit->max, limit->what,
			    (unsigned long long) atomic_load(&limit->refused));
		}
		/* closed in ADD_PRE: the protocol never sees it; REM_POST
		 * uncounts it */
		nng_pipe_close(pipe);
	}
}

int
conn_limit_attach(nng_socket socket, long long max, const char *what, struct conn_limit **out)
{
	struct conn_limit *limit = calloc(1, sizeof(*limit));
	int rv;

	*out = NULL;
	if (limit == NULL)
		return PGF_ENOMEM;
	limit->max = max;
	limit->what = what;
	atomic_init(&limit->open, 0);
	atomic_init(&limit->refused, 0);
	atomic_init(&limit->logged_ms, 0);
	if ((rv = nng_pipe_notify(socket, NNG_PIPE_EV_ADD_PRE, on_pipe_event, limit)) != 0 ||
	    (rv = nng_pipe_notify(socket, NNG_PIPE_EV_REM_POST, on_pipe_event, limit)) != 0) {
		pgf_warning("could not count %s connections: %s", what, nng_strerror(rv));
		free(limit);
		return PGF_EIO;
	}
	*out = limit;
	return PGF_OK;
}

void
conn_limit_free(struct conn_limit *limit)
{
	free(limit);
}

void
conn_limit_read(struct conn_limit *limit, uint64_t *open, uint64_t *refused)
{
	long long now_open;

	if (limit == NULL) {
		*open = 0;
		*refused = 0;
		return;
	}
	now_open = atomic_load(&limit->open);
	*open = now_open > 0 ? (uint64_t) now_open : 0;
	*refused = atomic_load(&limit->refused);
}
