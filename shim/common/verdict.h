/* Pure decisions: no system calls, no global state, unit-tested directly. */
#ifndef NOSELFCONN_VERDICT_H
#define NOSELFCONN_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An inclusive range of ports, as in ip_local_port_range. */
struct nsc_port_range {
	uint16_t low;
	uint16_t high;
};

/* The kernel's default ip_local_port_range. */
#define NSC_DEFAULT_RANGE ((struct nsc_port_range){ 32768, 60999 })
/* Every port: where the namespace's range is unknown, any port may be chosen. */
#define NSC_ANY_PORT ((struct nsc_port_range){ 1, 65535 })

enum nsc_verdict {
	NSC_PASS,  /* cannot self-connect: straight to libc, no extra call */
	NSC_GUARD, /* TCP/IP dial to an ephemeral port: may meet itself */
};

/*
 * Whether a dial to `addr` may end connected to itself: an INET or INET6
 * address of a length the kernel accepts, whose port lies in `range`.
 * Anything malformed passes, so libc gives its own answer.
 */
enum nsc_verdict nsc_dial_verdict(const struct sockaddr *addr, socklen_t len,
				  struct nsc_port_range range);

/* The destination port of an address nsc_dial_verdict() guarded. */
uint16_t nsc_dest_port(const struct sockaddr *addr);

/*
 * Whether `local` (getsockname() right after the dial) is the very endpoint
 * the kernel dialed for `dest`. Unspecified destinations are resolved the
 * way Linux does: 0.0.0.0 means the source address itself, :: means ::1.
 */
bool nsc_is_self_connection(const struct sockaddr *dest, socklen_t dest_len,
			    const struct sockaddr *local, socklen_t local_len);

/*
 * The range the kernel really draws from for a socket: the namespace range
 * narrowed by the socket's own IP_LOCAL_PORT_RANGE value (0 = none), bound
 * by bound, exactly as inet_sk_get_local_port_range() does.
 */
struct nsc_port_range nsc_effective_range(struct nsc_port_range netns,
					  uint32_t socket_range);

/*
 * The part of `range` above (or below) `target`, encoded as an
 * IP_LOCAL_PORT_RANGE value; all of `range` if `target` lies outside it.
 * False when that part is empty.
 */
bool nsc_range_part(struct nsc_port_range range, uint16_t target, bool above,
		    uint32_t *socket_range);

/* Whether the part above `target` is at least as wide as the part below. */
bool nsc_wider_above(struct nsc_port_range range, uint16_t target);

/*
 * The widest part of `range` left when `target` is cut out, encoded as an
 * IP_LOCAL_PORT_RANGE value. False when no other port remains.
 */
bool nsc_range_without(struct nsc_port_range range, uint16_t target,
		       uint32_t *socket_range);

/* Whether a socket of this protocol (SO_PROTOCOL) can meet itself: TCP, MPTCP. */
bool nsc_is_tcp_protocol(int protocol);

/* "low<blank>high" as in /proc/sys/net/ipv4/ip_local_port_range. */
bool nsc_parse_port_range(const char *text, size_t len,
			  struct nsc_port_range *out);


#endif
