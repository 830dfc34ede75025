/*
 * shared: two dialers (threads or processes) dialing one socket at once,
 * round after round, and whether what each was told agrees with where the
 * socket ended up. A dialer told 0 or EISCONN must find the socket connected
 * once all have returned; libc never says "connected" of a socket that is
 * not.
 *
 *   shared [-n ROUNDS] [-t THREADS] [-p threads|fork|scm] [-o] ADDR PORT
 *
 * -p fork: the parent and a child forked each round (the socket inherited)
 * dial; -p scm: two processes started first receive each round's socket
 * with SCM_RIGHTS and dial. -o keeps another socket, 64 descriptors above
 * the shared one (the slot the old marks shared), in a blocking connect()
 * that never completes, for the whole run.
 *
 * Prints: rounds= self= (rounds that ended connected to itself) lies=
 * (rounds where a dialer was told connected and the socket was not)
 * refused= (rounds where every dialer got an answer libc gives a refused
 * dial, and the socket ended unconnected) torn= (rounds where one of them
 * was a blocking dial joined to another's and torn down with it) narrowed=
 * (rounds after which the socket's IP_LOCAL_PORT_RANGE was not what it
 * was: unset).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MAX_THREADS 16
#define DIALERS 2 /* -p fork, -p scm */

static struct sockaddr_storage dest;
static socklen_t dest_len;
static int shared_fd, threads = 2;
static int results[MAX_THREADS];
static pthread_barrier_t start, done;

/* Across processes: a spinning start line in shared memory, so that both
 * dial at the same moment, and where each writes what it was told. */
static struct shared_page {
	int arrived, round;
	int results[DIALERS];
} *page;

/*
 * A blocking dial joined to another dial's connect() under way, whose
 * refusal disconnects the socket: the kernel tells it EPIPE (Linux 6.6 and
 * later: the socket was disconnected while it waited) or ECONNABORTED (the
 * other took the pending error). libc's answer, without the library too.
 */
static bool torn_down(int err)
{
	return err == EPIPE || err == ECONNABORTED;
}

static int dial_shared(int fd)
{
	return connect(fd, (struct sockaddr *)&dest, dest_len) == 0 ? 0 : errno;
}

static void *dialer(void *arg)
{
	int me = (int)(long)arg;
	for (;;) {
		pthread_barrier_wait(&start);
		if (shared_fd < 0)
			return NULL;
		results[me] = dial_shared(shared_fd);
		pthread_barrier_wait(&done);
	}
}

/* The start line for `count` processes of round `round`. */
static void line_up(int round, int count)
{
	__atomic_add_fetch(&page->arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&page->arrived, __ATOMIC_SEQ_CST) < count * (round + 1))
		;
}

static int send_fd(int channel, int fd)
{
	char byte = 0, control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(channel, &msg, 0) == 1 ? 0 : -1;
}

