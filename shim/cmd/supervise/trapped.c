/*
 * noselfconn --supervise, one trapped dial: read the destination from the
 * caller's memory and, for a TCP dial to an ephemeral port of the caller's
 * network namespace, take a duplicate of the socket (pidfd_getfd). A socket
 * already bound to the destination's own endpoint is refused (ECONNREFUSED,
 * what any other port would have met); an unbound one gets a port range
 * without the destination port, unless a listener holds that port (the
 * kernel never gives it to a dial). Then the call continues.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "compat.h"
#include "escape.h"
#include "proc.h"
#include "procnet.h"
#include "tcpsock.h"
#include "verdict.h"

/* An int argument is the low half of its register, as the kernel reads it. */
#define ARG_INT(req, n) ((int)(uint32_t)(req)->data.args[n])

static bool mapped(pid_t tid, unsigned long address, size_t len);

/*
 * 0 when read, else -1 with errno: EPERM, not ours to read; EFAULT, not
 * mapped (the kernel fails the call the same way); EACCES, mapped but not
 * readable by another process (memfd_secret()).
 */
static int read_memory(__u32 pid, unsigned long address, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	/* An address in the caller, not ours: never dereferenced here. */
	struct iovec remote = { .iov_base = (void *)(uintptr_t)address, .iov_len = len }; // NOLINT(performance-no-int-to-ptr)
	ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || errno == EFAULT)
		errno = mapped((pid_t)pid, address, len) ? EACCES : EFAULT;
	return -1;
}

/*
 * The destination a trapped call dials, copied from the caller and read as
 * the kernel reads it. 1 when read; 0 when there is none the kernel would
 * accept (it gives its own answer); -1 with errno when it cannot be read.
 */
static int read_destination(const struct seccomp_notif *req, struct sockaddr_storage *dest,
			    socklen_t *len)
{
	unsigned long address;
	int length;
	if (req->data.nr == __NR_sendmsg || req->data.nr == __NR_sendmmsg) {
		/* sendmmsg's first message, the one that dials, starts with one too */
		struct msghdr msg;
		if (req->data.nr == __NR_sendmmsg && ARG_INT(req, 2) == 0)
			return 0;
		if (read_memory(req->pid, req->data.args[1], &msg, sizeof(msg)) != 0)
			return -1;
		address = (unsigned long)msg.msg_name;
		length = (int)msg.msg_namelen;
		/* As copy_msghdr_from_user(): a longer name is cut to the
		 * largest address there is, and dials. */
		if (length > (int)sizeof(*dest))
			length = (int)sizeof(*dest);
	} else if (req->data.nr == __NR_sendto) {
		address = req->data.args[4];
		length = ARG_INT(req, 5);
	} else {
		address = req->data.args[1];
		length = ARG_INT(req, 2);
	}
	if (address == 0 || length < (int)sizeof(sa_family_t) || length > (int)sizeof(*dest))
		return 0;
	*len = (socklen_t)length;
	return read_memory(req->pid, address, dest, (size_t)length) == 0 ? 1 : -1;
}

/* The thread group a thread belongs to, from /proc (0 if gone). */
static pid_t tgid_of(pid_t tid)
{
	char path[64], status[2048];
	unsigned long tgid = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (nsc_read_at(AT_FDCWD, path, status, sizeof(status)) <= 0 ||
	    !nsc_parse_status_field(status, "Tgid", &tgid))
		return 0;
	return (pid_t)tgid;
}

/* A pidfd for the calling thread (Linux 6.9: *thread set), else for its whole process. */
static int open_pidfd(pid_t tid, bool *thread)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	*thread = pidfd >= 0;
	if (pidfd >= 0)
		return pidfd;
	pid_t tgid = tgid_of(tid);
	return tgid > 0 ? (int)syscall(SYS_pidfd_open, tgid, 0) : -1;
}

/*
 * Each worker's pidfds, kept between notifications by thread id: a thread
 * that dials again costs no pidfd_open. A stale entry (its thread gone, the
 * id reused) only makes pidfd_getfd fail with ESRCH, and is then replaced.
 */
