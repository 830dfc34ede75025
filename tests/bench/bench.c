/*
 * bench: measures one case without and with the library, alternating in one
 * process, for tests/bench/run.sh. The library is dlopen()ed and its connect()
 * called directly, batch by batch in turn with libc's: both sides of every
 * ratio run seconds apart on the same machine state, which on a small, noisy
 * VM is the difference between a figure and a guess.
 *
 *   bench CASE COUNT ROUNDS LIBRARY MODE
 *     prints ROUNDS lines "rate_without rate_with failed_without failed_with"
 *   bench CASE COUNT ROUNDS - -
 *     ROUNDS batches through libc alone, one line "rate failed" each: for
 *     run.sh to time whole processes (noselfconn --supervise) against it
 *   bench getsockname COUNT
 *     prints "rate": what one system call costs here
 *
 * Cases (each batch of COUNT operations dials a fresh 127/8 address, so no
 * TIME_WAIT socket of one batch is in the way of the next):
 *   churn-client-closes  connect + close to a listener on an ephemeral port;
 *                        the client closes first (TIME_WAIT on the client)
 *   churn-server-closes  the same, the server closing first
 *   passthrough          connect + close to a listener outside the range
 *   refused              connect where nothing listens, on an ephemeral port
 *   threads              4 threads doing churn-client-closes at once
 *   capacity             churn-client-closes to port 40500 in a namespace
 *                        whose range is 40000-40999: more dials than ports,
 *                        so failures show what a guard costs in capacity
 *   startup              fork + exec of /bin/true, LD_PRELOAD on or off
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EPHEMERAL_PORT 40000 /* inside the default range 32768-60999 */
#define FIXED_PORT 8080	     /* outside it */
#define MIDDLE_PORT 40500    /* the middle of the capacity case's range */
#define THREADS 4

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static bool server_closes;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *serve(void *arg)
{
	int listener = *(int *)arg;
	for (;;) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			continue;
		if (!server_closes) {
			char b;
			while (read(fd, &b, 1) > 0) /* wait for the client's FIN */
				;
		}
		close(fd);
	}
	return NULL;
}

/* A listener on every 127/8 address at `port`, with two acceptors. */
static void start_server(int port)
{
	static int listener;
	int on = 1;
	pthread_t tid;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((in_port_t)port) };
	listener = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(listener, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listener, 4096) != 0) {
		perror("bench: listen");
		exit(1);
	}
	pthread_create(&tid, NULL, serve, &listener);
	pthread_create(&tid, NULL, serve, &listener);
}

struct batch {
	connect_fn dial;
	struct sockaddr_in to;
	bool expect_refused;
	long count;
	long failed; /* summed over threads */
};

static void *dial_loop(void *arg)
{
	struct batch *b = arg;
	long failed = 0;
	for (long i = 0; i < b->count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int rc = b->dial(fd, (const struct sockaddr *)&b->to, sizeof(b->to));
		bool ok = b->expect_refused ? (rc != 0 && errno == ECONNREFUSED) : rc == 0;
		if (ok && server_closes && !b->expect_refused) {
			char c;
			while (read(fd, &c, 1) > 0) /* the server's FIN first */
				;
		}
		close(fd);
		failed += !ok;
	}
	__atomic_add_fetch(&b->failed, failed, __ATOMIC_RELAXED);
	return NULL;
}

/* One batch of `count` dials through `dial`; returns dials per second. */
static double run_batch(connect_fn dial, int port, bool expect_refused, long count,
			int threads, long *failed)
{
	static unsigned batches;
	batches++;
	struct batch b = { .dial = dial, .expect_refused = expect_refused,
			   .count = count / threads };
	b.to.sin_family = AF_INET;
	b.to.sin_port = htons((in_port_t)port);
	b.to.sin_addr.s_addr = htonl(0x7f010000u + batches); /* 127.1.x.y */

	pthread_t tids[THREADS];
	double start = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, dial_loop, &b);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	*failed = b.failed;
	return (double)(b.count * threads) / (now() - start);
}

