/*
 * repoint: a descriptor re-pointed while its dial waits for the supervisor.
 *
 *   repoint [-n COUNT] -m dup2|reuse ADDR PORT
 *
 * One thread dials descriptor N; meanwhile another puts a second socket at
 * N: dup2() over it, or close() and socket() (the lowest free number is
 * N again). Without a supervisor the dial took its socket when it started;
 * a supervisor that checks the socket at N, then lets the kernel look N up
 * again, may have checked one and let the other dial unguarded. Counts the
 * self-connections of either socket, as tests/helpers/dial.c does.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "common.h"

static struct sockaddr_storage dest;
static socklen_t dest_len;
static int dialed_fd;
static atomic_int started;

static void *dial(void *unused)
{
	(void)unused;
	atomic_store(&started, 1);
	return (void *)(intptr_t)(connect(dialed_fd, (struct sockaddr *)&dest, dest_len) == 0 ? 0 : errno);
}

int main(int argc, char **argv)
{
	int count = 100, c;
	const char *mode = NULL;
	while ((c = getopt(argc, argv, "n:m:")) != -1) {
		switch (c) {
		case 'n': count = atoi(optarg); break;
		case 'm': mode = optarg; break;
		default: argc = -1; break;
		}
	}
	if (argc < 0 || argc - optind != 2 || mode == NULL ||
	    (strcmp(mode, "dup2") != 0 && strcmp(mode, "reuse") != 0)) {
		fprintf(stderr, "usage: repoint [-n COUNT] -m dup2|reuse ADDR PORT\n");
		return 2;
	}
	dest_len = parse_endpoint(argv[optind], argv[optind + 1], &dest);
	long self = 0, refused = 0, other = 0;
	for (int i = 0; i < count; i++) {
		int spare = socket(dest.ss_family, SOCK_STREAM, 0);
		dialed_fd = socket(dest.ss_family, SOCK_STREAM, 0);
		int first = dup(dialed_fd); /* the first socket, whatever N becomes */
		pthread_t t;
		atomic_store(&started, 0);
		pthread_create(&t, NULL, dial, NULL);
		while (!atomic_load(&started))
			;
		if (strcmp(mode, "dup2") == 0) {
			dup2(spare, dialed_fd);
		} else {
			close(dialed_fd);
			if (socket(dest.ss_family, SOCK_STREAM, 0) != dialed_fd)
				return 1;
		}
		void *err;
		pthread_join(t, &err);
		bool either = names_equal(first) || names_equal(dialed_fd);
		if (either)
			self++;
		else if ((intptr_t)err == ECONNREFUSED)
			refused++;
		else
			other++;
		close(first);
		close(dialed_fd);
		close(spare);
	}
	printf("attempts=%d self=%ld refused=%ld other=%ld\n", count, self, refused, other);
	return 0;
}
