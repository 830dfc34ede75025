/*
 * The interposed calls. Each exported dial hook only packs its arguments
 * into a `struct dial` and forwards; guard() decides; libc is reached
 * through the libc_* pointers of struct nsc_runtime. (chroot() is hooked
 * only to read the range on the way in.) Everything here is async-signal-
 * safe: system calls on the caller's own socket, no allocation, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "claim.h"
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

/*
 * The answers of a dial whose connection was torn down: by its peer (a
 * reset), or by another dial on its socket that undid a self-connection
 * while this one waited (a blocking connect() joins the one under way). In
 * the second case only, the dial would have been refused.
 */
static bool torn_down(ssize_t ret, int err)
{
	return ret < 0 && (err == EPIPE || err == ECONNRESET || err == ECONNABORTED);
}

/*
 * Whether another dial of this process took or held a claim while this one
 * dialed: what a connection undone under it leaves (two loads, no system
 * call). `own`: the claims the caller holds itself (prebind's).
 */
static bool claim_seen(unsigned taken_before, unsigned own)
{
	return nsc_claims_taken() != taken_before || nsc_claims_held() > own;
}

/* The answers that say "connected": 0 (or bytes sent) and EISCONN. */
static bool told_connected(ssize_t ret, int err)
{
	return ret >= 0 || err == EISCONN;
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

enum look { LOOK_FINE, LOOK_SELF, LOOK_UNDONE };

/* A listener answers EISCONN to connect(), and has no peer: nothing to settle. */
static bool is_listening(int fd)
{
	int saved_errno = errno, listening = 0;
	socklen_t len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
		listening = 0;
	errno = saved_errno;
	return listening != 0;
}

/* A connected socket's own name has an address and a port; a disconnected
 * one's keeps its last port but not its address (0.0.0.0, ::). */
static bool has_endpoint(const struct sockaddr_storage *local)
{
	if (local->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)local;
		return in->sin_addr.s_addr != htonl(INADDR_ANY) && in->sin_port != 0;
	}
	if (local->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)local;
		return !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) && in6->sin6_port != 0;
	}
	return true;
}

/*
 * The one extra call on a guarded dial: where did the kernel put our end?
 * At the destination itself: a self-connection (SELF). Nowhere, after an
 * answer that said "connected": another dial on this socket undid that
 * connection meanwhile (UNDONE). Either is settled under a claim on the
 * socket; anything else stands.
 */
static enum look look_at(const struct dial *d, bool connected)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	local.ss_family = AF_UNSPEC; /* whatever the kernel fills in */
	if (getsockname(d->fd, (struct sockaddr *)&local, &len) != 0)
		return LOOK_FINE;
	if (nsc_is_self_connection(d->dest, d->dest_len, (struct sockaddr *)&local, len))
		return nsc_is_tcp_socket(d->fd) ? LOOK_SELF : LOOK_FINE;
	if (connected && !has_endpoint(&local) && nsc_is_tcp_socket(d->fd) && !is_listening(d->fd))
		return LOOK_UNDONE;
	return LOOK_FINE;
}

