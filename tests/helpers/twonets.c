/*
 * twonets: two threads of one process in two network namespaces at once,
 * as container and health-check tools do with setns() per thread, each
 * dialing the low end of its own namespace's ephemeral range.
 *
 *   twonets [-n DIALS] [-u]
 *
 * The process's namespace must have lo up and the range 50000-50010 (the
 * tests' in_netns). A thread makes a second namespace (unshare()), brings
 * its lo up and sets its range to 50020-50030, no TIME_WAIT; then one
 * thread dials 127.0.0.1:50000 where it is, and another, after setns() into
 * the second namespace (with -u: after its own unshare(), set up the same
 * way), dials 127.0.0.1:50020. Prints "attempts= self= refused=" summed
 * over both threads, and "self_here= self_there=".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

#define HERE_PORT 50000
#define THERE_PORT 50020

static int dials = 300;
static bool own_unshare;
static int there_ns = -1;
static long self_count[2], refused_count[2];
static pthread_barrier_t ready;

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* In a new namespace of this thread's own: lo up, its range, no TIME_WAIT. */
static int make_namespace(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		return -1;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { .ifr_name = "lo" };
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		return -1;
	close(s);
	if (write_file("/proc/sys/net/ipv4/ip_local_port_range", "50020 50030") != 0 ||
	    write_file("/proc/sys/net/ipv4/tcp_max_tw_buckets", "0") != 0)
		return -1;
	return 0;
}

static void *maker(void *arg)
{
	(void)arg;
	if (make_namespace() != 0) {
		perror("twonets: a second namespace");
		exit(1);
	}
	there_ns = open("/proc/thread-self/ns/net", O_RDONLY);
	return NULL;
}

static void *dialer(void *arg)
{
	int me = (int)(long)arg;
	if (me == 1) {
		if (own_unshare ? make_namespace() != 0 : setns(there_ns, CLONE_NEWNET) != 0) {
			perror("twonets: into the second namespace");
			exit(1);
		}
	}
	struct sockaddr_storage dest;
	socklen_t len = parse_endpoint("127.0.0.1", me == 1 ? "50020" : "50000", &dest);
	pthread_barrier_wait(&ready);
	for (int i = 0; i < dials; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&dest, len) == 0)
			self_count[me] += names_equal(fd);
		else
			refused_count[me] += errno == ECONNREFUSED;
		struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "n:u")) != -1) {
		if (c == 'n')
			dials = atoi(optarg);
		else if (c == 'u')
			own_unshare = true;
		else
			return 2;
	}
	pthread_t tids[2];
	if (!own_unshare) {
		pthread_create(&tids[0], NULL, maker, NULL);
		pthread_join(tids[0], NULL);
	}
	pthread_barrier_init(&ready, NULL, 2);
	for (long i = 0; i < 2; i++)
		pthread_create(&tids[i], NULL, dialer, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(tids[i], NULL);
	printf("attempts=%d self=%ld refused=%ld self_here=%ld self_there=%ld\n", 2 * dials,
	       self_count[0] + self_count[1], refused_count[0] + refused_count[1], self_count[0],
	       self_count[1]);
	return 0;
}
