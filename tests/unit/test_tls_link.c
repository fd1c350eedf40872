/* test_tls_link.c - TLS configuration checks, and real handshakes over
 * loopback with the certificates of deploy/gen-certs.sh. */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/tls_link.h"

static char dir[] = "/tmp/pgfleet-tls.XXXXXX";
/* a second CA: its certificates are "signed by the wrong CA" */
static char other[300];

static const char *
path(const char *base, const char *name)
{
	static char paths[64][300];
	static int next;
	char *p = paths[next++ % 64];
	/* the result checked: a cut path would name another file */
	if (snprintf(p, sizeof(paths[0]), "%s/%s", base, name) >= (int) sizeof(paths[0]))
		fail_msg("path too long: %s/%s", base, name);
	return p;
}

static int
setup(void **state)
{
	const char *script = getenv("TLS_GEN_CERTS");
	char command[1024];
	(void) state;
	if (script == NULL)
		script = "deploy/gen-certs.sh";
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(other, sizeof(other), "%s/other", dir);
	snprintf(command, sizeof(command), "sh %s %s >/dev/null && sh %s %s >/dev/null",
	    script, dir, script, other);
	return system(command) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char command[512];
	(void) state;
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	return system(command) == 0 ? 0 : -1;
}

static struct pgf_tls_options
server_options(void)
{
	struct pgf_tls_options o = {
		.server = true,
		.ca = path(dir, "ca.crt"),
		.cert = path(dir, "collector.crt"),
		.key = path(dir, "collector.key"),
		.ca_name = "tls_client_ca",
	};
	return o;
}

static struct pgf_tls_options
client_options(const char *base)
{
	struct pgf_tls_options o = {
		.server = false,
		.ca = path(dir, "ca.crt"),
		.cert = path(base, "agent.crt"),
		.key = path(base, "agent.key"),
	};
	return o;
}

/* open must fail with PGF_ECONFIG and an error containing want */
static void
assert_refused(const struct pgf_tls_options *o, const char *want)
{
	struct pgf_tls_link *link = (struct pgf_tls_link *) 1;
	char err[512] = "";
	assert_int_equal(pgf_tls_link_open(o, &link, err, sizeof(err)), PGF_ECONFIG);
	assert_null(link);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
}

static void
test_nothing_set_is_no_tls(void **state)
{
	struct pgf_tls_options o = { .server = true, .ca = "", .cert = "", .key = "" };
	struct pgf_tls_link *link = (struct pgf_tls_link *) 1;
	char err[256] = "";
	(void) state;
	assert_int_equal(pgf_tls_link_open(&o, &link, err, sizeof(err)), PGF_OK);
	assert_null(link);
	pgf_tls_link_free(NULL);
}

static void
test_incomplete_settings_are_refused(void **state)
{
	struct pgf_tls_options o;
	(void) state;
	o = server_options();
	o.key = "";
	assert_refused(&o, "tls_cert is set but tls_key is not");
	o = server_options();
	o.cert = NULL;
	assert_refused(&o, "tls_key is set but tls_cert is not");
	o = server_options();
	o.cert = o.key = "";
	assert_refused(&o, "tls_client_ca is set but tls_cert and tls_key are not");
	o = client_options(dir);
	o.ca = "";
	assert_refused(&o, "tls_cert is set but tls_ca is not");
	o = (struct pgf_tls_options) { .server = false, .server_name = "db.example" };
	assert_refused(&o, "tls_server_name is set but tls_ca is not");
}

static void
test_bad_files_are_refused(void **state)
{
	struct pgf_tls_options o;
	char key[300];
	char command[700];
	(void) state;
	o = server_options();
	o.cert = path(dir, "missing.crt");
	assert_refused(&o, "could not open tls_cert file");
	/* a certificate where the CA should be is fine; a key is not PEM CA */
	o = server_options();
	o.ca = path(dir, "nothing-here");
	assert_refused(&o, "could not open tls_client_ca file");
	snprintf(command, sizeof(command), "echo not a certificate > %s/junk.pem", dir);
	assert_int_equal(system(command), 0);
	o = server_options();
	o.cert = path(dir, "junk.pem");
	assert_refused(&o, "is not PEM");
	/* a certificate that does not go with the key file given */
	o = server_options();
	o.key = path(dir, "ca.crt");
	assert_int_equal(chmod(o.key, 0600), 0);
	assert_refused(&o, "could not load tls_cert");
	assert_int_equal(chmod(o.key, 0644), 0);
	/* a private key others can read */
	snprintf(key, sizeof(key), "%s/open.key", dir);
	snprintf(command, sizeof(command), "cp %s/collector.key %s && chmod 0644 %s", dir,
	    key, key);
	assert_int_equal(system(command), 0);
	o = server_options();
	o.key = key;
	assert_refused(&o, "others can read it");
}

