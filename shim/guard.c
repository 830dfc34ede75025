/*
 * The interposed calls. Each exported hook only packs its arguments into a
 * `struct dial` and forwards; guard() decides; libc is reached through the
 * pointers in struct nsc_runtime. Everything here is async-signal-safe:
 * system calls on the caller's own socket, no allocation, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "report.h"
#include "runtime.h"
#include "verdict.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51 /* Linux 6.3; older headers lack it */
#endif

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

/*
 * Where the call dials, if it does: connect() always; a send only with
 * MSG_FASTOPEN (TCP Fast Open), sendmmsg through its first message. A
 * msghdr is read only when needed: after the kernel has accepted the call
 * in mode check, so a bad pointer gets libc's EFAULT, not a fault in here.
 */
static void read_destination(struct dial *d)
{
	const struct msghdr *dialing = NULL;
	d->dest = NULL;
	d->dest_len = 0;
	if (d->kind == DIAL_CONNECT) {
		d->dest = d->addr;
		d->dest_len = d->addr_len;
		return;
	}
	if (!(d->flags & MSG_FASTOPEN))
		return;
	if (d->kind == DIAL_SENDTO) {
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
		d->dest_len = dialing->msg_namelen;
	}
}

static ssize_t dial_once(const struct nsc_runtime *rt, const struct dial *d)
{
	switch (d->kind) {
	case DIAL_SENDTO:
		return rt->sendto(d->fd, d->buf, d->buf_len, d->flags, d->addr, d->addr_len);
	case DIAL_SENDMSG:
		return rt->sendmsg(d->fd, d->msg, d->flags);
	case DIAL_SENDMMSG:
		return rt->sendmmsg(d->fd, d->msgs, d->msg_count, (nsc_mmsg_flags)d->flags);
	case DIAL_CONNECT:
	default:
		return rt->connect(d->fd, d->addr, d->addr_len);
	}
}

/* After these outcomes the kernel has chosen the source port already. */
static bool port_was_chosen(ssize_t ret, int err)
{
	return ret >= 0 || err == EINPROGRESS || err == EINTR;
}

/* UDP may "connect" to itself and that is its business: only TCP is ours. */
static bool is_tcp(int fd)
{
	int protocol = 0;
	socklen_t len = sizeof(protocol);
	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 &&
	       protocol == IPPROTO_TCP;
}

/* The one extra call on a guarded dial: where did the kernel put our end? */
static bool met_itself(const struct dial *d)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	if (getsockname(d->fd, (struct sockaddr *)&local, &len) != 0)
		return false;
	return nsc_is_self_connection(d->dest, d->dest_len, (struct sockaddr *)&local, len) &&
	       is_tcp(d->fd);
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
	rt->connect(fd, &unspec, sizeof(unspec));
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
}

static bool get_port_range(int fd, uint32_t *range)
{
	socklen_t len = sizeof(*range);
	return getsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, range, &len) == 0;
}

static bool set_port_range(int fd, uint32_t range)
{
	return setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) == 0;
}

/*
 * Dial with the target port out of the kernel's choice. Returns false, having
 * dialed nothing, where that is impossible (kernel before 6.3, or no other
 * port in the range).
 */
static bool dial_avoiding_target(const struct nsc_runtime *rt, const struct dial *d,
				 ssize_t *ret, int *err)
{
	uint32_t own_range, avoiding;
	if (!get_port_range(d->fd, &own_range) ||
	    !nsc_range_without(nsc_effective_range(nsc_port_range(), own_range),
			       nsc_dest_port(d->dest), &avoiding) ||
	    !set_port_range(d->fd, avoiding))
		return false;
	*ret = dial_once(rt, d);
	*err = errno;
	set_port_range(d->fd, own_range);
	return true;
}

/*
 * The dial met itself and has been undone: make it again the way it would
 * have gone with any other source port. Nothing listens on the target (or
 * the kernel could not have chosen its port), so that is normally a refusal,
 * seen through the socket's usual path; if a server started meanwhile, the
 * program reaches it. Where no other port exists, refuse outright.
 */
