/*
 * The interposed calls. Each exported dial hook only packs its arguments
 * into a `struct dial` and forwards; guard() decides; libc is reached
 * through the libc_* pointers of struct nsc_runtime. (chroot() is hooked
 * only to read the range on the way in.) Everything here is async-signal-
 * safe: system calls on the caller's own socket, no allocation, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "runtime.h"
#include "tcpsock.h"
#include "verdict.h"

#define NSC_EXPORT __attribute__((visibility("default")))

enum dial_kind { DIAL_CONNECT, DIAL_SENDTO, DIAL_SENDMSG, DIAL_SENDMMSG };

/* One call that may open a connection, kept whole so it can be made again. */
struct dial {
	enum dial_kind kind;
	int fd;
	const struct sockaddr *addr; /* connect, sendto: the caller's argument */
	socklen_t addr_len;	     /* connect, sendto */
	const void *buf;	     /* sendto */
	size_t buf_len;		     /* sendto */
	const struct msghdr *msg;    /* sendmsg */
	struct mmsghdr *msgs;	     /* sendmmsg */
	unsigned int msg_count;	     /* sendmmsg */
	int flags;		     /* sendto, sendmsg, sendmmsg */
	/* Where the call opens a connection to, NULL if it opens none: set by
	 * read_destination(). */
	const struct sockaddr *dest;
	socklen_t dest_len;
};

/* What each hooked call dials with: the one place that knows its arguments. */
static struct dial dial_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return (struct dial){ .kind = DIAL_CONNECT, .fd = fd, .addr = addr, .addr_len = len };
}

static struct dial dial_sendto(int fd, const void *buf, size_t n, int flags,
			       const struct sockaddr *addr, socklen_t len)
{
	return (struct dial){ .kind = DIAL_SENDTO, .fd = fd, .buf = buf, .buf_len = n,
			      .flags = flags, .addr = addr, .addr_len = len };
}

static struct dial dial_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return (struct dial){ .kind = DIAL_SENDMSG, .fd = fd, .msg = msg, .flags = flags };
}

static struct dial dial_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n,
				 nsc_mmsg_flags flags)
{
	return (struct dial){ .kind = DIAL_SENDMMSG, .fd = fd, .msgs = msgs, .msg_count = n,
			      .flags = (int)flags };
}

static ssize_t dial_once(const struct nsc_runtime *rt, const struct dial *d)
{
	switch (d->kind) {
	case DIAL_SENDTO:
		return rt->libc_sendto(d->fd, d->buf, d->buf_len, d->flags, d->addr, d->addr_len);
	case DIAL_SENDMSG:
		return rt->libc_sendmsg(d->fd, d->msg, d->flags);
	case DIAL_SENDMMSG:
		return rt->libc_sendmmsg(d->fd, d->msgs, d->msg_count, (nsc_mmsg_flags)d->flags);
	case DIAL_CONNECT:
	default:
		return rt->libc_connect(d->fd, d->addr, d->addr_len);
	}
}

/* connect() always dials; a send only with MSG_FASTOPEN (TCP Fast Open). */
static bool may_dial(const struct dial *d)
{
	return d->kind == DIAL_CONNECT || (d->flags & MSG_FASTOPEN) != 0;
}

/*
 * Where the call dials: its address; sendmmsg's, that of its first message.
 * A msghdr is read only when needed: after the kernel has accepted the call
 * in mode check, so a bad pointer gets libc's EFAULT, not a fault in here.
 */
static void read_destination(struct dial *d)
{
	const struct msghdr *dialing = NULL;
	d->dest = NULL;
	d->dest_len = 0;
	if (!may_dial(d))
		return;
	if (d->kind == DIAL_CONNECT || d->kind == DIAL_SENDTO) {
		d->dest = d->addr;
		d->dest_len = d->addr_len;
		return;
	}
	if (d->kind == DIAL_SENDMSG)
		dialing = d->msg;
	else if (d->msgs != NULL && d->msg_count > 0)
		dialing = &d->msgs[0].msg_hdr;
	if (dialing != NULL) {
		d->dest = dialing->msg_name;
		/* A longer msg_namelen is clamped by the kernel, which dials. */
		d->dest_len = dialing->msg_namelen > sizeof(struct sockaddr_storage)
				      ? (socklen_t)sizeof(struct sockaddr_storage)
				      : dialing->msg_namelen;
	}
}

/* After these outcomes the kernel has chosen the source port already. */
static bool port_was_chosen(ssize_t ret, int err)
{
	return ret >= 0 || err == EINPROGRESS || err == EINTR;
}

/* A TCP/IP destination whose port the kernel might pick as our own. */
static bool is_guarded(const struct dial *d, struct nsc_port_range *range, bool *known)
{
	/* The shape first: a UNIX or malformed address reads no range. */
	if (d->dest == NULL || nsc_dial_verdict(d->dest, d->dest_len, NSC_ANY_PORT) != NSC_GUARD)
		return false;
	*range = nsc_port_range(known);
	return nsc_dial_verdict(d->dest, d->dest_len, *range) == NSC_GUARD;
}

