/*
 * Mode check's way in (dial.h): a large blocking TCP Fast Open send that
 * could hang is split in two; every other dial is looked at as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
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
 * not wait anyway, is the program's own call. What it is made of is read
 * before the dial, so that a send that is not guarded is never split: the
 * address, then its length (for sendmsg(), the msghdr, then the address,
 * then the iovecs), then whether the socket blocks, each only while the
 * send may still hang. The kernel reads memory for us (process_vm_readv on
 * ourselves), so that memory no one may read gets EFAULT from libc, as
 * without the library, not a fault in here. The price, on these rare calls
 * only: a sendto() of over 4 KiB pays 2 system calls before the verdict,
 * a sendmsg() 3 (its length is not known before), whatever it dials.
 * (sendmmsg() is not split: libnoselfconn(7), BUGS.)
 */
#define FASTOPEN_SURELY_TAKEN 4096
#define IOV_CHUNK 16 /* iovecs read at a time */

static bool may_hang(const struct dial *d)
{
	return (d->kind == DIAL_SENDTO || d->kind == DIAL_SENDMSG) &&
	       (d->flags & (MSG_FASTOPEN | MSG_DONTWAIT)) == MSG_FASTOPEN &&
	       (d->kind == DIAL_SENDMSG || d->buf_len > FASTOPEN_SURELY_TAKEN);
}

/* `len` bytes of ours (`self`: getpid()) at `from` copied into `to` by the
 * kernel: 1 done, 0 they cannot be read (EFAULT), -1 the kernel would not say. */
static int read_own(pid_t self, void *to, const void *from, size_t len)
{
	int saved_errno = errno;
	struct iovec local = { .iov_base = to, .iov_len = len };
	void *source; /* iovec's pointer is not const; the kernel only reads it */
	memcpy(&source, &from, sizeof(source));
	struct iovec remote = { .iov_base = source, .iov_len = len };
	long n = syscall(SYS_process_vm_readv, self, &local, 1UL, &remote, 1UL, 0UL);
	int err = errno;
	errno = saved_errno;
	if (n == (long)len)
		return 1;
	return n >= 0 || err == EFAULT ? 0 : -1;
}

/* msg_iovlen, a size_t in glibc and an int in musl. */
static size_t iov_count(const struct msghdr *msg)
{
	return (size_t)msg->msg_iovlen;
}

/*
 * A sendmsg()'s iovecs, read as in read_own(): their length in *total and,
 * where byte `offset` lies within them, that iovec's index in *index and its
 * part from that byte on in *part (else *index is msg_iovlen).
 */
static int walk_iovecs(pid_t self, const struct msghdr *msg, size_t offset, size_t *total, size_t *index,
		       struct iovec *part)
{
	struct iovec chunk[IOV_CHUNK];
	size_t count = iov_count(msg);
	*total = 0;
	*index = count;
	for (size_t i = 0; i < count; i++) {
		if (i % IOV_CHUNK == 0) { /* the next chunk of them */
			size_t left = count - i;
			int got = read_own(self, chunk, msg->msg_iov + i,
					   (left < IOV_CHUNK ? left : IOV_CHUNK) * sizeof(chunk[0]));
			if (got <= 0)
				return got;
		}
		const struct iovec *v = &chunk[i % IOV_CHUNK];
		if (*index == count && offset < *total + v->iov_len) {
			*index = i;
			part->iov_base = (char *)v->iov_base + (offset - *total);
			part->iov_len = v->iov_len - (offset - *total);
		}
		*total += v->iov_len;
	}
	return 1;
}

/*
 * Where a Fast Open send dials, copied by the kernel: for sendmsg(), the
 * msghdr into *msg; its address into *address, *read set where there was
 * one to read. 1 done, 0 something cannot be read (libc's EFAULT), -1 the
 * kernel would not say.
 */
static int copy_send(const struct dial *d, pid_t self, struct sockaddr_storage *address, struct msghdr *msg,
		     bool *read)
{
	const void *name = d->addr;
	size_t name_len = d->addr_len;
	*read = false;
	if (d->kind == DIAL_SENDMSG) {
		int got = read_own(self, msg, d->msg, sizeof(*msg));
		if (got <= 0)
			return got;
		name = msg->msg_name;
		/* A longer msg_namelen is clamped by the kernel, which dials. */
		name_len = msg->msg_namelen > sizeof(*address) ? sizeof(*address) : msg->msg_namelen;
	}
	if (name == NULL || name_len > sizeof(*address))
		return 1; /* none, or one sendto() refuses (EINVAL): nothing dials */
	int got = read_own(self, address, name, name_len);
	*read = got > 0;
	return got;
}

