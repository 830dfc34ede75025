/*
 * bench: measures one case without and with the library, alternating in one
 * process, for tests/bench/run.sh. The library is dlopen()ed and its connect()
 * called directly, in turn with libc's, CHUNK dials at a time: both sides of
 * every ratio share each hiccup of a small, noisy VM (a timer, a neighbour on
 * the host) instead of one side taking it whole, which is the difference
 * between a figure and a guess.
 *
 *   bench CASE COUNT ROUNDS LIBRARY MODE [floor]
 *     prints ROUNDS lines "rate_without rate_with failed_without failed_with",
 *     and with "floor" a third side in the same turns, two more columns
 *     "rate_floor failed_floor": libc's connect() followed by one
 *     getsockname() and nothing else, the floor any guard that looks after
 *     the dial pays, measured beside the library's own figure
 *   bench CASE COUNT ROUNDS - -
 *     ROUNDS batches through libc alone, one line "rate failed" each: for
 *     run.sh to time whole processes (noselfconn --supervise) against it
 *   bench startup COUNT ROUNDS LIBRARY MODE [FLOOR_SO]
 *     the same for exec time, FLOOR_SO (an empty object) preloaded as the
 *     third side
 *   bench CASE COUNT ROUNDS --cgroups PLAIN GUARDED
 *     the kernel guard: both sides dial through libc, the process moving
 *     itself into cgroup PLAIN before each of one side's chunks and into
 *     GUARDED (where noselfconn --kernel is attached) before the other's;
 *     the move is not timed. Prints as with a library.
 *   bench progstats
 *     prints "run_time_ns run_cnt" summed over the kernel guard's programs
 *     (kernel.bpf_stats_enabled must be on for them to count)
 *   bench getsockname COUNT
 *     prints "rate": what one system call costs here
 *
 * Cases (each chunk dials a fresh 127/8 address, so no TIME_WAIT socket of one
 * chunk is in the way of the next):
 *   churn-client-closes  connect + close to a listener on an ephemeral port;
 *                        the client closes first (TIME_WAIT on the client)
 *   churn-server-closes  the same, the server closing first
 *   passthrough          connect + close to a listener outside the range
 *   refused              connect where nothing listens, on an ephemeral port
 *   refused-localhost    the same at 127.0.0.1 alone, the report's dial (a
 *                        refused dial leaves no TIME_WAIT to spread)
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

#include "compat.h"
#include "kguard.h"
#include "portrange.h"

#define EPHEMERAL_PORT 40000 /* inside the default range 32768-60999 */
#define FIXED_PORT 8080	     /* outside it */
#define MIDDLE_PORT 40500    /* the middle of the capacity case's range */
#define THREADS 4
#define CHUNK 100	     /* dials per turn and thread: a few milliseconds */

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

/* Every chunk dials 127.0.0.1 (refused-localhost), not a fresh 127/8 address. */
static bool localhost_only;

/* `count` dials through `dial`, split over `threads`; returns the seconds taken. */
static double run_batch(connect_fn dial, int port, bool expect_refused, long count,
			int threads, long *failed)
{
	static unsigned batches;
	batches++;
	struct batch b = { .dial = dial, .expect_refused = expect_refused,
			   .count = count / threads };
	b.to.sin_family = AF_INET;
	b.to.sin_port = htons((in_port_t)port);
	b.to.sin_addr.s_addr = htonl(localhost_only ? INADDR_LOOPBACK
					 : 0x7f010000u + batches % 0xfffe); /* 127.1.x.y */

	pthread_t tids[THREADS];
	double start = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, dial_loop, &b);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	*failed += b.failed;
	return now() - start;
}

#define MAX_SIDES 3

/* --cgroups: the cgroup.procs each side moves the process into first. */
static const char *side_cgroup[MAX_SIDES];

static void move_to(const char *procs)
{
	FILE *f = fopen(procs, "we");
	if (f == NULL || fprintf(f, "0\n") < 0 || fclose(f) != 0) {
		perror("bench: moving into a cgroup");
		exit(1);
	}
}

/*
 * One round: `count` dials through each of the `sides` functions in `dial`, a
 * chunk at a time in turn, which side goes first rotating too. Dials per
 * second and failures of each side out.
 */
