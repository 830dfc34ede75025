/*
 * The interposed calls. Each exported dial hook only packs its arguments
 * into a `struct dial` and forwards; guard() decides, by the mode (prebind
 * here, check in fastopen.c and look.c); libc is reached through the
 * libc_* pointers of struct nsc_runtime (dial.h says how the layers go).
 * chroot() is hooked only to read the range on the way in; setns() and
 * unshare(), to know the process's sockets may draw from several ranges.
 * Everything here is async-signal-safe: system calls on the caller's own
 * socket, no allocation, no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "claim.h"
#include "dial.h"
#include "runtime.h"
#include "tcpsock.h"
#include "verdict.h"

#define NSC_EXPORT __attribute__((visibility("default")))

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
	nsc_read_destination(d);
	if (!nsc_is_guarded(d, &range, &known) || !nsc_is_tcp_socket(d->fd))
		return nsc_dial_once(rt, d); /* not ours, or not a socket: libc answers */
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
			dialed |= nsc_dial_on_side(rt, d, from, above, own, &ret, &err);
	}
	if (!dialed) {
		ret = nsc_dial_checked(rt, d, claim.counted ? 1 : 0);
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
	if (rt->mode == NSC_MODE_OFF || !nsc_may_dial(d))
		return nsc_dial_once(rt, d);
	return rt->mode == NSC_MODE_PREBIND ? dial_prebound(rt, d) : nsc_dial_checked(rt, d, 0);
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