#define PIDFD_CACHE 64
struct pidfd_slot {
	pid_t tid;
	// cppcheck-suppress unusedStructMember ; used, through the thread-local array
	int pidfd;
	// cppcheck-suppress unusedStructMember ; used, through the thread-local array
	bool thread; /* a pidfd for that very thread */
};
static _Thread_local struct pidfd_slot pidfds[PIDFD_CACHE];

/* Our descriptors are all taken: give back the cached pidfds. */
static void forget_pidfds(void)
{
	for (unsigned i = 0; i < PIDFD_CACHE; i++) {
		if (pidfds[i].pidfd > 0)
			close(pidfds[i].pidfd);
		pidfds[i].tid = 0;
		pidfds[i].pidfd = 0;
	}
}

/*
 * A duplicate of the caller's socket, in the order seccomp_unotify(2) asks:
 * the pidfd, then the notification still valid, then pidfd_getfd. Out of
 * descriptors (EMFILE), the cache is given back and it is tried once more.
 * A cached pidfd of the thread itself needs no such check: if pidfd_getfd
 * works through it, that thread lives, so it is the one that has this id
 * and the one whose memory was read (a gone one's fails with ESRCH, and is
 * then opened afresh and checked).
 */
static int borrow_socket(int listener, const struct seccomp_notif *req)
{
	pid_t tid = (pid_t)req->pid;
	unsigned slot = (unsigned)tid % PIDFD_CACHE;
	bool fresh = false, gave_back = false;
	for (;;) {
		if (pidfds[slot].tid != tid || pidfds[slot].pidfd <= 0) {
			if (pidfds[slot].pidfd > 0)
				close(pidfds[slot].pidfd);
			pidfds[slot].tid = tid;
			pidfds[slot].pidfd = open_pidfd(tid, &pidfds[slot].thread);
			if (pidfds[slot].pidfd < 0 && errno == EMFILE && !gave_back) {
				forget_pidfds();
				gave_back = true;
				continue;
			}
			if (pidfds[slot].pidfd < 0)
				return -1;
			fresh = true;
		}
		if ((fresh || !pidfds[slot].thread) && ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0)
			return -1;
		int sock = (int)syscall(SYS_pidfd_getfd, pidfds[slot].pidfd, ARG_INT(req, 0), 0);
		if (sock < 0 && errno == EMFILE && !gave_back) {
			forget_pidfds();
			gave_back = fresh = true;
			continue;
		}
		if (sock >= 0 || fresh || errno != ESRCH)
			return sock;
		pidfds[slot].tid = 0; /* a stale pidfd: open afresh, once */
	}
}

/*
 * What the supervisor cannot guard, said once per process and reason, on
 * stderr and (NOSELFCONN_LOG=syslog) in the log: never passed silently.
 */
enum unguarded {
	UNREADABLE,   /* not ours to read (not dumpable, and we are not root): errno */
	SECRET,	      /* its destination is in memory no other process can read */
	NO_FD,	      /* out of descriptors, even after giving back our cache */
	FOREIGN_ABI,  /* 32-bit system calls */
	IO_URING,     /* io_uring's dials */
	OWN_LISTENER, /* its own seccomp listener, refused */
};
#define WARNED 64
static struct {
	pid_t tgid;
	enum unguarded why;
} warned[WARNED];
static unsigned warned_next;
static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_syslog;

static bool first_time(pid_t tgid, enum unguarded why)
{
	pthread_mutex_lock(&warned_lock);
	bool seen = false;
	for (unsigned i = 0; i < WARNED && !seen; i++)
		seen = warned[i].tgid == tgid && warned[i].why == why;
	if (!seen) {
		warned[warned_next % WARNED].tgid = tgid;
		warned[warned_next++ % WARNED].why = why;
	}
	pthread_mutex_unlock(&warned_lock);
	return !seen;
}

#define KERNEL_GUARD "noselfconn --kernel CGROUP guards them"

