/*
 * neighbour: dials on one socket while another thread sits in a blocking
 * connect() on another socket, to see that the library never makes the one
 * wait for the other. The test counts the waits (sched_yield, nanosleep)
 * with strace: this program makes none of its own (it sleeps with poll()).
 *
 *   neighbour [-n DIALS] [-f FD] [-d] ADDR BLOCKED_PORT OPEN_PORT
 *
 * A thread dials ADDR:BLOCKED_PORT, a listener whose queue is full, and
 * stays in connect(); with -f its socket is descriptor FD. Meanwhile DIALS
 * fresh sockets dial ADDR:OPEN_PORT, a listener with room: with -f, each
 * on descriptor FD & 0xffff (what a 16-bit mark would confuse with FD);
 * with -d, each dup2()'d onto the very descriptor number the thread is
 * dialing on. Prints "dials= connected=". With -s, DIALS non-blocking dials
 * on the thread's own socket instead, each timed: prints how long they
 * waited (the bound on a claim, measured).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "common.h"

static struct sockaddr_storage blocked, open_to;
static socklen_t addr_len;
static int dialing_fd;

static void *stay_in_connect(void *arg)
{
	(void)arg;
	connect(dialing_fd, (struct sockaddr *)&blocked, addr_len);
	return NULL;
}

static int listen_on(const struct sockaddr_storage *at, int backlog)
{
	int fd = socket(at->ss_family, SOCK_STREAM, 0), on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)at, addr_len) != 0 || listen(fd, backlog) != 0) {
		perror("neighbour: listen");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	int dials = 20, fixed_fd = -1, c;
	bool onto_dialing = false, same_socket = false;
	while ((c = getopt(argc, argv, "n:f:ds")) != -1) {
		if (c == 'n')
			dials = atoi(optarg);
		else if (c == 'f')
			fixed_fd = atoi(optarg);
		else if (c == 'd')
			onto_dialing = true;
		else if (c == 's')
			same_socket = true;
		else
			return 2;
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: neighbour [-n DIALS] [-f FD] [-d] ADDR BLOCKED_PORT OPEN_PORT\n");
		return 2;
	}
	addr_len = parse_endpoint(argv[optind], argv[optind + 1], &blocked);
	parse_endpoint(argv[optind], argv[optind + 2], &open_to);

	/* A full queue drops the SYNs: the thread's connect() waits. */
	int full = listen_on(&blocked, 0);
	/* Never accepted: its queue completes the dials (before the fillers take ports). */
	int accepting = listen_on(&open_to, 128);
	for (int i = 0; i < 2; i++) {
		int filler = socket(blocked.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(filler, (struct sockaddr *)&blocked, addr_len);
	}
	pthread_t tid;

	dialing_fd = socket(blocked.ss_family, SOCK_STREAM, 0);
	if (fixed_fd >= 0) {
		if (dup2(dialing_fd, fixed_fd) < 0) {
			perror("neighbour: dup2 onto -f");
			return 1;
		}
		close(dialing_fd);
		dialing_fd = fixed_fd;
	}
	int keep = dup(dialing_fd); /* to wake the thread at the end, whatever -d did */
	pthread_create(&tid, NULL, stay_in_connect, NULL);
	poll(NULL, 0, 200);

	int connected = 0, first_error = 0;
	if (same_socket) {
		/* Dials on the thread's own socket, non-blocking: in prebind each
		 * waits for the claim the thread holds, the bound, and takes over. */
		fcntl(keep, F_SETFL, O_NONBLOCK);
		double longest = 0, total = 0;
		for (int i = 0; i < dials; i++) {
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			connect(keep, (struct sockaddr *)&blocked, addr_len);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
			total += ms;
			longest = ms > longest ? ms : longest;
		}
		shutdown(keep, SHUT_RDWR);
		pthread_join(tid, NULL);
		printf("dials=%d waited_ms_mean=%.1f waited_ms_max=%.1f\n", dials, total / dials, longest);
		return 0;
	}
	for (int i = 0; i < dials; i++) {
		int fd = socket(open_to.ss_family, SOCK_STREAM, 0);
		int number = onto_dialing ? dialing_fd : fixed_fd >= 0 ? (fixed_fd & 0xffff) : -1;
		if (number >= 0 && number != fd) {
			dup2(fd, number);
			close(fd);
			fd = number;
		}
		if (connect(fd, (struct sockaddr *)&open_to, addr_len) == 0)
			connected++;
		else if (first_error == 0)
			first_error = errno;
		struct linger abort_close = { .l_onoff = 1, .l_linger = 0 }; /* frees the port */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		close(fd);
	}
	shutdown(keep, SHUT_RDWR);
	pthread_join(tid, NULL);
	close(full);
	close(accepting);
	printf("dials=%d connected=%d first_error=%s\n", dials, connected,
	       first_error ? strerror(first_error) : "none");
	return 0;
}
