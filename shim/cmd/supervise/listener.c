/*
 * noselfconn --supervise, whether a TCP listener holds a dial's target port.
 * The kernel never gives a dial a port some socket bind()-ed, a listener's
 * included, so a dial to where a listener listens cannot meet itself and
 * keeps the whole range. Asked of the kernel in the socket's own network
 * namespace (NETLINK_SOCK_DIAG): one exact lookup, not a dump. Without
 * NLM_F_DUMP, inet_diag finds the one socket a segment from idiag_dst to
 * idiag_src would reach (inet_diag_find_one_icsk): a source port 0 matches
 * no connection, so only the listener a SYN to the destination would meet
 * is found: on its address or the wildcard, IPv4 or IPv6, dual-stack and
 * v4-mapped as the kernel matches them. Anything else is "no". A "no" is
 * kept a millisecond (a retry loop against a closed port asks once per
 * millisecond); a "yes" never is (a listener may close at any time).
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Where the kernel sends a dial to the unspecified address: loopback. */
static void address_dialed(const struct sockaddr *dest, __be32 out[4])
{
	static const struct in6_addr loopback6 = IN6ADDR_LOOPBACK_INIT;
	memset(out, 0, 4 * sizeof(out[0]));
	if (dest->sa_family == AF_INET) {
		out[0] = ((const struct sockaddr_in *)dest)->sin_addr.s_addr;
		if (out[0] == htonl(INADDR_ANY))
			out[0] = htonl(INADDR_LOOPBACK);
		return;
	}
	struct in6_addr a = ((const struct sockaddr_in6 *)dest)->sin6_addr;
	if (IN6_IS_ADDR_UNSPECIFIED(&a))
		a = loopback6;
	else if (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr32[3] == htonl(INADDR_ANY))
		a.s6_addr32[3] = htonl(INADDR_LOOPBACK);
	memcpy(out, &a, sizeof(a));
}

void nsc_listener_request(const struct sockaddr *dest, uint32_t seq, struct nsc_listener_request *req)
{
	memset(req, 0, sizeof(*req));
	req->header.nlmsg_len = sizeof(*req);
	req->header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req->header.nlmsg_flags = NLM_F_REQUEST;
	req->header.nlmsg_seq = seq;
	req->diag.sdiag_family = (__u8)dest->sa_family;
	req->diag.sdiag_protocol = IPPROTO_TCP;
	req->diag.idiag_states = 1U << TCP_LISTEN;
	/* The SYN's destination, and as its source the same address (so a
	 * v4-mapped one is looked up as IPv4) with port 0. */
	req->diag.id.idiag_sport = htons(nsc_dest_port(dest));
	address_dialed(dest, req->diag.id.idiag_src);
	memcpy(req->diag.id.idiag_dst, req->diag.id.idiag_src, sizeof(req->diag.id.idiag_dst));
	req->diag.id.idiag_cookie[0] = req->diag.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

bool nsc_listener_reply(const void *reply, size_t len, uint32_t seq, uint16_t port)
{
	const struct nlmsghdr *h = reply;
	if (len < sizeof(*h) || h->nlmsg_len > len || h->nlmsg_seq != seq || h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return false; /* ENOENT (none), another error, or not ours */
	const struct inet_diag_msg *m = (const void *)((const char *)reply + NLMSG_HDRLEN);
	/* The port itself (a BPF sk_lookup program may answer with a socket
	 * on another), bound to no device (a device's VRF would be another
	 * bind bucket, which the kernel's port choice does not look at). */
	return m->idiag_state == TCP_LISTEN && m->id.idiag_sport == htons(port) && m->id.idiag_if == 0;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t); /* the vDSO's: no system call */
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Whether the request's destination was found with no listener lately. */
static bool missed_lately(struct nsc_listener_misses *misses, const struct nsc_listener_request *req,
			  long long now)
{
	for (unsigned i = 0; i < NSC_LISTENER_MISSES; i++)
		if (now - misses->at_ns[i] < NSC_LISTENER_MISS_NS &&
		    memcmp(&misses->id[i], &req->diag.id, sizeof(req->diag.id)) == 0 &&
		    misses->family[i] == req->diag.sdiag_family)
			return true;
	return false;
}

static void note_miss(struct nsc_listener_misses *misses, const struct nsc_listener_request *req, long long now)
{
	unsigned i = misses->next++ % NSC_LISTENER_MISSES;
	misses->id[i] = req->diag.id;
	misses->family[i] = req->diag.sdiag_family;
	misses->at_ns[i] = now;
}

/* The kernel's answer to `req`, sent on `diag`; false where there is none. */
static bool answer_of(int diag, const struct nsc_listener_request *req, uint16_t port, bool *answered)
{
	*answered = false;
	if (send(diag, req, sizeof(*req), 0) != (ssize_t)sizeof(*req))
		return false;
	/* The kernel answers within send(): what is not there now never comes.
	 * An answer left from an earlier request (its seq) is passed over. */
	for (int tries = 0; tries < 8; tries++) {
		alignas(struct nlmsghdr) char reply[1024];
		const struct nlmsghdr *header = (const struct nlmsghdr *)reply;
		struct sockaddr_nl from = { .nl_pid = ~0U }; /* the kernel's is 0 */
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(diag, reply, sizeof(reply), MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
		if (n < (ssize_t)sizeof(*header))
			return false;
		if (from_len != sizeof(from) || from.nl_pid != 0)
			continue; /* not the kernel's */
		if (header->nlmsg_seq == req->header.nlmsg_seq) {
			*answered = true;
			return nsc_listener_reply(reply, (size_t)n, req->header.nlmsg_seq, port);
		}
	}
	return false;
}

bool nsc_ask_listener(int diag, struct nsc_listener_misses *misses, const struct sockaddr *dest, uint32_t seq)
{
	struct nsc_listener_request req;
	nsc_listener_request(dest, seq, &req);
	long long now = now_ns();
	if (missed_lately(misses, &req, now))
		return false;
	bool answered, holds = answer_of(diag, &req, nsc_dest_port(dest), &answered);
	if (answered && !holds)
		note_miss(misses, &req, now);
	return holds;
}

/*
 * Whether the kernel's choice of a port for `sock` looks at the bind bucket
 * of a listener bound to no device: it does unless the socket is bound to a
 * device (a VRF's is a bucket apart). Unknown counts as bound.
 */
static bool bound_to_device(int sock)
{
	int ifindex = -1;
	socklen_t len = sizeof(ifindex);
	return getsockopt(sock, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, &len) != 0 || ifindex != 0;
}

bool nsc_port_held(int sock, uint64_t netns, const struct sockaddr *dest)
{
	return nsc_listener_holds(netns, dest) && !bound_to_device(sock);
}