static ssize_t redial_elsewhere(const struct nsc_runtime *rt, const struct dial *d)
{
	ssize_t ret;
	int err;
	if (dial_avoiding_target(rt, d, &ret, &err)) {
		if (!port_was_chosen(ret, err) || !met_itself(d)) {
			errno = err;
			return ret;
		}
		/* Only a port the program bound itself gets here. */
		forget_connection(rt, d->fd);
	}
	errno = ECONNREFUSED;
	return -1;
}

/* A TCP/IP destination whose port the kernel might pick as our own. */
static bool is_guarded(const struct dial *d)
{
	return d->dest != NULL &&
	       nsc_dial_verdict(d->dest, d->dest_len, nsc_port_range()) == NSC_GUARD;
}

/*
 * Mode check: dial as usual, look once, undo a self-connection. The address
 * is read only once the kernel has taken the call, and so has read it too.
 */
static ssize_t dial_checked(const struct nsc_runtime *rt, struct dial *d)
{
	ssize_t ret = dial_once(rt, d);
	int err = errno;
	if (!port_was_chosen(ret, err)) {
		errno = err;
		return ret;
	}
	read_destination(d);
	if (!is_guarded(d) || !met_itself(d)) {
		errno = err;
		return ret;
	}
	forget_connection(rt, d->fd);
	if (rt->log != NSC_LOG_OFF)
		nsc_report_prevented(rt, d->dest);
	return redial_elsewhere(rt, d);
}

/* Mode prebind: keep the target out of the kernel's choice before dialing. */
static ssize_t dial_prebound(const struct nsc_runtime *rt, struct dial *d)
{
	read_destination(d);
	if (!is_guarded(d))
		return dial_once(rt, d);
	int saved_errno = errno;
	if (!is_tcp(d->fd)) {
		errno = saved_errno; /* not ours, or not a socket: libc answers */
		return dial_once(rt, d);
	}
	ssize_t ret;
	int err;
	if (dial_avoiding_target(rt, d, &ret, &err)) {
		errno = err;
		return ret;
	}
	errno = saved_errno;
	return dial_checked(rt, d);
}

/* How to stop the dials that may self-connect: the mode decides. */
static ssize_t guard(struct dial *d)
{
	struct nsc_runtime scratch;
	const struct nsc_runtime *rt = nsc_runtime(&scratch);

	switch (rt->mode) {
	case NSC_MODE_OFF:
		return dial_once(rt, d);
	case NSC_MODE_PREBIND:
		return dial_prebound(rt, d);
	case NSC_MODE_CHECK:
	default:
		return dial_checked(rt, d);
	}
}

NSC_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct dial d = { .kind = DIAL_CONNECT, .fd = fd, .addr = addr, .addr_len = len };
	return (int)guard(&d);
}

NSC_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len)
{
	struct dial d = { .kind = DIAL_SENDTO, .fd = fd, .buf = buf, .buf_len = n,
			  .flags = flags, .addr = addr, .addr_len = len };
	return guard(&d);
}

NSC_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct dial d = { .kind = DIAL_SENDMSG, .fd = fd, .msg = msg, .flags = flags };
	return guard(&d);
}

NSC_EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, nsc_mmsg_flags flags)
{
	struct dial d = { .kind = DIAL_SENDMMSG, .fd = fd, .msgs = msgs, .msg_count = n,
			  .flags = (int)flags };
	return (int)guard(&d);
}

/* Names that always mean the hooks above, never an earlier definition. */
__typeof__(connect) nsc_own_connect __attribute__((alias("connect")));
__typeof__(sendto) nsc_own_sendto __attribute__((alias("sendto")));
__typeof__(sendmsg) nsc_own_sendmsg __attribute__((alias("sendmsg")));
__typeof__(sendmmsg) nsc_own_sendmmsg __attribute__((alias("sendmmsg")));
