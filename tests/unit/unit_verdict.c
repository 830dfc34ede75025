/* Unit tests of the pure decisions in shim/common/verdict.c and settings.c: no sockets, no kernel. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "settings.h"
#include "verdict.h"

static const struct nsc_port_range narrow = { 50000, 50010 };

static struct sockaddr_in v4(const char *text, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, text, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 v6(const char *text, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	inet_pton(AF_INET6, text, &a.sin6_addr);
	return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_verdict(void)
{
	struct sockaddr_in in = v4("127.0.0.1", 50000);
	struct sockaddr_in6 in6 = v6("::1", 50000);

	CHECK(nsc_dial_verdict(SA(in), sizeof(in), narrow) == NSC_GUARD);
	CHECK(nsc_dial_verdict(SA(in6), sizeof(in6), narrow) == NSC_GUARD);
	CHECK(nsc_dial_verdict(SA(in6), 24, narrow) == NSC_GUARD); /* RFC 2133 length */
	CHECK(nsc_dial_verdict(SA(in6), 23, narrow) == NSC_PASS);
	CHECK(nsc_dial_verdict(NULL, sizeof(in), narrow) == NSC_PASS);
	CHECK(nsc_dial_verdict(SA(in), 0, narrow) == NSC_PASS);
	CHECK(nsc_dial_verdict(SA(in), 1, narrow) == NSC_PASS);
	CHECK(nsc_dial_verdict(SA(in), sizeof(in) - 1, narrow) == NSC_PASS);
	CHECK(nsc_dial_verdict(SA(in), sizeof(struct sockaddr_storage) + 1, narrow) == NSC_PASS);

	/* Range bounds are inclusive; port 0 never dials anything of ours. */
	CHECK(nsc_dial_verdict(SA(in), sizeof(in), (struct nsc_port_range){ 50000, 50000 }) == NSC_GUARD);
	struct sockaddr_in edge = v4("127.0.0.1", 50010);
	CHECK(nsc_dial_verdict(SA(edge), sizeof(edge), narrow) == NSC_GUARD);
	struct sockaddr_in above = v4("127.0.0.1", 50011), below = v4("127.0.0.1", 49999);
	CHECK(nsc_dial_verdict(SA(above), sizeof(above), narrow) == NSC_PASS);
	CHECK(nsc_dial_verdict(SA(below), sizeof(below), narrow) == NSC_PASS);
	struct sockaddr_in zero = v4("127.0.0.1", 0);
	CHECK(nsc_dial_verdict(SA(zero), sizeof(zero), (struct nsc_port_range){ 0, 65535 }) == NSC_PASS);

	struct sockaddr other = { .sa_family = AF_UNIX };
	CHECK(nsc_dial_verdict(&other, sizeof(in), narrow) == NSC_PASS);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	CHECK(nsc_dial_verdict(&unspec, sizeof(in), narrow) == NSC_PASS);
	CHECK(nsc_dest_port(SA(in6)) == 50000);
}

