/*
 * Every interposed call, once: return type, name, parameters, arguments.
 * From these lists come libc's pointers (libc_connect...), their lookup, the
 * raw system-call fall-backs, the exported hooks, the aliases that name our
 * own hooks, and the version script (exports.map.in). Adding a call that
 * dials is a line in NSC_DIAL_HOOKS and a dial_NAME() in guard.c that says
 * what it dials.
 */
#ifndef NOSELFCONN_HOOKS_H
#define NOSELFCONN_HOOKS_H

#define NSC_DIAL_HOOKS(X)                                                                  \
	X(int, connect, (int fd, const struct sockaddr *addr, socklen_t len), (fd, addr, len)) \
	X(ssize_t, sendto,                                                                 \
	  (int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,     \
	   socklen_t len),                                                                 \
	  (fd, buf, n, flags, addr, len))                                                  \
	X(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags))  \
	X(int, sendmmsg, (int fd, struct mmsghdr *msgs, unsigned int n, nsc_mmsg_flags flags), \
	  (fd, msgs, n, flags))

/* chroot() leaves /proc behind: the range is read on the way in. setns()
 * and unshare() can put a thread, and the sockets it makes, in another
 * network namespace, with another range (guard.c). */
#define NSC_OTHER_HOOKS(X)                                 \
	X(int, chroot, (const char *path), (path))         \
	X(int, setns, (int fd, int nstype), (fd, nstype))  \
	X(int, unshare, (int flags), (flags))

#define NSC_HOOKS(X) NSC_DIAL_HOOKS(X) NSC_OTHER_HOOKS(X)

/* Unwraps a parenthesised argument list. */
#define NSC_ARGS(...) __VA_ARGS__

#endif
