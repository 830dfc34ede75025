/*
 * livecalls: calls on sockets that meet a live peer, each printed as
 * "case ret errno" (as badcalls does): run with and without the library,
 * the outputs must be identical, and under strace the system calls counted.
 *
 *   livecalls fastopen PORT     TCP Fast Open sends of 16 KiB, to
 *                               listeners outside the range and in it (PORT
 *                               answers, PORT+1 never does): non-blocking;
 *                               blocking to those that answer; blocking with
 *                               a 10 ms send timeout to those that do not
 *   livecalls fastopen-passthrough PORT
 *                               the same, only those outside the range
 *
 * Listeners outside the range: 8080 answers, 80 never does.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <unistd.h>

#include "common.h"

#define SENTINEL 4242
#define LARGE 16384 /* above the library's 4 KiB, well inside loopback's buffers */
#define ANSWERS 8080
#define SILENT 80

static char payload[LARGE];

static void show(const char *name, long ret)
{
	int err = errno;
	printf("%-42s ret=%ld errno=%s\n", name, ret, err == SENTINEL ? "untouched" : errname(err));
}

static struct sockaddr_in at(in_port_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	return a;
}

static int listener_on(in_port_t port, int backlog)
{
	struct sockaddr_in here = at(port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&here, sizeof(here)) != 0 || listen(fd, backlog) != 0) {
		perror("livecalls: listener");
		exit(1);
	}
	return fd;
}

/* A listener that never answers: its queue is full, so its SYNs are dropped
 * (listen(0) takes one connection, the next fills it). */
static int silent_listener(in_port_t port)
{
	int fd = listener_on(port, 0);
	struct sockaddr_in here = at(port);
	for (int i = 0; i < 2; i++) {
		int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(filler, (struct sockaddr *)&here, sizeof(here));
	}
	return fd;
}

static int tcp_socket(bool nonblocking)
{
	return socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
}

/* A send timeout of 10 ms (0: none) lets a blocking send to a silent listener return. */
static void fastopen_send(const char *name, bool nonblocking, in_port_t port, int timeout_ms)
{
	struct sockaddr_in to = at(port);
	int fd = tcp_socket(nonblocking);
	struct timeval timeout = { .tv_sec = 0, .tv_usec = timeout_ms * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	errno = SENTINEL;
	show(name, sendto(fd, payload, sizeof(payload), MSG_FASTOPEN | MSG_NOSIGNAL,
			  (struct sockaddr *)&to, sizeof(to)));
	close(fd);
}

static void fastopen_cases(in_port_t guarded, bool passthrough_only)
{
	/* In the range first: the silent ones' fillers take ports from it. */
	int listener = -1, quiet = -1;
	if (!passthrough_only) {
		listener = listener_on(guarded, 64);
		quiet = silent_listener(guarded + 1);
	}
	int silent = silent_listener(SILENT), answers = listener_on(ANSWERS, 64);
	fastopen_send("fastopen-nonblock-outside-silent", true, SILENT, 0);
	fastopen_send("fastopen-nonblock-outside", true, ANSWERS, 0);
	fastopen_send("fastopen-blocking-outside", false, ANSWERS, 0);
	fastopen_send("fastopen-blocking-timeout-outside-silent", false, SILENT, 10);
	if (!passthrough_only) {
		fastopen_send("fastopen-nonblock-guarded", true, guarded, 0);
		fastopen_send("fastopen-blocking-guarded", false, guarded, 0);
		fastopen_send("fastopen-blocking-timeout-guarded-silent", false, guarded + 1, 10);
		close(quiet);
		close(listener);
	}
	close(answers);
	close(silent);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: livecalls fastopen|fastopen-passthrough PORT\n");
		return 2;
	}
	in_port_t port = (in_port_t)atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(payload, 'x', sizeof(payload));
	if (strcmp(argv[1], "fastopen") == 0)
		fastopen_cases(port, false);
	else if (strcmp(argv[1], "fastopen-passthrough") == 0)
		fastopen_cases(port, true);
	else
		return 2;
	return 0;
}
