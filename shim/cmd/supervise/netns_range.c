/*
 * noselfconn --supervise, the ephemeral range a socket dials with: that of
 * the socket's network namespace (where it was made), which is not always
 * its thread's (unshare(), setns(), a socket passed in). /proc/sys/net shows
 * the reader's namespace, so a namespace other than ours is read by a
 * short-lived child that joins it (its user namespace first, when that is
 * what gives the right to). Kept per namespace by its cookie
 * (SO_NETNS_COOKIE, Linux 5.14), which no later namespace gets, unlike its
 * inode number; read again after a second. With it, a NETLINK_SOCK_DIAG
 * socket made in that namespace (by the same child, passed back with
 * SCM_RIGHTS), to ask whether a listener holds a dial's port (listener.c).
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "portrange.h"

#define NETNS_CACHE 16
#define REREAD_MS 1000
/* By cookie; before Linux 5.14, by the thread's namespace's inode (cookie 0). */
static struct {
	uint64_t cookie;
	dev_t dev;
	ino_t ino;
	long read_at;
	struct nsc_port_range range;
	int diag; /* NETLINK_SOCK_DIAG in that namespace (by cookie only), or -1 */
	struct nsc_listener_misses misses;
} netns_ranges[NETNS_CACHE];
static unsigned netns_next;
static uint32_t diag_seq;
static pthread_mutex_t netns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stat own_netns;
static uint64_t own_cookie;

static bool cookie_of(int sock, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	return getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) == 0 && *cookie != 0;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Child side: async-signal-safe calls only (we are multi-threaded). */
static bool join_netns(int net, int user)
{
	if (net < 0)
		return false;
	if (setns(net, CLONE_NEWNET) == 0)
		return true;
	return user >= 0 && setns(user, CLONE_NEWUSER) == 0 && setns(net, CLONE_NEWNET) == 0;
}

struct netns_answer {
	struct nsc_port_range range;
	uint64_t cookie; /* of the namespace joined, 0 before Linux 5.14 */
	int diag;	 /* the parent's: what came with SCM_RIGHTS, else -1 */
};

static int diag_socket(void)
{
	return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

/*
 * The range of namespace `net` (an open descriptor), else of thread tid's:
 * a child joins it and reads it. With the cookie of what it joined and,
 * `want_diag`, a NETLINK_SOCK_DIAG socket made there.
 */
static bool read_range_in(int net, pid_t tid, bool want_diag, struct netns_answer *out)
{
	char net_path[64], user_path[64];
	int channel[2];
	snprintf(net_path, sizeof(net_path), "/proc/%d/ns/net", tid);
	snprintf(user_path, sizeof(user_path), "/proc/%d/ns/user", tid);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0)
		return false;
	pid_t child = fork();
	if (child == 0) {
		struct netns_answer a = { .cookie = 0, .diag = -1 };
		sigset_t alarm_only;
		sigemptyset(&alarm_only);
		sigaddset(&alarm_only, SIGALRM);
		sigprocmask(SIG_UNBLOCK, &alarm_only, NULL);
		alarm(1); /* never outlives a second: nobody has to kill it */
		if (net < 0)
			net = open(net_path, O_RDONLY | O_CLOEXEC);
		int user = net >= 0 ? ioctl(net, NS_GET_USERNS) : -1;
		if (user < 0)
			user = open(user_path, O_RDONLY | O_CLOEXEC);
		if (join_netns(net, user) && nsc_read_port_range(NSC_PORT_RANGE_FILE, &a.range)) {
			int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (probe >= 0 && !cookie_of(probe, &a.cookie))
				a.cookie = 0;
			if (!nsc_send_with_fd(channel[1], &a, sizeof(a), want_diag ? diag_socket() : -1))
				_exit(1);
		}
		_exit(0);
	}
	close(channel[1]);
	/* The keeper's loop reaps the child; its answer, or EOF, comes here. */
	struct pollfd p = { .fd = channel[0], .events = POLLIN };
	bool ok = child > 0 && poll(&p, 1, 2000) == 1 && nsc_receive_with_fd(channel[0], out, sizeof(*out), &out->diag);
	close(channel[0]);
	return ok;
}

/* A slot for another namespace: the oldest taken, its socket closed. */
static unsigned take_slot(void)
{
	unsigned i = netns_next++ % NETNS_CACHE;
	if (netns_ranges[i].diag >= 0)
		close(netns_ranges[i].diag);
	netns_ranges[i].diag = -1;
	memset(&netns_ranges[i].misses, 0, sizeof(netns_ranges[i].misses));
	return i;
}

