/* Pure decisions: see verdict.h. Nothing here may make a system call. */
#include "verdict.h"

#include <netinet/in.h>
#include <string.h>

#include "compat.h"

/* The shortest INET6 address connect() takes (without sin6_scope_id). */
#define SIN6_LEN_RFC2133 24

static bool is_inet4(const struct sockaddr *addr, socklen_t len)
{
	return addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in);
}

static bool is_inet6(const struct sockaddr *addr, socklen_t len)
{
	return addr->sa_family == AF_INET6 && len >= SIN6_LEN_RFC2133;
}

enum nsc_verdict nsc_dial_verdict(const struct sockaddr *addr, socklen_t len,
				  struct nsc_port_range range)
{
	/* Longer than the kernel copies in: libc fails with EINVAL. */
	if (addr == NULL || len > sizeof(struct sockaddr_storage))
		return NSC_PASS;
	if (len < sizeof(addr->sa_family))
		return NSC_PASS;
	if (!is_inet4(addr, len) && !is_inet6(addr, len))
		return NSC_PASS;
	uint16_t port = nsc_dest_port(addr);
	if (port == 0 || port < range.low || port > range.high)
		return NSC_PASS;
	return NSC_GUARD;
}

uint16_t nsc_dest_port(const struct sockaddr *addr)
{
	in_port_t port;
	/* sin_port and sin6_port sit at the same offset; memcpy avoids
	 * assuming the caller's buffer is aligned for either struct. */
	memcpy(&port, (const char *)addr + offsetof(struct sockaddr_in, sin_port),
	       sizeof(port));
	return ntohs(port);
}

static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4mapped(const unsigned char a[16])
{
	return memcmp(a, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

static bool is_all_zero(const unsigned char *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != 0)
			return false;
	return true;
}

static bool self_inet4(const struct sockaddr_in *dest, const struct sockaddr_in *local)
{
	/* Linux dials 0.0.0.0 as "this host": the destination becomes the
	 * source address the route picked, so only the ports can differ. */
	if (dest->sin_addr.s_addr == htonl(INADDR_ANY))
		return true;
	return dest->sin_addr.s_addr == local->sin_addr.s_addr;
}

static bool self_inet6(const struct sockaddr_in6 *dest, const struct sockaddr_in6 *local)
{
	const unsigned char *d = dest->sin6_addr.s6_addr;
	const unsigned char *l = local->sin6_addr.s6_addr;

	if (is_all_zero(d, 16)) {
		/* tcp_v6_connect() turns :: into ::1, or into ::ffff:127.0.0.1
		 * on a socket bound to a v4-mapped address. */
		unsigned char loopback[16] = { 0 };
		if (is_v4mapped(l)) {
			memcpy(loopback, v4mapped_prefix, sizeof(v4mapped_prefix));
			loopback[12] = 127;
		}
		loopback[15] = 1;
		return memcmp(l, loopback, 16) == 0;
	}
	/* ::ffff:0.0.0.0 goes down the IPv4 path, where 0.0.0.0 is "this host". */
	if (is_v4mapped(d) && is_all_zero(d + 12, 4))
		return is_v4mapped(l);
	return memcmp(d, l, 16) == 0;
}

bool nsc_is_self_connection(const struct sockaddr *dest, socklen_t dest_len,
			    const struct sockaddr *local, socklen_t local_len)
{
	if (nsc_dial_verdict(dest, dest_len, NSC_ANY_PORT) != NSC_GUARD)
		return false;
	/* Same shape checks as for the destination, before reading a byte. */
	if (nsc_dial_verdict(local, local_len, NSC_ANY_PORT) != NSC_GUARD ||
	    local->sa_family != dest->sa_family)
		return false;
	if (nsc_dest_port(local) != nsc_dest_port(dest))
		return false;

	if (dest->sa_family == AF_INET) {
		struct sockaddr_in d, l;
		memcpy(&d, dest, sizeof(d));
		memcpy(&l, local, sizeof(l));
		return self_inet4(&d, &l);
	}
	struct sockaddr_in6 d, l;
	memset(&d, 0, sizeof(d));
	memset(&l, 0, sizeof(l));
	memcpy(&d, dest, SIN6_LEN_RFC2133);
	memcpy(&l, local, SIN6_LEN_RFC2133);
	return self_inet6(&d, &l);
}

struct nsc_port_range nsc_effective_range(struct nsc_port_range netns,
					  uint32_t socket_range)
{
	struct nsc_port_range r = netns;
	if (socket_range == 0)
		return r;
	uint16_t lo = socket_range & 0xffff;
	uint16_t hi = (uint16_t)(socket_range >> 16);
	/* Each bound applies only where it lies inside the namespace range. */
	if (netns.low <= lo && lo <= netns.high)
		r.low = lo;
	if (netns.low <= hi && hi <= netns.high)
		r.high = hi;
	return r;
}

bool nsc_range_part(struct nsc_port_range range, uint16_t target, bool above,
		    uint32_t *socket_range)
{
	uint16_t lo = range.low, hi = range.high;
	if (lo > hi)
		return false;
	if (lo <= target && target <= hi) {
		if (above && target == hi)
			return false;
		if (!above && target == lo)
			return false;
		if (above)
			lo = (uint16_t)(target + 1);
		else
			hi = (uint16_t)(target - 1);
	}
	*socket_range = (uint32_t)hi << 16 | lo;
	return true;
}

bool nsc_wider_above(struct nsc_port_range range, uint16_t target)
{
	if (target < range.low || target > range.high)
		return true;
	return range.high - target >= target - range.low;
}

bool nsc_range_without(struct nsc_port_range range, uint16_t target,
		       uint32_t *socket_range)
{
	return nsc_range_part(range, target, nsc_wider_above(range, target), socket_range);
}

bool nsc_is_tcp_protocol(int protocol)
{
	/* An MPTCP socket dials its first subflow exactly like TCP. */
	return protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP;
}

/* Checked decimal: digits only, no sign, no overflow past 65535. */
static const char *parse_port(const char *p, const char *end, uint16_t *out)
{
	unsigned long value = 0;
	const char *start = p;
	while (p < end && *p >= '0' && *p <= '9') {
		value = value * 10 + (unsigned long)(*p - '0');
		if (value > 65535)
			return NULL;
		p++;
	}
	if (p == start)
		return NULL;
	*out = (uint16_t)value;
	return p;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
		p++;
	return p;
}

bool nsc_parse_port_range(const char *text, size_t len, struct nsc_port_range *out)
{
	if (text == NULL)
		return false;
	const char *end = text + len;
	struct nsc_port_range r;
	const char *p = parse_port(skip_blanks(text, end), end, &r.low);
	if (p == NULL || p == end || (*p != ' ' && *p != '\t'))
		return false;
	p = parse_port(skip_blanks(p, end), end, &r.high);
	if (p == NULL || skip_blanks(p, end) != end)
		return false;
	if (r.low == 0 || r.low > r.high)
		return false;
	*out = r;
	return true;
}
