/*
 * conn_flood.c - many TCP connections to a collector that send nothing
 * useful (tests/e2e/rel_flood.sh, reliability T29).
 *
 *   conn_flood silent HOST PORT COUNT HOLD_S
 *       COUNT connections that send nothing at all (slow-loris before
 *       nng's SP handshake), held up to HOLD_S seconds.
 *   conn_flood sp HOST PORT COUNT HOLD_S
 *       COUNT connections that complete nng's SP handshake as a REQ peer
 *       (8 bytes: 00 'S' 'P' 00, protocol 0x0030, 00 00) and then send
 *       nothing: each is a pipe on the collector, counted by its
 *       connection cap.
 *
 * It prints one line: how many connected, how many the peer closed, and
 * when the first and the last close came (ms after the last connect):
 *     connected=1000 closed_by_peer=1000 first_close_ms=9950 last_close_ms=10020
 * and exits 0, or 1 when fewer than COUNT could connect. Test only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
open_one(const struct sockaddr_in *address, int sp)
{
	static const unsigned char req_header[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *) address, sizeof(*address)) != 0) {
		close(fd);
		return -1;
	}
	if (sp && write(fd, req_header, sizeof(req_header)) != (ssize_t) sizeof(req_header)) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in address;
	struct pollfd *fds;
	struct rlimit limit;
	int count, hold_s, sp, connected = 0, closed = 0;
	int64_t started, first_close = -1, last_close = -1;

	if (argc != 6 || (strcmp(argv[1], "silent") != 0 && strcmp(argv[1], "sp") != 0)) {
		fprintf(stderr, "usage: conn_flood silent|sp HOST PORT COUNT HOLD_S\n");
		return 2;
	}
	sp = strcmp(argv[1], "sp") == 0;
	count = atoi(argv[4]);
	hold_s = atoi(argv[5]);
	memset(&address, 0, sizeof(address));
	address.sin_family = AF_INET;
	address.sin_port = htons((uint16_t) atoi(argv[3]));
	if (count <= 0 || inet_pton(AF_INET, argv[2], &address.sin_addr) != 1) {
		fprintf(stderr, "conn_flood: bad HOST or COUNT\n");
		return 2;
	}
	/* room for COUNT descriptors */
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t) count + 64) {
		limit.rlim_cur = limit.rlim_max < (rlim_t) count + 64 ? limit.rlim_max
								      : (rlim_t) count + 64;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
	fds = calloc((size_t) count, sizeof(*fds));
	if (fds == NULL)
		return 2;
	for (int i = 0; i < count; i++) {
		fds[i].fd = open_one(&address, sp);
		fds[i].events = POLLIN;
		if (fds[i].fd >= 0)
			connected++;
	}
	started = now_ms();
	/* wait for the peer to close them, up to HOLD_S seconds */
	while (closed < connected && now_ms() - started < (int64_t) hold_s * 1000) {
		int n = poll(fds, (nfds_t) count, 100);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < count && n > 0; i++) {
			char buf[256];
			ssize_t got;
			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			/* the SP peer's own 8-byte header is data, not a close */
			got = read(fds[i].fd, buf, sizeof(buf));
			if (got > 0)
				continue;
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			close(fds[i].fd);
			fds[i].fd = -1;
			closed++;
			last_close = now_ms() - started;
			if (first_close < 0)
				first_close = last_close;
		}
	}
	printf("connected=%d closed_by_peer=%d first_close_ms=%lld last_close_ms=%lld\n", connected,
	    closed, (long long) first_close, (long long) last_close);
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	}
	free(fds);
	return connected == count ? 0 : 1;
}
