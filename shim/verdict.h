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

/* The kernel's default ip_local_port_range, used when the file can't be read. */
#define NSC_DEFAULT_RANGE ((struct nsc_port_range){ 32768, 60999 })

enum nsc_verdict {
	NSC_PASS,  /* cannot self-connect: straight to libc, no extra call */
	NSC_GUARD, /* TCP/IP dial to an ephemeral port: may meet itself */
};

enum nsc_mode {
	NSC_MODE_CHECK,   /* dial, then refuse a self-connection (default) */
	NSC_MODE_PREBIND, /* keep the target out of the kernel's choice first */
	NSC_MODE_OFF,     /* pass everything through */
};

enum nsc_log {
	NSC_LOG_OFF,
	NSC_LOG_STDERR,
	NSC_LOG_SYSLOG,
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
 * The widest part of `range` left when `target` is cut out, encoded as an
 * IP_LOCAL_PORT_RANGE value. False when no other port remains.
 */
bool nsc_range_without(struct nsc_port_range range, uint16_t target,
		       uint32_t *socket_range);

/* "low<blank>high" as in /proc/sys/net/ipv4/ip_local_port_range. */
bool nsc_parse_port_range(const char *text, size_t len,
			  struct nsc_port_range *out);

/* NOSELFCONN_MODE: "check", "prebind" or "off". */
bool nsc_parse_mode(const char *text, enum nsc_mode *out);

/* NOSELFCONN_LOG: "0"/"off"/"" is off, "1"/"on"/"stderr", "syslog". */
bool nsc_parse_log(const char *text, enum nsc_log *out);

#endif