/* The one extra call on a guarded dial: where did the kernel put our end? */
static bool met_itself(const struct dial *d)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	if (getsockname(d->fd, (struct sockaddr *)&local, &len) != 0)
		return false;
	return nsc_is_self_connection(d->dest, d->dest_len, (struct sockaddr *)&local, len) &&
	       nsc_is_tcp_socket(d->fd);
}

/*
 * Back to an unconnected socket, its kernel-chosen port released, as after a
 * refused dial. connect(AF_UNSPEC) is TCP's disconnect; it leaves ECONNRESET
 * pending, which SO_ERROR reads and clears so no later call trips on it.
 */
static void forget_connection(const struct nsc_runtime *rt, int fd)
{
	static const struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	int pending;
	socklen_t len = sizeof(pending);
	rt->libc_connect(fd, &unspec, sizeof(unspec));
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
}

/*
 * The dial made with the socket's range narrowed to one side of the target
 * (the part of `from` above or below it), then `own` put back. False,
 * nothing dialed, where that side is empty or the kernel lacks the option.
 */
static bool dial_on_side(const struct nsc_runtime *rt, const struct dial *d,
			 struct nsc_port_range from, bool above, uint32_t own, ssize_t *ret, int *err)
{
	uint32_t avoiding;
	if (!nsc_range_part(from, nsc_dest_port(d->dest), above, &avoiding) ||
	    !nsc_set_socket_range(d->fd, avoiding))
		return false;
	*ret = dial_once(rt, d);
	*err = errno;
	nsc_set_socket_range(d->fd, own);
	return true;
}

/*
 * The dial met itself and has been undone: make it again the way it would
 * have gone with any other source port. Nothing listens on the target (or
 * the kernel could not have chosen its port), so that is normally a refusal,
 * seen through the socket's usual path; if a server started meanwhile, the
 * program reaches it. The socket's range is narrowed to the wider side of
 * the target, then the other: where the namespace's range is unknown the
 * first may not exclude it. Where no other port exists (a one-port range, a
 * port the program bound itself, a kernel before 6.3), refuse outright.
 */
static ssize_t redial_elsewhere(const struct nsc_runtime *rt, const struct dial *d,
				struct nsc_port_range range)
{
	uint32_t own;
	ssize_t ret;
	int err;
	if (!nsc_get_socket_range(d->fd, &own))
		goto refuse;
	struct nsc_port_range from = nsc_effective_range(range, own);
	bool above = nsc_wider_above(from, nsc_dest_port(d->dest));
	for (int side = 0; side < 2; side++, above = !above) {
		if (!dial_on_side(rt, d, from, above, own, &ret, &err))
			continue;
		if (!port_was_chosen(ret, err) || !met_itself(d)) {
			errno = err;
			return ret;
		}
		forget_connection(rt, d->fd);
	}
refuse:
	errno = ECONNREFUSED;
	return -1;
}

/*
 * Mode check: dial as usual, look once, undo a self-connection. The address
 * is read only once the kernel has taken the call, and so has read it too.
 */
static ssize_t dial_checked(const struct nsc_runtime *rt, struct dial *d)
{
	ssize_t ret = dial_once(rt, d);
	int err = errno;
	struct nsc_port_range range;
	bool known;
	if (!port_was_chosen(ret, err)) {
		errno = err;
		return ret;
	}
	read_destination(d);
	if (!is_guarded(d, &range, &known) || !met_itself(d)) {
		errno = err;
		return ret;
	}
	forget_connection(rt, d->fd);
	if (rt->log != NSC_LOG_OFF)
		nsc_report_prevented(rt->log, rt->libc_sendto, d->dest);
	return redial_elsewhere(rt, d, range);
}

/*
 * Mode prebind: keep the target out of the kernel's choice before dialing:
 * the wider side of the range first, the other side should that one have
 * no port free (EADDRNOTAVAIL), as libc would still find one. Where that
 * cannot work, check instead: the range is unknown, the kernel lacks the
 * option, or the socket has its port already (bound first).
 */
static ssize_t dial_prebound(const struct nsc_runtime *rt, struct dial *d)
{
	struct nsc_port_range range;
	bool known;
	uint32_t own;
	int saved_errno = errno;
	read_destination(d);
	if (!is_guarded(d, &range, &known) || !nsc_is_tcp_socket(d->fd))
		return dial_once(rt, d); /* not ours, or not a socket: libc answers */
	if (!known || nsc_bound_port(d->fd) != 0 || !nsc_get_socket_range(d->fd, &own))
		return dial_checked(rt, d);
	struct nsc_port_range from = nsc_effective_range(range, own);
	bool above = nsc_wider_above(from, nsc_dest_port(d->dest)), dialed = false;
	ssize_t ret = -1;
	int err = 0;
	for (int side = 0; side < 2 && (!dialed || (ret < 0 && err == EADDRNOTAVAIL));
	     side++, above = !above)
		dialed |= dial_on_side(rt, d, from, above, own, &ret, &err);
	if (!dialed)
		return dial_checked(rt, d);
	errno = ret < 0 ? err : saved_errno;
	return ret;
}

