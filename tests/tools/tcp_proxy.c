/*
 * tcp_proxy.c - a test-only TCP proxy whose behaviour is switched while it
 * runs, to play a broken network between two pgfleet programs (matrix rows
 * T9 and T21 of tests/RELIABILITY.md).
 *
 *   tcp_proxy LISTEN_PORT TARGET_PORT CONTROL_FILE [ACCEPT_LOG]
 *
 * listens on 127.0.0.1:LISTEN_PORT and connects each client to
 * 127.0.0.1:TARGET_PORT. The mode is the first line of CONTROL_FILE,
 * re-read every 100 ms (write it atomically: echo MODE >f.tmp; mv f.tmp f):
 *
 *   pass          forward both ways (also when the file is missing)
 *   blackhole     connections are accepted and held, nothing is forwarded
 *                 either way (a half-open peer: bytes sit in buffers)
 *   reset         every connection is closed with a TCP RST, and new ones
 *                 are reset as soon as they are accepted
 *   delay MS      every chunk is forwarded MS milliseconds after it came
 *   truncate N    each connection forwards N more bytes per direction,
 *                 then is closed
 *
 * With ACCEPT_LOG, every accepted connection appends a line with the time
 * (ms since the Unix epoch) to it: connection attempts per second, for the
 * reconnect storm of T10 (tests/e2e/rel_reconnect_storm.sh). An attempt
 * while the target is down is accepted, then closed.
 *
 * Leaving blackhole resumes forwarding on the held connections. The proxy
 * prints "mode X" on stderr at every change; SIGTERM/SIGINT end it.
 * Single-threaded (poll), at most MAX_CONNS connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define CHUNK 65536

enum mode { MODE_PASS, MODE_BLACKHOLE, MODE_RESET, MODE_DELAY, MODE_TRUNCATE };

struct direction {
	uint8_t buf[CHUNK];
	size_t len, off;
	int64_t release_ms;
	long long forwarded;
};

struct conn {
	int fd[2]; /* 0 client, 1 upstream; -1 when free */
	struct direction dir[2]; /* dir[i] carries fd[i] -> fd[1 - i] */
	long long truncate_base[2];
};

static volatile sig_atomic_t stopping;
static struct conn conns[MAX_CONNS];

static void
on_signal(int sig)
{
	(void) sig;
	stopping = 1;
}

