/* Unit tests of the audit's pure helpers in shim/procnet.c. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "procnet.h"

static void test_lines(void)
{
	struct nsc_tcp_socket s;
	char text[64];
	const char *v4 = "   3: 0100007F:C350 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 20 4 30 10 -1\n";
	CHECK(nsc_parse_tcp_line(v4, AF_INET, &s));
	CHECK(s.local_port == 50000 && s.remote_port == 50000 && s.state == NSC_TCP_ESTABLISHED);
	CHECK(s.inode == 41234);
	nsc_format_address(AF_INET, s.local, text, sizeof(text));
	CHECK(strcmp(text, "127.0.0.1") == 0);
	CHECK(nsc_tcp_is_self(&s));

	const char *listen = "   0: 00000000:C354 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n";
	CHECK(nsc_parse_tcp_line(listen, AF_INET, &s) && s.state == NSC_TCP_LISTEN && s.local_port == 50004);
	CHECK(!nsc_tcp_is_self(&s));

	const char *other = "   1: 0100007F:C352 0100007F:C350 02 00000000:00000000 00:00000000 00000000     0        0 7 1\n";
	CHECK(nsc_parse_tcp_line(other, AF_INET, &s) && !nsc_tcp_is_self(&s));

	const char *v6 = "   0: 00000000000000000000000001000000:C350 00000000000000000000000001000000:C350 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 20 4 30 10 -1\n";
	CHECK(nsc_parse_tcp_line(v6, AF_INET6, &s) && nsc_tcp_is_self(&s) && s.inode == 5555);
	nsc_format_address(AF_INET6, s.local, text, sizeof(text));
	CHECK(strcmp(text, "::1") == 0);

	const char *header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
	CHECK(!nsc_parse_tcp_line(header, AF_INET, &s));
	CHECK(!nsc_parse_tcp_line(v6, AF_INET, &s)); /* a tcp6 line is not a tcp line */
	CHECK(!nsc_parse_tcp_line("   0: 0100007G:C350 0100007F:C350 01 0:0 0:0 0 0 0 1\n", AF_INET, &s));
	CHECK(strcmp(nsc_tcp_state_name(NSC_TCP_LISTEN), "LISTEN") == 0);
	CHECK(strcmp(nsc_tcp_state_name(99), "UNKNOWN") == 0);
}

static void test_port_sets(void)
{
	static struct nsc_port_set set;
	char text[256];
	CHECK(nsc_port_set_parse(&set, "\n"));
	nsc_port_set_format(&set, text, sizeof(text));
	CHECK(strcmp(text, "") == 0);
	CHECK(nsc_port_set_parse(&set, "8080,9000-9003\n"));
	nsc_port_set_add(&set, 9004);
	nsc_port_set_add(&set, 50004);
	nsc_port_set_add(&set, 1);
	nsc_port_set_add(&set, 65535);
	nsc_port_set_format(&set, text, sizeof(text));
	CHECK(strcmp(text, "1,8080,9000-9004,50004,65535") == 0);
	CHECK(nsc_port_set_has(&set, 9002) && !nsc_port_set_has(&set, 9005));

	static struct nsc_port_set bad;
	CHECK(!nsc_port_set_parse(&bad, "80,x"));
	CHECK(!nsc_port_set_parse(&bad, "90-80"));
	CHECK(!nsc_port_set_parse(&bad, "70000"));
	CHECK(!nsc_port_set_parse(&bad, "-5"));
}

int main(void)
{
	test_lines();
	test_port_sets();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
