/*
 * Mode check (dial.h): dial as the program asked, look once where the
 * kernel put the socket's end, undo a self-connection and answer as any
 * other source port would have. What needs settling is settled under a
 * claim on the socket (claim.h); shim/doc/design-preload.md says why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "claim.h"
#include "dial.h"
#include "report.h"
#include "tcpsock.h"

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
		if (!nsc_dial_on_side(rt, d, from, above, own, &ret, &err))
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
ssize_t nsc_dial_and_look(const struct nsc_runtime *rt, struct dial *d, unsigned own_claims)
{
	unsigned claims_before = nsc_claims_taken();
	ssize_t ret = nsc_dial_once(rt, d);
	int err = errno;
	struct nsc_port_range range;
	bool known;
	if (!port_was_chosen(ret, err) && err != EISCONN && !torn_down(ret, err)) {
		errno = err;
		return ret;
	}
	nsc_read_destination(d);
	if (!nsc_is_guarded(d, &range, &known)) {
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