static bool met_itself(const struct dial *d)
{
	return look_at(d, false) == LOOK_SELF;
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
		/* EISCONN: another thread's dial got in between; look at it too. */
		if ((!port_was_chosen(ret, err) && err != EISCONN) || !met_itself(d)) {
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
 * Whether a socket the kernel called connected still is: under a claim, a
 * port and a peer. (Without a claim, the port alone could be another dial's
 * on its way to a refusal.)
 */
static bool still_connected(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

/*
 * The answer to a dial whose look found something to settle, given while no
 * other dial holds the socket. A self-connection still there is undone;
 * then a dial that was under way (EINPROGRESS, EINTR: the program will poll)
 * is made again elsewhere, to be refused by the usual path, and any other is
 * refused at once: with no second dial on the socket, no other holder can
 * see a half-made one. A connection reported but gone is a refusal; a
 * connection there, the kernel's answer.
 */
static ssize_t settle(const struct nsc_runtime *rt, const struct dial *d,
		      struct nsc_port_range range, ssize_t ret, int err)
{
	struct nsc_claim claim;
	nsc_claim_socket(d->fd, &claim);
	bool connected = told_connected(ret, err);
	enum look look = look_at(d, connected);
	if (look == LOOK_SELF) {
		forget_connection(rt, d->fd);
		if (rt->log != NSC_LOG_OFF)
			nsc_report_prevented(rt->log, rt->libc_sendto, d->dest);
		if (ret < 0 && (err == EINPROGRESS || err == EINTR)) {
			ret = redial_elsewhere(rt, d, range);
			err = errno;
		} else {
			ret = -1;
			err = ECONNREFUSED;
		}
	} else if (look == LOOK_UNDONE || (connected && !still_connected(d->fd) &&
					   nsc_is_tcp_socket(d->fd) && !is_listening(d->fd))) {
		ret = -1;
		err = ECONNREFUSED;
	}
	nsc_release_socket(d->fd, &claim);
	errno = err;
	return ret;
}

/*
 * Mode check: dial as usual, look once, undo a self-connection. The address
 * is read only once the kernel has taken the call, and so has read it too.
 * No claim is taken, nor waited for, unless there is something to settle:
 * the look found the socket connected to itself, or without the connection
 * just reported; or the kernel said "connected" while another dial of this
 * process took or held a claim. (EISCONN, rare, also asks whether the
 * socket listens.) A connection torn down is refused only where a claim was
 * seen; otherwise its peer reset it, and the program hears so. A dial that
 * is not guarded, or whose socket is fine, never waits. `own_claims`: those
 * the caller holds on the socket itself.
 */
static ssize_t dial_and_look(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims)
{
	unsigned claims_before = nsc_claims_taken();
	ssize_t ret = dial_once(rt, d);
	int err = errno;
	struct nsc_port_range range;
	bool known;
	if (!port_was_chosen(ret, err) && err != EISCONN && !torn_down(ret, err)) {
		errno = err;
		return ret;
	}
	read_destination(d);
	if (!is_guarded(d, &range, &known)) {
		errno = err;
		return ret;
	}
	if (torn_down(ret, err)) {
		errno = claim_seen(claims_before, own_claims) ? ECONNREFUSED : err;
		return ret;
	}
	/* A listener's own name may be the destination: no connection at all. */
	if (ret < 0 && err == EISCONN && is_listening(d->fd)) {
		errno = err;
		return ret;
	}
	enum look look = look_at(d, told_connected(ret, err));
	if (look == LOOK_FINE && told_connected(ret, err) && claim_seen(claims_before, own_claims))
		look = LOOK_UNDONE; /* perhaps: settle() looks again */
	if (look == LOOK_FINE) {
		errno = err;
		return ret;
	}
	return settle(rt, d, range, ret, err);
}

/*
 * A blocking TCP Fast Open send of more than any socket's send buffer takes
 * (its minimum, 4608 bytes, holds this much), if it met itself, would send
 * to itself until both buffers were full, and never return to be looked at.
 * So such a send, guarded and on a blocking socket, dials without waiting
 * (MSG_DONTWAIT): the SYN, with what the kernel takes at once; the look;
 * then the rest, as the program asked. A send that is not guarded, or may
 * not wait anyway, is the program's own call. Its address is read before
 * the dial, as in mode prebind: the price of asking nothing of the kernel
 * for a send that is not guarded.
 */
#define FASTOPEN_SURELY_TAKEN 4096

static bool may_hang(const struct dial *d)
{
	return d->kind == DIAL_SENDTO && (d->flags & (MSG_FASTOPEN | MSG_DONTWAIT)) == MSG_FASTOPEN &&
	       d->buf_len > FASTOPEN_SURELY_TAKEN;
}

/* One F_GETFL, only for the large sends above, once they are guarded. */
static bool is_blocking(int fd)
{
	int saved_errno = errno, flags = fcntl(fd, F_GETFL);
	errno = saved_errno;
	return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

static ssize_t fastopen_in_two(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims)
{
	int saved_errno = errno;
	struct dial first = *d;
	first.flags |= MSG_DONTWAIT;
	ssize_t sent = dial_and_look(rt, &first, own_claims);
	int err = errno;
	if (sent < 0 && err != EINPROGRESS && err != EAGAIN)
		return sent; /* refused, or an error: the answer (errno set) */
	size_t done = sent > 0 ? (size_t)sent : 0;
	if (done == d->buf_len) {
		errno = saved_errno;
		return sent;
	}
	ssize_t rest = rt->libc_sendto(d->fd, (const char *)d->buf + done, d->buf_len - done,
				       d->flags & ~MSG_FASTOPEN, NULL, 0);
	if (rest >= 0) {
		errno = saved_errno;
		return (ssize_t)done + rest;
	}
	if (done > 0) { /* as a blocking send cut short */
		errno = saved_errno;
		return (ssize_t)done;
	}
	if (errno == EAGAIN) { /* SO_SNDTIMEO ran out while connecting: the dial's answer */
		errno = err;
		return sent;
	}
	return rest;
}

/* Mode check, with the split above; `own_claims` as for dial_and_look(). */
static ssize_t dial_checked(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims)
{
	struct nsc_port_range range;
	bool known;
	if (!may_hang(d))
		return dial_and_look(rt, d, own_claims);
	read_destination(d);
	if (!is_guarded(d, &range, &known))
		return dial_once(rt, d);
	return is_blocking(d->fd) ? fastopen_in_two(rt, d, own_claims)
				  : dial_and_look(rt, d, own_claims);
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
	/* One dial at a time reads, narrows and restores the range, and decides
	 * from the socket's state, which a dial under way would change. */
	struct nsc_claim claim;
	nsc_claim_socket(d->fd, &claim);
	ssize_t ret = -1;
	int err = 0;
	bool dialed = false;
	if (known && nsc_bound_port(d->fd) == 0 && nsc_get_socket_range(d->fd, &own)) {
		struct nsc_port_range from = nsc_effective_range(range, own);
		bool above = nsc_wider_above(from, nsc_dest_port(d->dest));
		for (int side = 0; side < 2 && (!dialed || (ret < 0 && err == EADDRNOTAVAIL));
		     side++, above = !above)
			dialed |= dial_on_side(rt, d, from, above, own, &ret, &err);
	}
	if (!dialed) {
		ret = dial_checked(rt, d, claim.counted ? 1 : 0);
		err = errno;
	} else if (ret >= 0) {
		err = saved_errno;
	}
	nsc_release_socket(d->fd, &claim);
	errno = err;
	return ret;
}

/* How to stop the dials that may self-connect: the mode decides. */
static ssize_t guard(struct dial *d)
{
	struct nsc_runtime scratch;
	const struct nsc_runtime *rt = nsc_runtime(&scratch);
	if (rt->mode == NSC_MODE_OFF || !may_dial(d))
		return dial_once(rt, d);
	return rt->mode == NSC_MODE_PREBIND ? dial_prebound(rt, d) : dial_checked(rt, d, 0);
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

/* Another network namespace for this thread: another range for its sockets. */
NSC_EXPORT int setns(int fd, int nstype)
{
	struct nsc_runtime scratch;
	const struct nsc_runtime *rt = nsc_runtime(&scratch);
	int ret = rt->libc_setns(fd, nstype);
	if (ret == 0 && (nstype == 0 || (nstype & CLONE_NEWNET) != 0))
		nsc_port_range_mixed();
	return ret;
}

NSC_EXPORT int unshare(int flags)
{
	struct nsc_runtime scratch;
	const struct nsc_runtime *rt = nsc_runtime(&scratch);
	int ret = rt->libc_unshare(flags);
	if (ret == 0 && (flags & CLONE_NEWNET) != 0)
		nsc_port_range_mixed();
	return ret;
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
