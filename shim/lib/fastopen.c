/*
 * Mode check's way in (dial.h): a large blocking TCP Fast Open send that
 * could hang is split in two; every other dial is looked at as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "dial.h"

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
	bool known;
	if (!may_hang(d))
		return nsc_dial_and_look(rt, d, own_claims);
	nsc_read_destination(d);
	if (!nsc_is_guarded(d, &range, &known))
		return nsc_dial_once(rt, d);
	return is_blocking(d->fd) ? fastopen_in_two(rt, d, own_claims)
				  : nsc_dial_and_look(rt, d, own_claims);
}
