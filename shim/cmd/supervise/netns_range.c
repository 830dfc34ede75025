/*
 * noselfconn --supervise, the caller's ephemeral range: /proc/sys/net shows
 * the reader's network namespace, so a namespace other than ours is read by
 * a short-lived child that joins it (its user namespace first, when that is
 * what gives the right to). Kept per namespace, read again after a second.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "portrange.h"

#define NETNS_CACHE 16
#define REREAD_MS 1000
static struct {
	dev_t dev;
	ino_t ino;
	long read_at;
	struct nsc_port_range range;
} netns_ranges[NETNS_CACHE];
static unsigned netns_next;
static pthread_mutex_t netns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stat own_netns;

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Child side: async-signal-safe calls only (we are multi-threaded). */
static bool join_netns(const char *net_path, const char *user_path)
{
	int net = open(net_path, O_RDONLY | O_CLOEXEC);
	if (net < 0)
		return false;
	if (setns(net, CLONE_NEWNET) == 0)
		return true;
	int user = open(user_path, O_RDONLY | O_CLOEXEC);
	return user >= 0 && setns(user, CLONE_NEWUSER) == 0 && setns(net, CLONE_NEWNET) == 0;
}

static bool read_range_of(pid_t tid, struct nsc_port_range *out)
{
	char net_path[64], user_path[64];
	int channel[2];
	snprintf(net_path, sizeof(net_path), "/proc/%d/ns/net", tid);
	snprintf(user_path, sizeof(user_path), "/proc/%d/ns/user", tid);
	if (pipe2(channel, O_CLOEXEC) != 0)
		return false;
	pid_t child = fork();
	if (child == 0) {
		struct nsc_port_range r;
		sigset_t alarm_only;
		sigemptyset(&alarm_only);
		sigaddset(&alarm_only, SIGALRM);
		sigprocmask(SIG_UNBLOCK, &alarm_only, NULL);
		alarm(1); /* never outlives a second: nobody has to kill it */
		if (join_netns(net_path, user_path) && nsc_read_port_range(NSC_PORT_RANGE_FILE, &r) &&
		    write(channel[1], &r, sizeof(r)) < 0)
			_exit(1);
		_exit(0);
	}
	close(channel[1]);
	/* The keeper's loop reaps the child; its answer, or EOF, comes here. */
	struct pollfd p = { .fd = channel[0], .events = POLLIN };
	bool ok = child > 0 && poll(&p, 1, 2000) == 1 && read(channel[0], out, sizeof(*out)) == sizeof(*out);
	close(channel[0]);
	return ok;
}

static struct nsc_port_range range_of_netns(pid_t tid)
{
	char path[64];
	struct stat ns;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", tid);
	if (stat(path, &ns) != 0)
		return NSC_ANY_PORT;
	long now = now_ms();
	struct nsc_port_range range = NSC_ANY_PORT;
	pthread_mutex_lock(&netns_lock);
	unsigned i;
	for (i = 0; i < NETNS_CACHE; i++)
		if (netns_ranges[i].ino == ns.st_ino && netns_ranges[i].dev == ns.st_dev)
			break;
	if (i < NETNS_CACHE && now - netns_ranges[i].read_at < REREAD_MS) {
		range = netns_ranges[i].range;
	} else {
		bool ours = ns.st_ino == own_netns.st_ino && ns.st_dev == own_netns.st_dev;
		if (!(ours ? nsc_read_port_range(NSC_PORT_RANGE_FILE, &range) : read_range_of(tid, &range)))
			range = NSC_ANY_PORT; /* unknown: any port may be chosen */
		if (i == NETNS_CACHE)
			i = netns_next++ % NETNS_CACHE;
		netns_ranges[i].dev = ns.st_dev;
		netns_ranges[i].ino = ns.st_ino;
		netns_ranges[i].read_at = now;
		netns_ranges[i].range = range;
	}
	pthread_mutex_unlock(&netns_lock);
	return range;
}

/*
 * Per worker thread, the range last found for each calling thread: a
 * thread that dials again within the second costs no stat() of its
 * namespace (a thread that moves to another namespace is seen a second
 * later at most).
 */
#define TID_MEMO 64
struct tid_memo {
	// cppcheck-suppress unusedStructMember ; used, through the thread-local array
	long checked_at;
	pid_t tid;
	// cppcheck-suppress unusedStructMember ; used, through the thread-local array
	struct nsc_port_range range;
};
static _Thread_local struct tid_memo memo[TID_MEMO];

struct nsc_port_range nsc_caller_range(pid_t tid)
{
	unsigned slot = (unsigned)tid % TID_MEMO;
	long now = now_ms();
	if (memo[slot].tid != tid || now - memo[slot].checked_at >= REREAD_MS) {
		memo[slot].range = range_of_netns(tid);
		memo[slot].tid = tid;
		memo[slot].checked_at = now;
	}
	return memo[slot].range;
}

void nsc_netns_ranges_init(void)
{
	if (stat("/proc/self/ns/net", &own_netns) != 0)
		memset(&own_netns, 0, sizeof(own_netns));
}