static void warn_once(pid_t tid, enum unguarded why, int err)
{
	pid_t tgid = tgid_of(tid);
	if (tgid <= 0 || !first_time(tgid, why))
		return; /* gone, or said */
	struct nsc_proc proc;
	char name[4 * NSC_COMM_SIZE + 4], text[256];
	nsc_proc_read(&proc, tid); /* comm stays "" if it is gone */
	nsc_escape(name, sizeof(name), proc.comm, NSC_COMM_SIZE - 1); /* another process chose it */
	nsc_proc_free(&proc);
	switch (why) {
	case OWN_LISTENER:
		snprintf(text, sizeof(text), "process %d (%s) asked for a seccomp listener of its own, which the "
			 "kernel refuses (EBUSY) under --supervise", tgid, name);
		break;
	case FOREIGN_ABI:
		snprintf(text, sizeof(text), "cannot guard the dials of process %d (%s): it makes 32-bit system "
			 "calls; they go unguarded (" KERNEL_GUARD ")", tgid, name);
		break;
	case IO_URING:
		snprintf(text, sizeof(text), "cannot guard the dials of process %d (%s) through io_uring, which "
			 "seccomp does not see; they go unguarded (" KERNEL_GUARD ")", tgid, name);
		break;
	default:
		snprintf(text, sizeof(text), "cannot guard the dials of process %d (%s): %s; they go unguarded",
			 tgid, name, why == SECRET ? "its destination is in memory no other process may read" :
			 strerror(err));
	}
	fprintf(stderr, "noselfconn: %s\n", text);
	if (log_syslog)
		syslog(LOG_WARNING, "%s", text);
}

/* Whether [address, address + len) lies in a mapping of process tid. */
static bool mapped(pid_t tid, unsigned long address, size_t len)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", tid);
	FILE *maps = fopen(path, "re");
	bool found = false;
	while (maps != NULL && !found && fgets(line, sizeof(line), maps) != NULL) {
		char *dash, *rest;
		unsigned long start = strtoul(line, &dash, 16);
		unsigned long end = *dash == '-' ? strtoul(dash + 1, &rest, 16) : 0;
		found = start <= address && address + len <= end;
	}
	if (maps != NULL)
		fclose(maps);
	return found;
}

static bool is_wildcard(const struct sockaddr_storage *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &any6, sizeof(any6)) == 0;
}

/* 127/8, ::1, ::ffff:127/104, or unspecified: dialed from this host's own address. */
static bool is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET) {
		uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
		return ip >> 24 == 127 || ip == INADDR_ANY;
	}
	const struct in6_addr *ip = &((const struct sockaddr_in6 *)a)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(ip) || IN6_IS_ADDR_UNSPECIFIED(ip) ||
	       (IN6_IS_ADDR_V4MAPPED(ip) && (ip->s6_addr[12] == 127 || (ip->s6_addr[12] |
		ip->s6_addr[13] | ip->s6_addr[14] | ip->s6_addr[15]) == 0));
}

/* Before Linux 6.3: bind a port of the range other than the target. */
static bool bind_other_port(int sock, int family, struct nsc_port_range range, uint16_t target)
{
	unsigned span = (unsigned)(range.high - range.low) + 1;
	unsigned start = (unsigned)getpid() * 2654435761U;
	for (unsigned i = 0; i < span && i < 256; i++) {
		uint16_t port = (uint16_t)(range.low + (start + i) % span);
		if (port == target)
			continue;
		struct sockaddr_storage any = { .ss_family = (sa_family_t)family };
		if (family == AF_INET)
			((struct sockaddr_in *)&any)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&any)->sin6_port = htons(port);
		socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		if (bind(sock, (struct sockaddr *)&any, len) == 0)
			return true;
	}
	return false;
}

/*
 * What to do with the caller's TCP socket, in network namespace `netns`: 0
 * to let the call continue, or an errno to fail it with (nothing listens
 * where it would have gone).
 */
