/* Unit tests of the supervisor's listener lookup (shim/cmd/supervise/listener.c):
 * the NETLINK_SOCK_DIAG request it makes and how it reads the answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "supervise.h"

/* listener.c's caller in netns_range.c, not linked here. */
bool nsc_listener_holds(uint64_t netns, const struct sockaddr *dest)
{
	(void)netns;
	(void)dest;
	return false;
}

static struct sockaddr_storage endpoint(const char *address, uint16_t port)
{
	struct sockaddr_storage s;
	memset(&s, 0, sizeof(s));
	struct sockaddr_in *in = (struct sockaddr_in *)&s;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s;
	if (inet_pton(AF_INET, address, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	}
	return s;
}

/* The request for ADDRESS:port: where its source and destination point. */
static bool asks_for(const char *address, uint16_t port, int family, const char *looked_up)
{
	struct sockaddr_storage dest = endpoint(address, port), want = endpoint(looked_up, 0);
	struct nsc_listener_request r;
	nsc_listener_request((struct sockaddr *)&dest, 7, &r);
	const void *addr = want.ss_family == AF_INET ? (const void *)&((struct sockaddr_in *)&want)->sin_addr
						      : (const void *)&((struct sockaddr_in6 *)&want)->sin6_addr;
	size_t len = want.ss_family == AF_INET ? 4 : 16;
	return r.diag.sdiag_family == family && r.diag.id.idiag_sport == htons(port) &&
	       r.diag.id.idiag_dport == 0 && memcmp(r.diag.id.idiag_src, addr, len) == 0 &&
	       memcmp(r.diag.id.idiag_dst, addr, len) == 0;
}

static void test_request(void)
{
	struct sockaddr_storage dest = endpoint("127.0.0.1", 50004);
	struct nsc_listener_request r;
	nsc_listener_request((struct sockaddr *)&dest, 42, &r);
	CHECK_EQ(r.header.nlmsg_len, sizeof(r));
	CHECK_EQ(r.header.nlmsg_type, SOCK_DIAG_BY_FAMILY);
	CHECK_EQ(r.header.nlmsg_flags, NLM_F_REQUEST); /* one lookup, not a dump */
	CHECK_EQ(r.header.nlmsg_seq, 42);
	CHECK_EQ(r.diag.sdiag_protocol, IPPROTO_TCP);
	CHECK_EQ(r.diag.idiag_states, 1U << TCP_LISTEN);
	CHECK_EQ(r.diag.id.idiag_if, 0);
	CHECK(r.diag.id.idiag_cookie[0] == INET_DIAG_NOCOOKIE && r.diag.id.idiag_cookie[1] == INET_DIAG_NOCOOKIE);

	CHECK(asks_for("127.0.0.1", 50004, AF_INET, "127.0.0.1"));
	CHECK(asks_for("10.99.0.1", 1, AF_INET, "10.99.0.1"));
	CHECK(asks_for("::1", 65535, AF_INET6, "::1"));
	CHECK(asks_for("fd00::1", 50004, AF_INET6, "fd00::1"));
	/* v4-mapped on both ends: the kernel looks it up as IPv4 */
	CHECK(asks_for("::ffff:10.99.0.1", 50004, AF_INET6, "::ffff:10.99.0.1"));
	/* the unspecified address is dialed on loopback */
	CHECK(asks_for("0.0.0.0", 50004, AF_INET, "127.0.0.1"));
	CHECK(asks_for("::", 50004, AF_INET6, "::1"));
	CHECK(asks_for("::ffff:0.0.0.0", 50004, AF_INET6, "::ffff:127.0.0.1"));
}

union reply {
	struct nlmsghdr header;
	char bytes[256];
};

static size_t answer(union reply *r, uint32_t seq, uint8_t state, uint16_t port, uint32_t ifindex)
{
	memset(r, 0, sizeof(*r));
	struct inet_diag_msg *m = NLMSG_DATA(&r->header);
	r->header.nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	r->header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	r->header.nlmsg_seq = seq;
	m->idiag_family = AF_INET;
	m->idiag_state = state;
	m->id.idiag_sport = htons(port);
	m->id.idiag_if = ifindex;
	return r->header.nlmsg_len;
}

static void test_reply(void)
{
	union reply r;
	size_t len = answer(&r, 9, TCP_LISTEN, 50004, 0);
	CHECK(nsc_listener_reply(&r, len, 9, 50004));
	CHECK(!nsc_listener_reply(&r, len, 8, 50004));		  /* another request's */
	CHECK(!nsc_listener_reply(&r, len, 9, 50005));		  /* another port (BPF sk_lookup) */
	CHECK(!nsc_listener_reply(&r, len - 1, 9, 50004));	  /* cut short */
	CHECK(!nsc_listener_reply(&r, sizeof(r.header) - 1, 9, 50004));
	len = answer(&r, 9, TCP_ESTABLISHED, 50004, 0);
	CHECK(!nsc_listener_reply(&r, len, 9, 50004));		  /* not a listener */
	len = answer(&r, 9, TCP_LISTEN, 50004, 3);
	CHECK(!nsc_listener_reply(&r, len, 9, 50004));		  /* bound to a device */
	len = answer(&r, 9, TCP_LISTEN, 50004, 0);
	r.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct inet_diag_msg) - 1);
	CHECK(!nsc_listener_reply(&r, len, 9, 50004));		  /* too short for its message */

	/* None found: the kernel's error, ENOENT */
	memset(&r, 0, sizeof(r));
	struct nlmsgerr *e = NLMSG_DATA(&r.header);
	r.header.nlmsg_len = NLMSG_LENGTH(sizeof(*e));
	r.header.nlmsg_type = NLMSG_ERROR;
	r.header.nlmsg_seq = 9;
	e->error = -ENOENT;
	CHECK(!nsc_listener_reply(&r, r.header.nlmsg_len, 9, 50004));
}

int main(void)
{
	test_request();
	test_reply();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