static void run_round(const connect_fn *dial, int sides, int port, bool expect_refused,
		      long count, long chunk, int threads, int round, double *rate, long *failed)
{
	long chunks = count / chunk;
	double spent[MAX_SIDES] = { 0 };
	for (int side = 0; side < sides; side++)
		failed[side] = 0;
	for (long c = 0; c < chunks; c++) {
		for (int turn = 0; turn < sides; turn++) {
			int side = (int)((round + c + turn) % sides);
			if (side_cgroup[side] != NULL)
				move_to(side_cgroup[side]);
			spent[side] += run_batch(dial[side], port, expect_refused, chunk, threads,
						 &failed[side]);
		}
	}
	for (int side = 0; side < sides; side++)
		rate[side] = (double)(chunks * chunk) / spent[side];
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

/*
 * Execs take turns one by one, the first rotating: drift hits every side
 * alike. `floor`, if not NULL, is a third side: that object preloaded.
 */
static void run_startup(long count, int rounds, const char *library, const char *mode,
			const char *floor)
{
	char preload[4096], mode_var[64], floor_preload[4096];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", library);
	snprintf(mode_var, sizeof(mode_var), "NOSELFCONN_MODE=%s", mode);
	snprintf(floor_preload, sizeof(floor_preload), "LD_PRELOAD=%s", floor ? floor : "");
	char *without[] = { NULL };
	char *with[] = { preload, mode_var, NULL };
	char *with_floor[] = { floor_preload, NULL };
	char **envs[3] = { without, with, with_floor };
	int sides = floor ? 3 : 2;
	for (int r = 0; r < rounds; r++) {
		double spent[3] = { 0, 0, 0 };
		long failed[3] = { 0, 0, 0 };
		for (long i = 0; i < count; i++) {
			for (int turn = 0; turn < sides; turn++) {
				int side = (int)((i + turn) % sides);
				spent[side] += exec_true(envs[side], &failed[side]);
			}
		}
		printf("%.0f %.0f %ld %ld", (double)count / spent[0], (double)count / spent[1],
		       failed[0], failed[1]);
		if (floor)
			printf(" %.0f %ld", (double)count / spent[2], failed[2]);
		printf("\n");
	}
}

/* What the library's once-a-second refresh of the range costs: its reader. */
static void run_range_read(long count)
{
	struct nsc_port_range range;
	double start = now();
	for (long i = 0; i < count; i++)
		nsc_read_port_range(NSC_PORT_RANGE_FILE, &range);
	printf("%.0f\n", (double)count / (now() - start));
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

/* The kernel guard's programs' own run time and runs, summed. */
static void run_progstats(void)
{
	unsigned long long ns = 0, runs = 0;
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	while (nsc_bpf(BPF_PROG_GET_NEXT_ID, &attr) == 0) {
		uint32_t id = attr.next_id;
		char name[BPF_OBJ_NAME_LEN];
		if (nsc_is_guard_prog(id, name) == 1) {
			memset(&attr, 0, sizeof(attr));
			attr.prog_id = id;
			int fd = (int)nsc_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
			struct bpf_prog_info info;
			memset(&info, 0, sizeof(info));
			if (fd >= 0 && nsc_prog_info(fd, &info)) {
				ns += info.run_time_ns;
				runs += info.run_cnt;
			}
			if (fd >= 0)
				close(fd);
		}
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
	}
	printf("%llu %llu\n", ns, runs);
}

/* The floor: one look at the source port wherever the kernel chose one. */
static int connect_then_look(int fd, const struct sockaddr *to, socklen_t len)
{
	int rc = connect(fd, to, len), err = errno;
	if (rc == 0 || err == EINPROGRESS) {
		struct sockaddr_storage local;
		socklen_t local_len = sizeof(local);
		getsockname(fd, (struct sockaddr *)&local, &local_len);
	}
	errno = err;
	return rc;
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
	if (argc == 3 && strcmp(argv[1], "range-read") == 0) {
		run_range_read(atol(argv[2]));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "getsockname") == 0) {
		run_getsockname(atol(argv[2]));
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "progstats") == 0) {
		run_progstats();
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "startup") == 0) {
		run_startup(atol(argv[2]), atoi(argv[3]), argv[4], argv[5], argc == 7 ? argv[6] : NULL);
		return 0;
	}
	bool cgroups = argc == 7 && strcmp(argv[4], "--cgroups") == 0;
	if (argc != 6 && !(argc == 7 && strcmp(argv[6], "floor") == 0) && !cgroups) {
		fprintf(stderr, "usage: bench CASE COUNT ROUNDS LIBRARY MODE [floor] | bench CASE COUNT ROUNDS "
				"--cgroups PLAIN GUARDED | bench getsockname|range-read COUNT | bench progstats\n");
		return 2;
	}
	const char *name = argv[1];
	long count = atol(argv[2]);
	int rounds = atoi(argv[3]);

	int port = EPHEMERAL_PORT, threads = 1;
	long chunk = CHUNK;
	bool listen_there = true, expect_refused = false;
	if (strcmp(name, "churn-server-closes") == 0) {
		server_closes = true;
	} else if (strcmp(name, "passthrough") == 0) {
		port = FIXED_PORT;
	} else if (strcmp(name, "refused") == 0 || strcmp(name, "refused-localhost") == 0) {
		localhost_only = strcmp(name, "refused-localhost") == 0;
		listen_there = false;
		expect_refused = true;
	} else if (strcmp(name, "threads") == 0) {
		threads = THREADS;
		chunk = CHUNK * THREADS;
	} else if (strcmp(name, "capacity") == 0) {
		port = MIDDLE_PORT;
		chunk = count; /* one destination: more dials than ports */
	} else if (strcmp(name, "churn-client-closes") != 0) {
		fprintf(stderr, "bench: unknown case '%s'\n", name);
		return 2;
	}
	if (listen_there)
		start_server(port);
	connect_fn plain = connect;
	if (strcmp(argv[4], "-") == 0) {
		for (int r = 0; r < rounds; r++) {
			long failed = 0;
			double spent = run_batch(plain, port, expect_refused, count, threads, &failed);
			printf("%.0f %ld\n", (double)(count / threads * threads) / spent, failed);
		}
		return 0;
	}
	connect_fn dial[MAX_SIDES] = { plain, plain, connect_then_look };
	int sides = 2;
	if (cgroups) {
		side_cgroup[0] = argv[5];
		side_cgroup[1] = argv[6];
	} else {
		dial[1] = load_guard(argv[4], argv[5]);
		sides = argc == 7 ? 3 : 2;
	}

	for (int r = 0; r < rounds; r++) {
		long failed[MAX_SIDES];
		double rate[MAX_SIDES];
		run_round(dial, sides, port, expect_refused, count, count < chunk ? count : chunk,
			  threads, r, rate, failed);
		printf("%.0f %.0f %ld %ld", rate[0], rate[1], failed[0], failed[1]);
		if (sides == 3)
			printf(" %.0f %ld", rate[2], failed[2]);
		printf("\n");
	}
	return 0;
}