static void
test_addresses_match_the_settings(void **state)
{
	struct pgf_tls_options so = server_options();
	struct pgf_tls_options co = client_options(dir);
	struct pgf_tls_link *server = NULL, *client = NULL;
	char err[512] = "";
	bool uses = false;
	(void) state;
	assert_int_equal(pgf_tls_link_open(&so, &server, err, sizeof(err)), PGF_OK);
	assert_int_equal(pgf_tls_link_open(&co, &client, err, sizeof(err)), PGF_OK);
	assert_non_null(server);
	assert_non_null(client);

	assert_true(pgf_tls_address_is_tls("tls+tcp://h:1"));
	assert_false(pgf_tls_address_is_tls("tcp://h:1"));
	/* no certificates: TLS addresses are refused, plain ones fine */
	assert_int_equal(pgf_tls_check_addresses(NULL, "tcp://0.0.0.0:7450,ipc:///x",
			     "listen", &uses, err, sizeof(err)),
	    PGF_OK);
	assert_false(uses);
	assert_int_equal(pgf_tls_check_addresses(NULL, "ipc:///x, tls+tcp://0.0.0.0:7450",
			     "listen", &uses, err, sizeof(err)),
	    PGF_ECONFIG);
	assert_non_null(strstr(err, "listen \"tls+tcp://0.0.0.0:7450\" asks for TLS"));
	/* a server: TLS and loopback plain addresses; not a remote plain one */
	assert_int_equal(
	    pgf_tls_check_addresses(server,
		"tls+tcp://0.0.0.0:7450, "
		"ipc:///tmp/a.sock,tcp://127.0.0.1:7451,tcp://localhost:1,tcp://[::1]:2",
		"api_listen", &uses, err, sizeof(err)),
	    PGF_OK);
	assert_true(uses);
	assert_int_equal(
	    pgf_tls_check_addresses(server, "tls+tcp://0.0.0.0:7450,tcp://0.0.0.0:7451",
		"listen", NULL, err, sizeof(err)),
	    PGF_ECONFIG);
	assert_non_null(strstr(err, "listen \"tcp://0.0.0.0:7451\" is plain tcp://"));
	/* a name that only starts like a loopback address is not one */
	assert_int_equal(pgf_tls_check_addresses(server, "tcp://127.0.0.1.evil.example:1",
			     "listen", NULL, err, sizeof(err)),
	    PGF_ECONFIG);
	/* a client: any plain tcp:// address with certificates is a mistake */
	assert_int_equal(pgf_tls_check_addresses(client, "tcp://127.0.0.1:7450",
			     "collector", NULL, err, sizeof(err)),
	    PGF_ECONFIG);
	assert_non_null(
	    strstr(err, "collector \"tcp://127.0.0.1:7450\" is plain tcp://"));
	assert_int_equal(pgf_tls_check_addresses(client, "tls+tcp://db:7450", "collector",
			     NULL, err, sizeof(err)),
	    PGF_OK);
	pgf_tls_link_free(server);
	pgf_tls_link_free(client);
}

/* One request/reply through a REQ socket dialing address with options;
 * returns the nng result. A good one gets a long timeout (valgrind makes
 * a handshake slow), a bad one a short one (it never gets an answer). */
#define GOOD_MS 20000
#define BAD_MS  1000
static int
exchange(const char *address, const struct pgf_tls_options *options, int timeout_ms)
{
	struct pgf_tls_link *link = NULL;
	nng_socket socket;
	char err[512] = "";
	char *reply = NULL;
	size_t len = 0;
	int rv;

	assert_int_equal(pgf_tls_link_open(options, &link, err, sizeof(err)), PGF_OK);
	assert_int_equal(nng_req0_open(&socket), 0);
	nng_socket_set_ms(socket, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, timeout_ms);
	assert_int_equal(pgf_tls_dial(socket, address, link, NNG_FLAG_NONBLOCK, NULL, err,
			     sizeof(err)),
	    0);
	rv = nng_send(socket, "ping", 5, 0);
	if (rv == 0 && (rv = nng_recv(socket, &reply, &len, NNG_FLAG_ALLOC)) == 0) {
		assert_string_equal(reply, "pong");
		nng_free(reply, len);
	}
	nng_close(socket);
	pgf_tls_link_free(link);
	return rv;
}