static void test_self_connection(void)
{
	struct sockaddr_in d = v4("127.0.0.1", 50000), same = v4("127.0.0.1", 50000);
	struct sockaddr_in other_port = v4("127.0.0.1", 50002), lo2 = v4("127.0.0.2", 50000);
	CHECK(nsc_is_self_connection(SA(d), sizeof(d), SA(same), sizeof(same)));
	CHECK(!nsc_is_self_connection(SA(d), sizeof(d), SA(other_port), sizeof(other_port)));
	/* 127.0.0.2 is dialed from 127.0.0.1: never itself. */
	struct sockaddr_in d2 = v4("127.0.0.2", 50000);
	CHECK(!nsc_is_self_connection(SA(d2), sizeof(d2), SA(same), sizeof(same)));
	CHECK(nsc_is_self_connection(SA(d2), sizeof(d2), SA(lo2), sizeof(lo2)));

	/* 0.0.0.0 is this host: the source address is the destination. */
	struct sockaddr_in any = v4("0.0.0.0", 50000), host = v4("10.99.0.1", 50000);
	CHECK(nsc_is_self_connection(SA(any), sizeof(any), SA(same), sizeof(same)));
	CHECK(nsc_is_self_connection(SA(any), sizeof(any), SA(host), sizeof(host)));
	CHECK(!nsc_is_self_connection(SA(any), sizeof(any), SA(other_port), sizeof(other_port)));

	struct sockaddr_in6 d6 = v6("::1", 50000), l6 = v6("::1", 50000), l6b = v6("::1", 50004);
	CHECK(nsc_is_self_connection(SA(d6), sizeof(d6), SA(l6), sizeof(l6)));
	CHECK(!nsc_is_self_connection(SA(d6), sizeof(d6), SA(l6b), sizeof(l6b)));
	CHECK(nsc_is_self_connection(SA(d6), 24, SA(l6), sizeof(l6)));

	/* :: is ::1, or ::ffff:127.0.0.1 on a v4-mapped socket. */
	struct sockaddr_in6 any6 = v6("::", 50000), host6 = v6("fd00::1", 50000);
	struct sockaddr_in6 mapped_lo = v6("::ffff:127.0.0.1", 50000);
	CHECK(nsc_is_self_connection(SA(any6), sizeof(any6), SA(l6), sizeof(l6)));
	CHECK(!nsc_is_self_connection(SA(any6), sizeof(any6), SA(host6), sizeof(host6)));
	CHECK(nsc_is_self_connection(SA(any6), sizeof(any6), SA(mapped_lo), sizeof(mapped_lo)));
	CHECK(nsc_is_self_connection(SA(mapped_lo), sizeof(mapped_lo), SA(mapped_lo), sizeof(mapped_lo)));
	CHECK(nsc_is_self_connection(SA(host6), sizeof(host6), SA(host6), sizeof(host6)));

	/* ::ffff:0.0.0.0 takes the IPv4 path: any v4-mapped source is itself. */
	struct sockaddr_in6 mapped_any = v6("::ffff:0.0.0.0", 50000);
	struct sockaddr_in6 mapped_host = v6("::ffff:10.99.0.1", 50000);
	CHECK(nsc_is_self_connection(SA(mapped_any), sizeof(mapped_any), SA(mapped_host), sizeof(mapped_host)));
	CHECK(!nsc_is_self_connection(SA(mapped_any), sizeof(mapped_any), SA(l6), sizeof(l6)));

	/* Mismatched or malformed names are never a self-connection. */
	CHECK(!nsc_is_self_connection(SA(d), sizeof(d), SA(l6), sizeof(l6)));
	CHECK(!nsc_is_self_connection(SA(d), sizeof(d), NULL, 0));
	CHECK(!nsc_is_self_connection(SA(d), sizeof(d), SA(same), 4));
	CHECK(!nsc_is_self_connection(NULL, 0, SA(same), sizeof(same)));
}

static void test_ranges(void)
{
	uint32_t r;
	CHECK(nsc_range_without(narrow, 50000, &r));
	CHECK_EQ(r, (50010u << 16 | 50001));
	CHECK(nsc_range_without(narrow, 50010, &r));
	CHECK_EQ(r, (50009u << 16 | 50000));
	CHECK(nsc_range_without(narrow, 50004, &r));
	CHECK_EQ(r, (50010u << 16 | 50005));
	CHECK(nsc_range_without(narrow, 50007, &r));
	CHECK_EQ(r, (50006u << 16 | 50000));
	CHECK(nsc_range_without(narrow, 40000, &r));
	CHECK_EQ(r, (50010u << 16 | 50000));
	CHECK(!nsc_range_without((struct nsc_port_range){ 50000, 50000 }, 50000, &r));
	CHECK(nsc_range_without((struct nsc_port_range){ 50000, 50001 }, 50000, &r));
	CHECK_EQ(r, (50001u << 16 | 50001));
	CHECK(!nsc_range_without((struct nsc_port_range){ 2, 1 }, 1, &r));
	CHECK(nsc_range_without((struct nsc_port_range){ 1, 65535 }, 65535, &r));
	CHECK_EQ(r, (65534u << 16 | 1));

	struct nsc_port_range e = nsc_effective_range(narrow, 0);
	CHECK(e.low == 50000 && e.high == 50010);
	e = nsc_effective_range(narrow, 50008u << 16 | 50002);
	CHECK(e.low == 50002 && e.high == 50008);
	e = nsc_effective_range(narrow, 60000u << 16 | 40000); /* outside: ignored */
	CHECK(e.low == 50000 && e.high == 50010);
}

