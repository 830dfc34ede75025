/*
 * shared: threads dialing one socket at once, round after round, and whether
 * what each was told agrees with where the socket ended up. A thread told 0
 * or EISCONN must find the socket connected once all have returned; libc
 * never says "connected" of a socket that is not.
 *
 *   shared [-n ROUNDS] [-t THREADS] ADDR PORT
 *
 * Prints: rounds= self= (rounds that ended connected to itself) lies=
 * (rounds where a thread was told connected and the socket was not)
 * refused= (rounds where every thread got ECONNREFUSED, EALREADY or
 * EINPROGRESS, and the socket ended unconnected).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "common.h"

#define MAX_THREADS 16

static struct sockaddr_storage dest;
static socklen_t dest_len;
static int shared_fd, threads = 2;
static int results[MAX_THREADS];
static pthread_barrier_t start, done;

static void *dialer(void *arg)
{
	int me = (int)(long)arg;
	for (;;) {
		pthread_barrier_wait(&start);
		if (shared_fd < 0)
			return NULL;
		results[me] = connect(shared_fd, (struct sockaddr *)&dest, dest_len) == 0 ? 0 : errno;
		pthread_barrier_wait(&done);
	}
}


int main(int argc, char **argv)
{
	int rounds = 100, c;
	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		if (c == 'n')
			rounds = atoi(optarg);
		else if (c == 't')
			threads = atoi(optarg);
		else
			return 2;
	}
	if (argc - optind != 2 || threads < 2 || threads > MAX_THREADS) {
		fprintf(stderr, "usage: shared [-n ROUNDS] [-t THREADS] ADDR PORT\n");
		return 2;
	}
	dest_len = parse_endpoint(argv[optind], argv[optind + 1], &dest);
	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
	pthread_t tids[MAX_THREADS];
	for (long i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, dialer, (void *)i);

	long self = 0, lies = 0, refused = 0;
	for (int r = 0; r < rounds; r++) {
		shared_fd = socket(dest.ss_family, SOCK_STREAM, 0);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		bool connected = getpeername(shared_fd, (struct sockaddr *)&peer, &len) == 0;
		bool told_connected = false, all_refused = true;
		for (int i = 0; i < threads; i++) {
			told_connected |= results[i] == 0 || results[i] == EISCONN;
			all_refused &= results[i] == ECONNREFUSED || results[i] == EALREADY ||
				       results[i] == EINPROGRESS;
		}
		self += connected && names_equal(shared_fd);
		lies += told_connected && !connected;
		refused += all_refused && !connected;
		struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(shared_fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		close(shared_fd);
	}
	shared_fd = -1;
	pthread_barrier_wait(&start);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	printf("rounds=%d self=%ld lies=%ld refused=%ld\n", rounds, self, lies, refused);
	return 0;
}