/* log_accept appends the wall-clock time of an accepted connection. */
static void
log_accept(FILE *log)
{
	struct timespec ts;

	if (log == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(log, "%lld\n", (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	fflush(log);
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
close_conn(struct conn *c, bool reset)
{
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] < 0)
			continue;
		if (reset) {
			struct linger lg = {1, 0};
			setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c->fd[i]);
		c->fd[i] = -1;
	}
}

/* read_mode reads the control file; keeps the old mode when unreadable. */
static enum mode
read_mode(const char *path, enum mode old, long long *arg)
{
	FILE *f = fopen(path, "r");
	char word[32] = "";
	long long value = 0;
	enum mode mode = old;

	if (f == NULL)
		return MODE_PASS;
	if (fscanf(f, "%31s %lld", word, &value) >= 1) {
		if (strcmp(word, "pass") == 0)
			mode = MODE_PASS;
		else if (strcmp(word, "blackhole") == 0)
			mode = MODE_BLACKHOLE;
		else if (strcmp(word, "reset") == 0)
			mode = MODE_RESET;
		else if (strcmp(word, "delay") == 0)
			mode = MODE_DELAY;
		else if (strcmp(word, "truncate") == 0)
			mode = MODE_TRUNCATE;
		*arg = value;
	}
	fclose(f);
	return mode;
}

static int
connect_upstream(int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	const char *names[] = {"pass", "blackhole", "reset", "delay", "truncate"};
	struct sockaddr_in addr = {.sin_family = AF_INET};
	enum mode mode = MODE_PASS;
	long long arg = 0;
	int64_t next_read = 0;
	int listener, one = 1, target;
	FILE *accept_log = NULL;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: tcp_proxy LISTEN_PORT TARGET_PORT CONTROL_FILE [ACCEPT_LOG]\n");
		return 2;
	}
	if (argc == 5 && (accept_log = fopen(argv[4], "a")) == NULL) {
		fprintf(stderr, "tcp_proxy: cannot open %s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	target = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd[0] = conns[i].fd[1] = -1;
	addr.sin_port = htons((uint16_t) atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((listener = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(listener, (struct sockaddr *) &addr, sizeof(addr)) != 0 ||
	    listen(listener, 64) != 0) {
		fprintf(stderr, "tcp_proxy: cannot listen on port %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(stderr, "tcp_proxy: 127.0.0.1:%s -> 127.0.0.1:%d, control %s\n", argv[1], target,
	    argv[3]);
	while (!stopping) {
		struct pollfd pfd[1 + MAX_CONNS * 2];
		int where[1 + MAX_CONNS * 2]; /* conn * 2 + side */
		int n = 0;
		int64_t now = now_ms();

		if (now >= next_read) {
			long long new_arg = arg;
			enum mode new_mode = read_mode(argv[3], mode, &new_arg);
			if (new_mode != mode || new_arg != arg) {
				fprintf(stderr, "tcp_proxy: mode %s %lld\n", names[new_mode], new_arg);
				if (new_mode == MODE_RESET)
					for (int i = 0; i < MAX_CONNS; i++)
						close_conn(&conns[i], true);
				if (new_mode == MODE_TRUNCATE)
					for (int i = 0; i < MAX_CONNS; i++)
						for (int d = 0; d < 2; d++)
							conns[i].truncate_base[d] = conns[i].dir[d].forwarded;
			}
			mode = new_mode;
			arg = new_arg;
			next_read = now + 100;
		}
		pfd[n] = (struct pollfd){.fd = listener, .events = POLLIN};
		where[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];
			if (c->fd[0] < 0)
				continue;
			for (int side = 0; side < 2; side++) {
				short events = 0;
				struct direction *in = &c->dir[side];      /* read from fd[side] */
				struct direction *out = &c->dir[1 - side]; /* written to fd[side] */
				if (mode != MODE_BLACKHOLE && in->len == 0)
					events |= POLLIN;
				if (mode != MODE_BLACKHOLE && out->len > 0 && now >= out->release_ms)
					events |= POLLOUT;
				pfd[n] = (struct pollfd){.fd = c->fd[side], .events = events};
				where[n++] = i * 2 + side;
			}
		}
		if (poll(pfd, (nfds_t) n, 20) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}
		now = now_ms();
		if (pfd[0].revents & POLLIN) {
			int client = accept(listener, NULL, NULL);
			int slot = -1;
			for (int i = 0; i < MAX_CONNS && slot < 0; i++)
				if (conns[i].fd[0] < 0)
					slot = i;
			if (client >= 0) {
				struct conn *c = &conns[slot >= 0 ? slot : 0];
				log_accept(accept_log);
				if (slot < 0 || mode == MODE_RESET) {
					struct conn tmp = {.fd = {client, -1}};
					close_conn(&tmp, true);
				} else if ((c->fd[1] = connect_upstream(target)) < 0) {
					close(client);
				} else {
					memset(c->dir, 0, sizeof(c->dir));
					c->truncate_base[0] = c->truncate_base[1] = 0;
					c->fd[0] = client;
				}
			}
		}
		for (int k = 1; k < n; k++) {
			struct conn *c = &conns[where[k] / 2];
			int side = where[k] % 2;
			struct direction *in = &c->dir[side];
			struct direction *out = &c->dir[1 - side];

			if (c->fd[0] < 0 || pfd[k].revents == 0)
				continue;
			if (pfd[k].revents & POLLOUT) {
				ssize_t w = write(c->fd[side], out->buf + out->off, out->len - out->off);
				if (w < 0) {
					close_conn(c, false);
					continue;
				}
				out->off += (size_t) w;
				out->forwarded += w;
				if (out->off == out->len)
					out->len = out->off = 0;
				if (mode == MODE_TRUNCATE && out->len == 0 &&
				    out->forwarded - c->truncate_base[1 - side] >= arg) {
					close_conn(c, false);
					continue;
				}
			}
			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = read(c->fd[side], in->buf, CHUNK);
				if (r <= 0) {
					close_conn(c, false);
					continue;
				}
				in->len = (size_t) r;
				in->off = 0;
				in->release_ms = mode == MODE_DELAY ? now + arg : now;
				if (mode == MODE_TRUNCATE) {
					long long left = arg - (in->forwarded - c->truncate_base[side]);
					if (left <= 0) {
						close_conn(c, false);
						continue;
					}
					if ((long long) in->len > left)
						in->len = (size_t) left;
				}
			}
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		close_conn(&conns[i], false);
	close(listener);
	if (accept_log != NULL)
		fclose(accept_log);
	return 0;
}