static int steer_socket(int sock, const struct sockaddr_storage *dest, socklen_t dest_len,
			struct nsc_port_range range, uint64_t netns)
{
	uint16_t target = nsc_dest_port((const struct sockaddr *)dest);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	memset(&local, 0, sizeof(local));
	if (getsockname(sock, (struct sockaddr *)&local, &len) != 0)
		return 0;
	uint16_t bound = nsc_dest_port((const struct sockaddr *)&local);
	/* A port a listener holds is never given to a dial: the whole range
	 * stays, as without us (design-supervise.md, "Capacity"). Nothing
	 * is changed, so whatever the protocol: one call less where it holds. */
	if (bound == 0 && nsc_port_held(sock, netns, (const struct sockaddr *)dest))
		return 0;
	if (!nsc_is_tcp_socket(sock))
		return 0; /* not TCP: not ours */
	if (bound != 0) {
		/* Bound already (bind(ip, 0), or a port the program chose): the
		 * kernel keeps that port, whatever the range says. Dialing its
		 * own endpoint, it would meet itself; nothing else can listen
		 * there, so any other source port would have been refused. */
		if (nsc_is_self_connection((const struct sockaddr *)dest, dest_len,
					   (const struct sockaddr *)&local, len) ||
		    (bound == target && is_wildcard(&local) && is_loopback(dest)))
			return ECONNREFUSED;
		return 0;
	}
	uint32_t own = 0, avoiding;
	if (!nsc_get_socket_range(sock, &own))
		own = 0;
	if (!nsc_range_without(nsc_effective_range(range, own), target, &avoiding))
		return ECONNREFUSED;
	if (nsc_set_socket_range(sock, avoiding))
		return 0;
	return bind_other_port(sock, local.ss_family, range, target) ? 0 : ECONNREFUSED;
}

int nsc_guard_trapped(int listener, const struct seccomp_notif *req)
{
	pid_t tid = (pid_t)req->pid;
	static const enum unguarded unseen[] = { [NSC_TRAP_FOREIGN] = FOREIGN_ABI, [NSC_TRAP_URING] = IO_URING,
						 [NSC_TRAP_LISTENER] = OWN_LISTENER };
	enum nsc_trap kind = nsc_trap_kind(&req->data);
	if (kind != NSC_TRAP_DIAL) {
		warn_once(tid, unseen[kind], 0);
		return 0; /* the kernel does what it does without us */
	}
	struct sockaddr_storage dest;
	socklen_t len = 0;
	memset(&dest, 0, sizeof(dest));
	int got = read_destination(req, &dest, &len);
	if (got < 0 && (errno == EPERM || errno == EACCES))
		warn_once(tid, errno == EPERM ? UNREADABLE : SECRET, errno);
	if (got <= 0 || nsc_dial_verdict((struct sockaddr *)&dest, len, NSC_ANY_PORT) != NSC_GUARD)
		return 0; /* not a TCP/IP dial: the kernel answers */
	/* The memory we read is only trusted while the notification lives:
	 * borrow_socket() checks that before taking the socket. */
	int sock = borrow_socket(listener, req);
	if (sock < 0) {
		if (errno == EPERM || errno == EMFILE)
			warn_once(tid, errno == EPERM ? UNREADABLE : NO_FD, errno);
		return 0;
	}
	/* The range of the socket's namespace, which need not be the thread's. */
	uint64_t netns;
	struct nsc_port_range range = nsc_socket_range(sock, tid, &netns);
	int err = nsc_dial_verdict((struct sockaddr *)&dest, len, range) == NSC_GUARD
		? steer_socket(sock, &dest, len, range, netns) : 0;
	close(sock);
	return err;
}

void nsc_trapped_init(void)
{
	int log = NSC_LOG_OFF;
	const char *text = getenv(nsc_settings[NSC_SETTING_LOG].variable);
	if (nsc_parse_setting(NSC_SETTING_LOG, text, &log) && log == NSC_LOG_SYSLOG) {
		log_syslog = true;
		openlog("noselfconn", LOG_PID, LOG_USER);
	}
	nsc_netns_ranges_init();
}