static int receive_fd(int channel)
{
	char byte, control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	if (recvmsg(channel, &msg, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int fd;
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* -p scm: a process that dials each socket it is sent, until the channel closes. */
static void scm_dialer(int me, int channel)
{
	for (int round = 0;; round++) {
		int fd = receive_fd(channel);
		if (fd < 0)
			_exit(0);
		line_up(round, DIALERS);
		page->results[me] = dial_shared(fd);
		close(fd);
		char ack = 0;
		if (write(channel, &ack, 1) != 1)
			_exit(1);
	}
}

static struct sockaddr_storage occupied_target;
static socklen_t occupied_len;

static void *stay_in_connect(void *arg)
{
	connect((int)(long)arg, (struct sockaddr *)&occupied_target, occupied_len);
	return NULL;
}

/* -o: a socket that stays in connect(): a listener whose queue is full
 * drops its SYNs. Returns the listener, to close at the end. */
static int occupy(int *occupier)
{
	struct sockaddr_storage here = dest;
	socklen_t len = dest_len;
	((struct sockaddr_in *)&here)->sin_port = htons(40000); /* outside the range */
	int listener = socket(dest.ss_family, SOCK_STREAM, 0);
	if (bind(listener, (struct sockaddr *)&here, len) != 0 || listen(listener, 0) != 0 ||
	    getsockname(listener, (struct sockaddr *)&here, &len) != 0)
		return -1;
	int fd_number;
	for (int i = 0; i < 2; i++) { /* fill the queue: one accepted by the kernel, then full */
		int filler = socket(dest.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(filler, (struct sockaddr *)&here, len);
	}
	poll(NULL, 0, 100);
	/* The number each round's socket will get, and one 64 above it. */
	int fd = socket(dest.ss_family, SOCK_STREAM, 0);
	fd_number = fd + 64;
	dup2(fd, fd_number);
	close(fd);
	*occupier = fd_number;
	occupied_target = here;
	occupied_len = len;
	pthread_t tid;
	pthread_create(&tid, NULL, stay_in_connect, (void *)(long)fd_number);
	pthread_detach(tid);
	poll(NULL, 0, 100);
	return listener;
}

/* Whether the socket's own port range is still what it was: unset. */
static bool range_untouched(int fd)
{
	uint32_t range = 0;
	socklen_t len = sizeof(range);
	return getsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, &len) != 0 || range == 0;
}

int main(int argc, char **argv)
{
	int rounds = 100, c;
	const char *how = "threads";
	bool occupied = false;
	while ((c = getopt(argc, argv, "n:t:p:o")) != -1) {
		if (c == 'n')
			rounds = atoi(optarg);
		else if (c == 't')
			threads = atoi(optarg);
		else if (c == 'p')
			how = optarg;
		else if (c == 'o')
			occupied = true;
		else
			return 2;
	}
	bool by_fork = strcmp(how, "fork") == 0, by_scm = strcmp(how, "scm") == 0;
	if (argc - optind != 2 || threads < 2 || threads > MAX_THREADS ||
	    (!by_fork && !by_scm && strcmp(how, "threads") != 0)) {
		fprintf(stderr, "usage: shared [-n ROUNDS] [-t THREADS] [-p threads|fork|scm] [-o] ADDR PORT\n");
		return 2;
	}
	dest_len = parse_endpoint(argv[optind], argv[optind + 1], &dest);
	page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int listener = -1, occupier = -1;
	if (occupied)
		listener = occupy(&occupier);
	pthread_t tids[MAX_THREADS];
	int channels[DIALERS];
	pid_t children[DIALERS];
	if (by_scm) {
		for (int i = 0; i < DIALERS; i++) {
			int pair[2];
			socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
			children[i] = fork();
			if (children[i] == 0) {
				close(pair[0]);
				for (int j = 0; j < i; j++) /* the parent's ends: EOF ends the run */
					close(channels[j]);
				scm_dialer(i, pair[1]);
			}
			close(pair[1]);
			channels[i] = pair[0];
		}
	} else if (!by_fork) {
		pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
		pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
		for (long i = 0; i < threads; i++)
			pthread_create(&tids[i], NULL, dialer, (void *)i);
	}
	int dialers = by_fork || by_scm ? DIALERS : threads;

	long self = 0, lies = 0, refused = 0, torn = 0, narrowed = 0;
	for (int r = 0; r < rounds; r++) {
		shared_fd = socket(dest.ss_family, SOCK_STREAM, 0);
		if (by_fork) {
			pid_t child = fork();
			if (child == 0) {
				line_up(r, DIALERS);
				page->results[1] = dial_shared(shared_fd);
				_exit(0);
			}
			line_up(r, DIALERS);
			page->results[0] = dial_shared(shared_fd);
			waitpid(child, NULL, 0);
		} else if (by_scm) {
			for (int i = 0; i < DIALERS; i++)
				send_fd(channels[i], shared_fd);
			for (int i = 0; i < DIALERS; i++) {
				char ack;
				if (read(channels[i], &ack, 1) != 1)
					return 1;
			}
		} else {
			pthread_barrier_wait(&start);
			pthread_barrier_wait(&done);
		}
		if (by_fork || by_scm)
			memcpy(results, page->results, sizeof(page->results));
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		bool connected = getpeername(shared_fd, (struct sockaddr *)&peer, &len) == 0;
		bool told_connected = false, all_refused = true, any_torn = false;
		for (int i = 0; i < dialers; i++) {
			told_connected |= results[i] == 0 || results[i] == EISCONN;
			all_refused &= results[i] == ECONNREFUSED || results[i] == EALREADY ||
				       results[i] == EINPROGRESS || torn_down(results[i]);
			any_torn |= torn_down(results[i]);
		}
		self += connected && names_equal(shared_fd);
		lies += told_connected && !connected;
		refused += all_refused && !connected;
		torn += any_torn;
		narrowed += !range_untouched(shared_fd);
		struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(shared_fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		close(shared_fd);
	}
	shared_fd = -1;
	if (by_scm) {
		for (int i = 0; i < DIALERS; i++) {
			close(channels[i]);
			waitpid(children[i], NULL, 0);
		}
	} else if (!by_fork) {
		pthread_barrier_wait(&start);
		for (int i = 0; i < threads; i++)
			pthread_join(tids[i], NULL);
	}
	if (occupier >= 0) {
		shutdown(occupier, SHUT_RDWR); /* wakes the thread in connect() */
		close(listener);
	}
	printf("rounds=%d self=%ld lies=%ld refused=%ld torn=%ld narrowed=%ld\n", rounds, self, lies,
	       refused, torn, narrowed);
	return 0;
}
