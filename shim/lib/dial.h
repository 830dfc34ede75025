/*
 * A dial: one call that may open a connection (connect(), or a send with
 * MSG_FASTOPEN), and what the library does with it, layer by layer. The
 * hooks (guard.c) pack their arguments and forward; guard() decides the
 * mode; mode check is nsc_dial_checked() (fastopen.c: the large Fast Open
 * send split where it could hang), then nsc_dial_and_look() (look.c: the
 * look, and settling under a claim); libc is reached only through the
 * runtime's libc_* pointers (nsc_dial_once() here). Nothing leaves the
 * library but the hooks (exports.map.in, -fvisibility=hidden).
 * Async-signal-safe, every one of them.
 */
#ifndef NOSELFCONN_DIAL_H
#define NOSELFCONN_DIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "runtime.h"
#include "verdict.h"

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
	 * nsc_read_destination(). */
	const struct sockaddr *dest;
	socklen_t dest_len;
};


/* The call made once, as the program made it, through libc. */
ssize_t nsc_dial_once(const struct nsc_runtime *rt, const struct dial *d);

/* Whether the call may open a connection at all. */
bool nsc_may_dial(const struct dial *d);

/* Sets d->dest and d->dest_len from the call's arguments. */
void nsc_read_destination(struct dial *d);

/* Whether d->dest is a TCP/IP destination whose port the kernel might pick
 * as the socket's own; *range and *known: the namespace's range, read. */
bool nsc_is_guarded(const struct dial *d, struct nsc_port_range *range, bool *known);

/*
 * The dial made with the socket's range narrowed to one side of the target
 * (the part of `from` above or below it), then `own` put back. False,
 * nothing dialed, where that side is empty or the kernel lacks the option.
 */
bool nsc_dial_on_side(const struct nsc_runtime *rt, const struct dial *d,
		      struct nsc_port_range from, bool above, uint32_t own, ssize_t *ret, int *err);

/*
 * Mode check: dial, look, settle what needs it (look.c). `own_claims`: the
 * claims the caller itself holds on the socket (1 in prebind's fall-back),
 * which are no sign of another dial.
 */
ssize_t nsc_dial_and_look(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims);

/* Mode check, a large blocking Fast Open send split first (fastopen.c). */
ssize_t nsc_dial_checked(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims);

#endif