static void test_parsing(void)
{
	struct nsc_port_range r = { 0, 0 };
	CHECK(nsc_parse_port_range("32768\t60999\n", 12, &r) && r.low == 32768 && r.high == 60999);
	CHECK(nsc_parse_port_range("50000 50010", 11, &r) && r.low == 50000 && r.high == 50010);
	CHECK(nsc_parse_port_range("5 5\n", 4, &r) && r.low == 5 && r.high == 5);
	CHECK(!nsc_parse_port_range("", 0, &r));
	CHECK(!nsc_parse_port_range("garbage\n", 8, &r));
	CHECK(!nsc_parse_port_range("60999 32768\n", 12, &r)); /* low > high */
	CHECK(!nsc_parse_port_range("0 100\n", 6, &r));
	CHECK(!nsc_parse_port_range("1 65536\n", 8, &r));
	CHECK(!nsc_parse_port_range("1 99999999999999999999\n", 23, &r));
	CHECK(!nsc_parse_port_range("-1 5\n", 5, &r));
	CHECK(!nsc_parse_port_range("100\n", 4, &r));
	CHECK(!nsc_parse_port_range("1 2 3\n", 6, &r));
	CHECK(!nsc_parse_port_range("1 2x\n", 5, &r));
	CHECK(!nsc_parse_port_range(NULL, 0, &r));
	/* Only `len` bytes count: a file read is not NUL-terminated. */
	CHECK(nsc_parse_port_range("7 9 junk", 3, &r) && r.low == 7 && r.high == 9);

	int v = -1;
	CHECK(nsc_parse_setting(NSC_SETTING_MODE, "check", &v));
	CHECK_EQ(v, NSC_MODE_CHECK);
	CHECK(nsc_parse_setting(NSC_SETTING_MODE, "prebind", &v));
	CHECK_EQ(v, NSC_MODE_PREBIND);
	CHECK(nsc_parse_setting(NSC_SETTING_MODE, "off", &v));
	CHECK_EQ(v, NSC_MODE_OFF);
	CHECK(nsc_parse_setting(NSC_SETTING_MODE, "", &v)); /* empty: the default */
	CHECK_EQ(v, NSC_MODE_CHECK);
	CHECK(!nsc_parse_setting(NSC_SETTING_MODE, "CHECK", &v));
	CHECK(!nsc_parse_setting(NSC_SETTING_MODE, NULL, &v));

	CHECK(nsc_parse_setting(NSC_SETTING_LOG, "1", &v));
	CHECK_EQ(v, NSC_LOG_STDERR);
	CHECK(nsc_parse_setting(NSC_SETTING_LOG, "stderr", &v));
	CHECK_EQ(v, NSC_LOG_STDERR);
	CHECK(nsc_parse_setting(NSC_SETTING_LOG, "syslog", &v));
	CHECK_EQ(v, NSC_LOG_SYSLOG);
	CHECK(nsc_parse_setting(NSC_SETTING_LOG, "0", &v));
	CHECK_EQ(v, NSC_LOG_OFF);
	CHECK(nsc_parse_setting(NSC_SETTING_LOG, "", &v));
	CHECK_EQ(v, NSC_LOG_OFF);
	CHECK(!nsc_parse_setting(NSC_SETTING_LOG, "2", &v));
	CHECK(!nsc_parse_setting(NSC_SETTING_LOG, "yes please", &v));
	CHECK(nsc_parse_setting(NSC_SETTING_FALLBACK, "none", &v));
	CHECK_EQ(v, NSC_FALLBACK_NONE);
}

static void test_protocols(void)
{
	CHECK(nsc_is_tcp_protocol(6));	   /* IPPROTO_TCP */
	CHECK(nsc_is_tcp_protocol(262));   /* IPPROTO_MPTCP */
	CHECK(!nsc_is_tcp_protocol(17));   /* IPPROTO_UDP */
	CHECK(!nsc_is_tcp_protocol(132));  /* IPPROTO_SCTP */
	CHECK(!nsc_is_tcp_protocol(0));
}

int main(void)
{
	test_verdict();
	test_self_connection();
	test_ranges();
	test_parsing();
	test_protocols();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
