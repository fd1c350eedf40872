/*
 * tls_flood.c - many completed TLS pipes to a collector that never send a
 * request (tests/e2e/rel_tls.sh, reliability T29, TLS part).
 *
 *   tls_flood ADDRESS CA CERT KEY COUNT HOLD_S
 *       COUNT REQ sockets, each dialing ADDRESS (tls+tcp://) with the
 *       client certificate CERT/KEY checked against CA, held HOLD_S
 *       seconds (or until SIGTERM) without sending anything, then closed.
 *
 * Each socket's redials are slowed to one a minute (NNG_OPT_RECONNMINT),
 * but nng 1.5 redials once at once when a new pipe is closed, so
 * pipes_added is about twice the sockets over the cap. Prints one line
 * when it leaves:
 *     sockets=200 pipes_added=200 pipes_removed=150
 * (pipes as this side saw them) and exits 0, or 1 on a setup error.
 * Test only.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/tls_link.h"

static atomic_int pipes_added;
static atomic_int pipes_removed;

/* SIGTERM ends the hold: the harness ends the flood as soon as it has
 * seen what it waits for, however slow the handshakes were. A flag, so a
 * SIGTERM that comes while the sockets are still being opened counts. */
static volatile sig_atomic_t leave;

static void
on_term(int signo)
{
	(void) signo;
	leave = 1;
}

static void
on_pipe(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
	(void) pipe;
	(void) arg;
	if (event == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&pipes_added, 1);
	else if (event == NNG_PIPE_EV_REM_POST)
		atomic_fetch_add(&pipes_removed, 1);
}

int
main(int argc, char **argv)
{
	struct pgf_tls_options options = {.server = false};
	struct pgf_tls_link *link = NULL;
	nng_socket *sockets = NULL;
	char errbuf[512];
	int count, hold_s, opened = 0, status = 1;

	if (argc != 7 || (count = atoi(argv[5])) <= 0 || (hold_s = atoi(argv[6])) < 0) {
		fprintf(stderr, "usage: tls_flood ADDRESS CA CERT KEY COUNT HOLD_S\n");
		return 1;
	}
	struct sigaction term = {.sa_handler = on_term};
	sigemptyset(&term.sa_mask);
	sigaction(SIGTERM, &term, NULL);
	options.ca = argv[2];
	options.cert = argv[3];
	options.key = argv[4];
	options.server_name = "";
	if (pgf_tls_link_open(&options, &link, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "tls_flood: %s\n", errbuf);
		return 1;
	}
	sockets = calloc((size_t) count, sizeof(*sockets));
	if (sockets == NULL)
		goto done;
	for (; opened < count; opened++) {
		nng_socket *s = &sockets[opened];
		int rv = nng_req0_open(s);
		if (rv == 0)
			rv = nng_pipe_notify(*s, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
		if (rv == 0)
			rv = nng_pipe_notify(*s, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
		if (rv == 0)
			rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 60000);
		if (rv == 0)
			rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 60000);
		if (rv != 0) {
			fprintf(stderr, "tls_flood: socket %d: %s\n", opened, nng_strerror(rv));
			goto done;
		}
		if (pgf_tls_dial(*s, argv[1], link, NNG_FLAG_NONBLOCK, NULL, errbuf,
			sizeof(errbuf)) != 0) {
			fprintf(stderr, "tls_flood: %s\n", errbuf);
			opened++;
			goto done;
		}
	}
	for (long waited_ms = 0; !leave && waited_ms < hold_s * 1000L; waited_ms += 100)
		usleep(100000);
	status = 0;
done:
	printf("sockets=%d pipes_added=%d pipes_removed=%d\n", opened,
	    atomic_load(&pipes_added), atomic_load(&pipes_removed));
	fflush(stdout);
	/* the process ends here: leaving closes every connection at once
	 * (nng_close on hundreds of TLS sockets is slow and has deadlocked in
	 * nng 1.5) */
	free(sockets);
	pgf_tls_link_free(link);
	_exit(status);
}
