/*
 * What a dial is made of (dial.h): made through libc, its destination read,
 * whether it is guarded, made again with the socket's range narrowed.
 */
#define _GNU_SOURCE
#include "dial.h"

#include <errno.h>

#include "tcpsock.h"

/* The call, as the program made it, through libc. */
ssize_t nsc_dial_once(const struct nsc_runtime *rt, const struct dial *d)
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
bool nsc_may_dial(const struct dial *d)
{
	return d->kind == DIAL_CONNECT || (d->flags & MSG_FASTOPEN) != 0;
}

/*
 * Where the call dials: its address; sendmmsg's, that of its first message.
 * A msghdr is read only when needed: after the kernel has accepted the call
 * in mode check, so a bad pointer gets libc's EFAULT, not a fault in here.
 */
void nsc_read_destination(struct dial *d)
{
	const struct msghdr *dialing = NULL;
	d->dest = NULL;
	d->dest_len = 0;
	if (!nsc_may_dial(d))
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

/* A TCP/IP destination whose port the kernel might pick as our own. */
bool nsc_is_guarded(const struct dial *d, struct nsc_port_range *range, bool *known)
{
	/* The shape first: a UNIX or malformed address reads no range. */
	if (d->dest == NULL || nsc_dial_verdict(d->dest, d->dest_len, NSC_ANY_PORT) != NSC_GUARD)
		return false;
	*range = nsc_port_range(known);
	return nsc_dial_verdict(d->dest, d->dest_len, *range) == NSC_GUARD;
}

/* Narrowed, dialed, restored: the one place that changes a socket's range. */
bool nsc_dial_on_side(const struct nsc_runtime *rt, const struct dial *d,
		      struct nsc_port_range from, bool above, uint32_t own, ssize_t *ret, int *err)
{
	uint32_t avoiding;
	if (!nsc_range_part(from, nsc_dest_port(d->dest), above, &avoiding) ||
	    !nsc_set_socket_range(d->fd, avoiding))
		return false;
	*ret = nsc_dial_once(rt, d);
	*err = errno;
	nsc_set_socket_range(d->fd, own);
	return true;
}
