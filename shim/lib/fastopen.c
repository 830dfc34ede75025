/*
 * Mode check's way in (dial.h): a large blocking TCP Fast Open send that
 * could hang is split in two; every other dial is looked at as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dial.h"

/*
 * A blocking TCP Fast Open send of more than any socket's send buffer takes
 * (its minimum, 4608 bytes, holds this much), if it met itself, would send
 * to itself until both buffers were full, and never return to be looked at.
 * So such a send, guarded and on a blocking socket, dials without waiting
 * (MSG_DONTWAIT): the SYN, with what the kernel takes at once; the look;
 * then the rest, as the program asked. A send that is not guarded, or may
 * not wait anyway, is the program's own call. Its address is read before
 * the dial, so that a send that is not guarded is never split; the kernel
 * reads it for us (process_vm_readv on ourselves), so that an address no
 * one may read gets EFAULT from libc, as without the library, not a fault
 * in here: two system calls, on this rare path only.
 */
#define FASTOPEN_SURELY_TAKEN 4096

static bool may_hang(const struct dial *d)
{
	return d->kind == DIAL_SENDTO && (d->flags & (MSG_FASTOPEN | MSG_DONTWAIT)) == MSG_FASTOPEN &&
	       d->buf_len > FASTOPEN_SURELY_TAKEN;
}

/* The send's address copied into *copy by the kernel: 1 done, 0 the
 * address cannot be read (EFAULT), -1 the kernel would not say. */
static int copy_address(const struct dial *d, struct sockaddr_storage *copy)
{
	if (d->addr == NULL || d->addr_len > sizeof(*copy))
		return 1; /* nothing to read: the verdict passes it */
	int saved_errno = errno;
	struct iovec local = { .iov_base = copy, .iov_len = d->addr_len };
	void *from; /* iovec's pointer is not const; the kernel only reads it */
	memcpy(&from, &d->addr, sizeof(from));
	struct iovec remote = { .iov_base = from, .iov_len = d->addr_len };
	long n = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
	int err = errno;
	errno = saved_errno;
	if (n == (long)d->addr_len)
		return 1;
	return n >= 0 || err == EFAULT ? 0 : -1;
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
	ssize_t sent = nsc_dial_and_look(rt, &first, own_claims);
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

/* Mode check, with the split above; `own_claims` as for nsc_dial_and_look(). */
ssize_t nsc_dial_checked(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims)
{
	struct nsc_port_range range;
	struct sockaddr_storage address;
	bool known;
	if (!may_hang(d))
		return nsc_dial_and_look(rt, d, own_claims);
	int copied = copy_address(d, &address);
	if (copied == 0)
		return nsc_dial_once(rt, d); /* libc's EFAULT */
	if (copied < 0) /* not split: no fault, at the risk it was split for */
		return nsc_dial_and_look(rt, d, own_claims);
	struct dial copy = *d; /* judged on what the kernel read for us */
	nsc_read_destination(&copy);
	if (copy.dest != NULL)
		copy.dest = (const struct sockaddr *)&address;
	if (!nsc_is_guarded(&copy, &range, &known))
		return nsc_dial_once(rt, d);
	return is_blocking(d->fd) ? fastopen_in_two(rt, d, own_claims)
				  : nsc_dial_and_look(rt, d, own_claims);
}