/* Seconds one fork + exec + exit of /bin/true takes with `envp`. */
static double exec_true(char **envp, long *failed)
{
	char *argv[] = { "true", NULL };
	double start = now();
	pid_t pid = fork();
	if (pid == 0) {
		execve("/bin/true", argv, envp);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		(*failed)++;
	return now() - start;
}

/* Execs alternate one by one: drift hits both sides alike. */
static void run_startup(long count, int rounds, const char *library, const char *mode)
{
	char preload[4096], mode_var[64];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", library);
	snprintf(mode_var, sizeof(mode_var), "NOSELFCONN_MODE=%s", mode);
	char *without[] = { NULL };
	char *with[] = { preload, mode_var, NULL };
	for (int r = 0; r < rounds; r++) {
		double spent[2] = { 0, 0 };
		long failed[2] = { 0, 0 };
		for (long i = 0; i < count; i++) {
			spent[0] += exec_true(without, &failed[0]);
			spent[1] += exec_true(with, &failed[1]);
		}
		printf("%.0f %.0f %ld %ld\n", (double)count / spent[0], (double)count / spent[1],
		       failed[0], failed[1]);
	}
}

static void run_getsockname(long count)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage local;
	double start = now();
	for (long i = 0; i < count; i++) {
		socklen_t len = sizeof(local);
		getsockname(fd, (struct sockaddr *)&local, &len);
	}
	printf("%.0f\n", (double)count / (now() - start));
	close(fd);
}

/* The library's own connect(), loaded beside libc's rather than before it. */
static connect_fn load_guard(const char *library, const char *mode)
{
	setenv("NOSELFCONN_MODE", mode, 1); /* read by the library's constructor */
	void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	connect_fn guarded = handle ? (connect_fn)dlsym(handle, "connect") : NULL;
	if (guarded == NULL) {
		fprintf(stderr, "bench: cannot load connect from %s: %s\n", library, dlerror());
		exit(1);
	}
	return guarded;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "getsockname") == 0) {
		run_getsockname(atol(argv[2]));
		return 0;
	}
	if (argc != 6) {
		fprintf(stderr, "usage: bench CASE COUNT ROUNDS LIBRARY MODE | bench getsockname COUNT\n");
		return 2;
	}
	const char *name = argv[1];
	long count = atol(argv[2]);
	int rounds = atoi(argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(name, "startup") == 0) {
		run_startup(count, rounds, argv[4], argv[5]);
		return 0;
	}

	int port = EPHEMERAL_PORT, threads = 1;
	bool listen_there = true, expect_refused = false;
	if (strcmp(name, "churn-server-closes") == 0) {
		server_closes = true;
	} else if (strcmp(name, "passthrough") == 0) {
		port = FIXED_PORT;
	} else if (strcmp(name, "refused") == 0) {
		listen_there = false;
		expect_refused = true;
	} else if (strcmp(name, "threads") == 0) {
		threads = THREADS;
	} else if (strcmp(name, "capacity") == 0) {
		port = MIDDLE_PORT;
	} else if (strcmp(name, "churn-client-closes") != 0) {
		fprintf(stderr, "bench: unknown case '%s'\n", name);
		return 2;
	}
	if (listen_there)
		start_server(port);
	connect_fn plain = connect;
	if (strcmp(argv[4], "-") == 0) {
		for (int r = 0; r < rounds; r++) {
			long failed;
			double rate = run_batch(plain, port, expect_refused, count, threads, &failed);
			printf("%.0f %ld\n", rate, failed);
		}
		return 0;
	}
	connect_fn guarded = load_guard(argv[4], argv[5]);

	for (int r = 0; r < rounds; r++) {
		long failed[2];
		double rate[2];
		/* Which side goes first alternates too. */
		int first = r % 2;
		rate[first] = run_batch(first ? guarded : plain, port, expect_refused, count, threads,
					&failed[first]);
		rate[!first] = run_batch(first ? plain : guarded, port, expect_refused, count, threads,
					 &failed[!first]);
		printf("%.0f %.0f %ld %ld\n", rate[0], rate[1], failed[0], failed[1]);
	}
	return 0;
}
