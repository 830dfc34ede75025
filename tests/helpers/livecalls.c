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
 *   livecalls redials PORT      sockets dialed again, with connect() and
 *                               sendto(MSG_FASTOPEN), blocking and
 *                               non-blocking, after the listener on PORT
 *                               reset their connection (SO_LINGER 0 close);
 *                               and after a TCP_FASTOPEN_CONNECT connect()
 *
 * Listeners outside the range: 8080 answers, 80 never does. Every wait is
 * for an event (poll(), accept()), never for a time.
 */
#define _GNU_SOURCE
#include <netinet/tcp.h>
#include <poll.h>
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

/* Waits until `events` (or an error, a hang-up) is reported on fd. */
static void wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

/* The listener's end of the connection closed with a reset (SO_LINGER 0);
 * with `shut_first`, after a FIN: the reset then meets CLOSE_WAIT, EPIPE. */
static void reset_from_server(int listener, int client, bool shut_first)
{
	int server = accept(listener, NULL, NULL);
	if (shut_first) {
		shutdown(server, SHUT_WR);
		wait_for(client, POLLIN | POLLRDHUP);
	}
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(server, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
	close(server);
	wait_for(client, POLLERR | POLLHUP); /* the reset has arrived */
}

enum redial { REDIAL_CONNECT, REDIAL_FASTOPEN };

/*
 * A socket dialed to the listener, connected (a non-blocking one told so by
 * a second connect() when `told`, or only by poll()), reset by the listener,
 * then dialed again as `how`.
 */
static void reset_then_redial(const char *name, int listener, in_port_t port, bool nonblocking,
			      bool told, bool shut_first, enum redial how)
{
	struct sockaddr_in to = at(port);
	int fd = tcp_socket(nonblocking);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0 && errno != EINPROGRESS) {
		perror("livecalls: first dial");
		exit(1);
	}
	if (nonblocking) {
		wait_for(fd, POLLOUT);
		if (told)
			connect(fd, (struct sockaddr *)&to, sizeof(to));
	}
	reset_from_server(listener, fd, shut_first);
	errno = SENTINEL;
	if (how == REDIAL_CONNECT)
		show(name, connect(fd, (struct sockaddr *)&to, sizeof(to)));
	else
		show(name, sendto(fd, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&to,
				  sizeof(to)));
	close(fd);
}

/* TCP_FASTOPEN_CONNECT: connect() answers 0 at once, the dial waits for
 * the first send; a second connect() meanwhile is told EISCONN. */
static void deferred_then_redial(const char *name, in_port_t port)
{
	struct sockaddr_in to = at(port);
	int one = 1, fd = tcp_socket(false);
	setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one));
	connect(fd, (struct sockaddr *)&to, sizeof(to));
	errno = SENTINEL;
	show(name, connect(fd, (struct sockaddr *)&to, sizeof(to)));
	close(fd);
}

static void redial_cases(in_port_t port)
{
	int l = listener_on(port, 64);
	reset_then_redial("reset-blocking-connect", l, port, false, false, false, REDIAL_CONNECT);
	reset_then_redial("reset-blocking-fastopen", l, port, false, false, false, REDIAL_FASTOPEN);
	reset_then_redial("reset-nonblock-connect", l, port, true, false, false, REDIAL_CONNECT);
	reset_then_redial("reset-nonblock-fastopen", l, port, true, false, false, REDIAL_FASTOPEN);
	reset_then_redial("reset-nonblock-told-connect", l, port, true, true, false, REDIAL_CONNECT);
	reset_then_redial("reset-nonblock-told-fastopen", l, port, true, true, false, REDIAL_FASTOPEN);
	reset_then_redial("reset-closewait-connect", l, port, true, false, true, REDIAL_CONNECT);
	reset_then_redial("reset-closewait-blocking-connect", l, port, false, false, true,
			  REDIAL_CONNECT);
	deferred_then_redial("fastopen-connect-then-connect", port);
	close(l);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: livecalls fastopen|fastopen-passthrough|redials PORT\n");
		return 2;
	}
	in_port_t port = (in_port_t)atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(payload, 'x', sizeof(payload));
	if (strcmp(argv[1], "fastopen") == 0)
		fastopen_cases(port, false);
	else if (strcmp(argv[1], "fastopen-passthrough") == 0)
		fastopen_cases(port, true);
	else if (strcmp(argv[1], "redials") == 0)
		redial_cases(port);
	else
		return 2;
	return 0;
}