/* Before Linux 5.14: the calling thread's namespace, by its inode. */
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
		if (netns_ranges[i].cookie == 0 && netns_ranges[i].ino == ns.st_ino && netns_ranges[i].dev == ns.st_dev)
			break;
	if (i < NETNS_CACHE && now - netns_ranges[i].read_at < REREAD_MS) {
		range = netns_ranges[i].range;
	} else {
		bool ours = ns.st_ino == own_netns.st_ino && ns.st_dev == own_netns.st_dev;
		struct netns_answer a;
		if (ours ? nsc_read_port_range(NSC_PORT_RANGE_FILE, &range) : read_range_in(-1, tid, false, &a))
			range = ours ? range : a.range;
		else
			range = NSC_ANY_PORT; /* unknown: any port may be chosen */
		if (i == NETNS_CACHE)
			i = take_slot();
		netns_ranges[i].cookie = 0;
		netns_ranges[i].dev = ns.st_dev;
		netns_ranges[i].ino = ns.st_ino;
		netns_ranges[i].read_at = now;
		netns_ranges[i].range = range;
	}
	pthread_mutex_unlock(&netns_lock);
	return range;
}

/*
 * The range of the namespace with this cookie, which `sock` dials in; and,
 * if *diag is -1, a NETLINK_SOCK_DIAG socket made there.
 */
static struct nsc_port_range read_socket_range(int sock, uint64_t cookie, pid_t tid, int *diag)
{
	struct nsc_port_range range;
	struct netns_answer a;
	bool want_diag = *diag < 0;
	if (cookie == own_cookie) {
		if (want_diag)
			*diag = diag_socket();
		return nsc_read_port_range(NSC_PORT_RANGE_FILE, &range) ? range : NSC_ANY_PORT;
	}
	/* Its namespace itself (CAP_NET_ADMIN over it); else the thread's, if that is the one. */
	int net = ioctl(sock, SIOCGSKNS);
	bool ok = read_range_in(net, tid, want_diag, &a);
	if (ok && net < 0 && a.cookie != cookie) {
		ok = false;
		if (a.diag >= 0)
			close(a.diag);
	} else if (ok && a.diag >= 0) {
		*diag = a.diag;
	}
	if (net >= 0)
		close(net);
	return ok ? a.range : NSC_ANY_PORT; /* unknown: any port may be chosen */
}

struct nsc_port_range nsc_socket_range(int sock, pid_t tid, uint64_t *netns)
{
	uint64_t cookie;
	*netns = 0;
	if (!cookie_of(sock, &cookie))
		return range_of_netns(tid);
	*netns = cookie;
	long now = now_ms();
	pthread_mutex_lock(&netns_lock);
	unsigned i;
	for (i = 0; i < NETNS_CACHE; i++)
		if (netns_ranges[i].cookie == cookie)
			break;
	if (i == NETNS_CACHE || now - netns_ranges[i].read_at >= REREAD_MS) {
		if (i == NETNS_CACHE)
			i = take_slot();
		netns_ranges[i].cookie = cookie;
		netns_ranges[i].read_at = now;
		netns_ranges[i].range = read_socket_range(sock, cookie, tid, &netns_ranges[i].diag);
	}
	struct nsc_port_range range = netns_ranges[i].range;
	pthread_mutex_unlock(&netns_lock);
	return range;
}

bool nsc_listener_holds(uint64_t netns, const struct sockaddr *dest)
{
	bool holds = false;
	if (netns == 0)
		return false; /* before Linux 5.14: no socket of that namespace kept */
	/* Under the lock: one request at a time on the socket, never closed meanwhile. */
	pthread_mutex_lock(&netns_lock);
	for (unsigned i = 0; i < NETNS_CACHE; i++)
		if (netns_ranges[i].cookie == netns && netns_ranges[i].diag >= 0) {
			holds = nsc_ask_listener(netns_ranges[i].diag, &netns_ranges[i].misses, dest, ++diag_seq);
			break;
		}
	pthread_mutex_unlock(&netns_lock);
	return holds;
}

void nsc_netns_ranges_init(void)
{
	for (unsigned i = 0; i < NETNS_CACHE; i++)
		netns_ranges[i].diag = -1;
	if (stat("/proc/self/ns/net", &own_netns) != 0)
		memset(&own_netns, 0, sizeof(own_netns));
	int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0 || !cookie_of(probe, &own_cookie))
		own_cookie = 0;
	if (probe >= 0)
		close(probe);
}
