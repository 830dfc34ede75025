/* Pure helpers for the audit: /proc/net/tcp{,6} lines and port sets. */
#ifndef NOSELFCONN_PROCNET_H
#define NOSELFCONN_PROCNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSC_TCP_ESTABLISHED 0x01
#define NSC_TCP_TIME_WAIT 0x06
#define NSC_TCP_LISTEN 0x0A

/* One socket from /proc/net/tcp or /proc/net/tcp6. */
struct nsc_tcp_socket {
	int family;		   /* AF_INET or AF_INET6 */
	unsigned char local[16];   /* network order; IPv4 in the first 4 bytes */
	unsigned char remote[16];
	uint16_t local_port;
	uint16_t remote_port;
	unsigned state;
	unsigned long uid; /* the socket's owner, as the reader's user namespace sees it */
	unsigned long inode;
};

/* Parses one line of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6). */
bool nsc_parse_tcp_line(const char *line, int family, struct nsc_tcp_socket *out);

/* Whether both ends are the same address and port. */
bool nsc_tcp_is_self(const struct nsc_tcp_socket *s);

/* The kernel's name of a TCP state ("ESTABLISHED"...). */
const char *nsc_tcp_state_name(unsigned state);

/* "a.b.c.d" or an RFC 5952 IPv6 text; `size` of at least 46. */
void nsc_format_address(int family, const unsigned char addr[16], char *text, size_t size);

/* A set of ports, one bit each. */
struct nsc_port_set {
	uint8_t bits[65536 / 8];
};

void nsc_port_set_add(struct nsc_port_set *set, unsigned port);
bool nsc_port_set_has(const struct nsc_port_set *set, unsigned port);

/* Adds "8080,9000-9010" (ip_local_reserved_ports) to the set; false on garbage. */
bool nsc_port_set_parse(struct nsc_port_set *set, const char *text);

/* How many ports of low..high the set holds. */
unsigned nsc_port_set_count(const struct nsc_port_set *set, unsigned low, unsigned high);

/*
 * The set as ip_local_reserved_ports wants it, ranges joined: "8080,9000-9010".
 * As snprintf: writes at most `size` bytes (NUL-terminated when size > 0) and
 * returns the length of the whole text, so a caller whose buffer was too
 * small (or NULL, 0) learns the size to allocate. Never silently truncated.
 */
size_t nsc_port_set_format(const struct nsc_port_set *set, char *text, size_t size);

/*
 * `in` as the body of a JSON string (no quotes), pure ASCII: '"', '\\' and
 * control characters escaped, every other character outside ASCII written
 * as \uXXXX (a surrogate pair above U+FFFF), and each byte that is not part
 * of valid UTF-8 (overlong, surrogate, above U+10FFFF, truncated) replaced
 * by \ufffd, as Go's encoding/json does. The output is valid UTF-8 and
 * carries no terminal sequence. Returns, as snprintf, the whole length.
 */
size_t nsc_json_escape(char *out, size_t size, const char *in, size_t len);

/*
 * The first number of a field of /proc/PID/status, from its text: "Uid"
 * gives the real uid ("Uid:\t1000\t..."), "Tgid" the thread group.
 */
bool nsc_parse_status_field(const char *status, const char *field, unsigned long *value);

/* Whether a line of /proc/PID/maps maps a file named libnoselfconn.so
 * (also when the file was replaced or deleted since). */
bool nsc_maps_line_is_library(const char *line);

#endif