/* The bytes the send carries: 1 done, else as read_own(). */
static int send_length(const struct dial *d, pid_t self, const struct msghdr *msg, size_t *length)
{
	size_t none;
	struct iovec nothing;
	*length = d->buf_len;
	if (d->kind != DIAL_SENDMSG)
		return 1;
	if (iov_count(msg) > IOV_MAX)
		return -1; /* EMSGSIZE, nothing sent: nothing to split */
	return walk_iovecs(self, msg, SIZE_MAX, length, &none, &nothing);
}

/* One F_GETFL, only for the large sends above, once they are guarded. */
static bool is_blocking(int fd)
{
	int saved_errno = errno, flags = fcntl(fd, F_GETFL);
	errno = saved_errno;
	return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

/*
 * The rest of a sendmsg() from byte `done` on, blocking, as the program
 * asked: the part of the iovec it falls in, then the iovecs after it (no
 * name, no ancillary data: those went with the first part).
 */
static ssize_t send_msg_rest(const struct nsc_runtime *rt, const struct dial *d, const struct msghdr *msg,
			     size_t done)
{
	size_t total, index;
	struct iovec part;
	int got = walk_iovecs(getpid(), msg, done, &total, &index, &part);
	if (got == 0) { /* unmapped since: as the kernel would have read it */
		errno = EFAULT;
		return -1;
	}
	if (got < 0 || index == iov_count(msg))
		return 0; /* changed under us: sent as far as it went */
	struct msghdr rest = { .msg_iov = &part, .msg_iovlen = 1 };
	int flags = d->flags & ~MSG_FASTOPEN;
	ssize_t sent = rt->libc_sendmsg(d->fd, &rest, flags);
	if (sent < 0 || (size_t)sent < part.iov_len || index + 1 >= iov_count(msg))
		return sent;
	int saved_errno = errno;
	rest.msg_iov = msg->msg_iov + index + 1;
	rest.msg_iovlen = (__typeof__(rest.msg_iovlen))(iov_count(msg) - index - 1);
	ssize_t more = rt->libc_sendmsg(d->fd, &rest, flags);
	if (more < 0) { /* as a blocking send cut short */
		errno = saved_errno;
		return sent;
	}
	return sent + more;
}

static ssize_t fastopen_in_two(const struct nsc_runtime *rt, struct dial *d, const struct msghdr *msg,
			       size_t length, unsigned own_claims)
{
	int saved_errno = errno;
	struct dial first = *d;
	first.flags |= MSG_DONTWAIT;
	ssize_t sent = nsc_dial_and_look(rt, &first, own_claims);
	int err = errno;
	if (sent < 0 && err != EINPROGRESS && err != EAGAIN)
		return sent; /* refused, or an error: the answer (errno set) */
	size_t done = sent > 0 ? (size_t)sent : 0;
	if (done == length) {
		errno = saved_errno;
		return sent;
	}
	ssize_t rest = d->kind == DIAL_SENDMSG
		? send_msg_rest(rt, d, msg, done)
		: rt->libc_sendto(d->fd, (const char *)d->buf + done, d->buf_len - done,
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
	struct msghdr msg = { 0 };
	size_t length;
	bool known;
	if (!may_hang(d))
		return nsc_dial_and_look(rt, d, own_claims);
	if (d->kind == DIAL_SENDMSG && d->msg == NULL)
		return nsc_dial_and_look(rt, d, own_claims); /* libc's EFAULT, nothing read */
	pid_t self = getpid();
	bool read;
	int copied = copy_send(d, self, &address, &msg, &read);
	if (copied == 0)
		return nsc_dial_once(rt, d); /* libc's EFAULT */
	if (copied < 0) /* not split: no fault, at the risk it was split for */
		return nsc_dial_and_look(rt, d, own_claims);
	struct dial copy = *d; /* judged on what the kernel read for us */
	if (d->kind == DIAL_SENDMSG)
		copy.msg = &msg;
	nsc_read_destination(&copy);
	copy.dest = read ? (const struct sockaddr *)&address : NULL;
	if (!nsc_is_guarded(&copy, &range, &known))
		return nsc_dial_once(rt, d);
	copied = send_length(d, self, &msg, &length);
	if (copied == 0)
		return nsc_dial_once(rt, d);
	if (copied < 0 || length <= FASTOPEN_SURELY_TAKEN)
		return nsc_dial_and_look(rt, d, own_claims);
	return is_blocking(d->fd) ? fastopen_in_two(rt, d, &msg, length, own_claims)
				  : nsc_dial_and_look(rt, d, own_claims);
}