static int pipes_added;

/* The listener's failure count once above floor: the server may finish
 * its side of a refused handshake after the client gave up (slowly under
 * valgrind). */
static uint64_t
failures_above(nng_listener listener, uint64_t floor)
{
	uint64_t now = 0;
	for (int i = 0; i < 200 && (now = pgf_tls_listener_failures(listener)) <= floor;
	     i++)
		usleep(50 * 1000);
	return now;
}

static void
on_pipe(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
	(void) pipe;
	(void) event;
	(void) arg;
	__atomic_add_fetch(&pipes_added, 1, __ATOMIC_SEQ_CST);
}

static void *
answer(void *arg)
{
	nng_socket socket = *(nng_socket *) arg;
	for (;;) {
		char *request = NULL;
		size_t len = 0;
		if (nng_recv(socket, &request, &len, NNG_FLAG_ALLOC) != 0)
			return NULL;
		nng_free(request, len);
		if (nng_send(socket, "pong", 5, 0) != 0)
			return NULL;
	}
}

static void
test_handshakes(void **state)
{
	struct pgf_tls_options so = server_options();
	struct pgf_tls_options good = client_options(dir);
	struct pgf_tls_options wrong_ca = client_options(other);
	struct pgf_tls_options no_cert = client_options(dir);
	struct pgf_tls_options wrong_name = client_options(dir);
	struct pgf_tls_link *server = NULL;
	nng_socket socket;
	nng_listener listener;
	nng_sockaddr bound;
	pthread_t thread;
	char err[512] = "", address[64], plain[64];
	uint64_t failures;
	(void) state;
	no_cert.cert = no_cert.key = NULL;
	wrong_name.server_name = "other.example";

	assert_int_equal(pgf_tls_link_open(&so, &server, err, sizeof(err)), PGF_OK);
	assert_int_equal(nng_rep0_open(&socket), 0);
	nng_pipe_notify(socket, NNG_PIPE_EV_ADD_PRE, on_pipe, NULL);
	/* a listener before ours: nng 1.5.2's nng_stat_find_listener would
	 * answer with this one's counters */
	assert_int_equal(
	    pgf_tls_listen(socket, "tcp://127.0.0.1:0", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(pgf_tls_listen(socket, "tls+tcp://127.0.0.1:0", server,
			     &listener, err, sizeof(err)),
	    0);
	assert_int_equal(nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &bound), 0);
	snprintf(address, sizeof(address), "tls+tcp://127.0.0.1:%u",
	    ntohs(bound.s_in.sa_port));
	snprintf(plain, sizeof(plain), "tcp://127.0.0.1:%u", ntohs(bound.s_in.sa_port));
	assert_int_equal(pthread_create(&thread, NULL, answer, &socket), 0);

	assert_int_equal(exchange(address, &good, GOOD_MS), 0);
	assert_int_equal(pipes_added, 1);
	assert_int_equal(pgf_tls_listener_failures(listener), 0);

	/* each bad client: no answer, no pipe, the failure counted */
	assert_int_not_equal(exchange(address, &wrong_ca, BAD_MS), 0);
	assert_int_equal(pipes_added, 1);
	failures = failures_above(listener, 0);
	assert_true(failures > 0);
	assert_int_not_equal(exchange(address, &no_cert, BAD_MS), 0);
	assert_int_equal(pipes_added, 1);
	assert_true(failures_above(listener, failures) > failures);
	failures = pgf_tls_listener_failures(listener);
	{
		struct pgf_tls_options none = { .server = false };
		assert_int_not_equal(exchange(plain, &none, BAD_MS), 0);
	}
	assert_int_equal(pipes_added, 1);
	assert_true(failures_above(listener, failures) > failures);
	/* the server's name is checked on the client's side */
	assert_int_not_equal(exchange(address, &wrong_name, BAD_MS), 0);
	assert_int_equal(pipes_added, 1);

	/* and the listener still takes good clients */
	assert_int_equal(exchange(address, &good, GOOD_MS), 0);
	assert_int_equal(pipes_added, 2);

	nng_close(socket);
	pthread_join(thread, NULL);
	pgf_tls_link_free(server);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_set_is_no_tls),
		cmocka_unit_test(test_incomplete_settings_are_refused),
		cmocka_unit_test(test_bad_files_are_refused),
		cmocka_unit_test(test_addresses_match_the_settings),
		cmocka_unit_test(test_handshakes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