/*
 * Threads sharing a socket. While one thread's dial is in here (dialed,
 * looked, perhaps undone and made again, or its range narrowed), another
 * thread's dial on the same socket would see what is about to be taken
 * back: a connection being undone, a range about to be restored. So a dial
 * marks its descriptor, lock-free, and a dial that finds another thread's
 * mark on its own descriptor waits for it to go. The window that matters
 * lasts microseconds (a dial to this host), so the wait is bounded at
 * 50 ms, after which the mark is taken over: a thread cancelled inside
 * connect(), a dial left by siglongjmp() from a signal handler, or a fork()
 * child that inherited another thread's mark costs one such wait, once. A
 * mark this thread holds already (a signal handler dialing from inside a
 * dial) is no wait. A mark is one word, the thread and the descriptor
 * together: a slot another descriptor holds is no reason to wait.
 */
#define MARKS 64		    /* slots: one cache-friendly page of .bss, at most */
#define MARK_WAIT_ROUNDS (64 + 500) /* 64 yields, then 500 sleeps of 100 us */
#define MARK_FD_SHIFT 48	    /* user-space thread pointers fit in 47 bits */

/* Aligned as an atomic word must be, on i386 too (where uint64_t is 4). */
typedef uint64_t mark_word __attribute__((aligned(8)));
static mark_word marks[MARKS];

static uint64_t mark_of(int fd)
{
	return (uint64_t)(unsigned)fd << MARK_FD_SHIFT |
	       ((uint64_t)(uintptr_t)__builtin_thread_pointer() & ((1ULL << MARK_FD_SHIFT) - 1));
}

static bool same_socket(uint64_t a, uint64_t b)
{
	return a >> MARK_FD_SHIFT == b >> MARK_FD_SHIFT;
}

static void pause_briefly(unsigned round)
{
	if (round < 64) {
		sched_yield();
		return;
	}
	struct timespec pause = { 0, 100000 };
	nanosleep(&pause, NULL);
}

/* Marks fd for this thread; false if the mark is not ours to remove. */
static bool mark_dialing(int fd)
{
	mark_word *slot = &marks[(unsigned)fd % MARKS];
	uint64_t mine = mark_of(fd);
	int saved_errno = errno;
	bool marked = false;
	for (unsigned round = 0;; round++) {
		uint64_t held = 0;
		if (__atomic_compare_exchange_n(slot, &held, mine, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			marked = true;
			break;
		}
		/* Ours already (a dial from inside a dial), or another socket's. */
		if (held == mine || !same_socket(held, mine))
			break;
		if (round >= MARK_WAIT_ROUNDS) {
			/* Abandoned, or a long dial: take it over. */
			marked = __atomic_compare_exchange_n(slot, &held, mine, false,
							     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
			break;
		}
		pause_briefly(round);
	}
	errno = saved_errno;
	return marked;
}

static void unmark_dialing(int fd, bool marked)
{
	uint64_t mine = mark_of(fd);
	/* Only if still ours: another thread may have taken it over. */
	if (marked)
		__atomic_compare_exchange_n(&marks[(unsigned)fd % MARKS], &mine, 0, false,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* How to stop the dials that may self-connect: the mode decides. */
static ssize_t guard(struct dial *d)
{
	struct nsc_runtime scratch;
	const struct nsc_runtime *rt = nsc_runtime(&scratch);
	if (rt->mode == NSC_MODE_OFF || !may_dial(d))
		return dial_once(rt, d);
	bool marked = mark_dialing(d->fd);
	ssize_t ret = rt->mode == NSC_MODE_PREBIND ? dial_prebound(rt, d) : dial_checked(rt, d);
	int err = errno;
	unmark_dialing(d->fd, marked);
	errno = err;
	return ret;
}

/* The exported hooks, from the lists in hooks.h, and their own names. */
#define NSC_DEFINE_HOOK(ret, name, params, args) \
	NSC_EXPORT ret name params                \
	{                                         \
		struct dial d = dial_##name args; \
		return (ret)guard(&d);            \
	}
NSC_DIAL_HOOKS(NSC_DEFINE_HOOK)

/* Inside, /proc is gone: the range the dials will need is read first. */
NSC_EXPORT int chroot(const char *path)
{
	struct nsc_runtime scratch;
	const struct nsc_runtime *rt = nsc_runtime(&scratch);
	if (rt->mode != NSC_MODE_OFF)
		nsc_read_port_range_now();
	return rt->libc_chroot(path);
}

/* Only addresses, never called: libc's leaf and nothrow on chroot() are
 * no concern of theirs. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
#define NSC_OWN_NAME(ret, name, params, args) \
	__typeof__(name) nsc_own_##name __attribute__((alias(#name)));
NSC_HOOKS(NSC_OWN_NAME)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
