/* Unit tests of the audit's pure helpers in shim/procnet.c. */
#include <stdio.h>
#include <stdlib.h>
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
	CHECK_EQ(s.uid, 0);
	nsc_format_address(AF_INET, s.local, text, sizeof(text));
	CHECK(strcmp(text, "127.0.0.1") == 0);
	CHECK(nsc_tcp_is_self(&s));

	const char *listen = "   0: 00000000:C354 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n";
	CHECK(nsc_parse_tcp_line(listen, AF_INET, &s) && s.state == NSC_TCP_LISTEN && s.local_port == 50004);
	const char *user = "   0: 00000000:C354 00000000:0000 0A 00000000:00000000 00:00000000 00000000  4242        0 998 1 0000000000000000 100 0 0 10 0\n";
	CHECK(nsc_parse_tcp_line(user, AF_INET, &s));
	CHECK_EQ(s.uid, 4242);
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

/* Every other port from 1024: the most fragmented set, far beyond any
 * fixed buffer; it must come back whole. */
static void test_fragmented_round_trip(void)
{
	static struct nsc_port_set set, back;
	for (unsigned port = 1024; port <= 65535; port += 2)
		nsc_port_set_add(&set, port);
	size_t len = nsc_port_set_format(&set, NULL, 0);
	char small[64];
	CHECK_EQ(nsc_port_set_format(&set, small, sizeof(small)), len);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	char *text = malloc(len + 1);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	CHECK_EQ(nsc_port_set_format(&set, text, len + 1), len);
	CHECK_EQ(strlen(text), len);
	CHECK(strncmp(text, "1024,1026,1028,", 15) == 0);
	CHECK(nsc_port_set_parse(&back, text));
	CHECK(memcmp(&set, &back, sizeof(set)) == 0);
	CHECK_EQ(nsc_port_set_count(&back, 1024, 65535), (65535 - 1024 + 1) / 2);
	CHECK_EQ(nsc_port_set_count(&back, 50000, 50010), 6);
	free(text);
}

static void json(const char *in, size_t len, const char *want)
{
	char out[256];
	size_t n = nsc_json_escape(out, sizeof(out), in, len);
	CHECK_STR(out, want);
	CHECK_EQ(n, strlen(want));
}

static void test_json_escape(void)
{
	json("dial", 4, "dial");
	json("a\"b\\c", 5, "a\\\"b\\\\c");
	json("\x1b[31mred\n", 9, "\\u001b[31mred\\u000a");
	json("caf\xc3\xa9", 5, "caf\\u00e9");                /* valid UTF-8 */
	json("\xf0\x9f\x98\x80", 4, "\\ud83d\\ude00");     /* above U+FFFF */
	json("\xff\xfe" "A", 3, "\\ufffd\\ufffdA");             /* invalid bytes */
	json("\xc3", 1, "\\ufffd");                        /* truncated */
	json("\xc0\xaf", 2, "\\ufffd\\ufffd");               /* overlong '/' */
	json("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");      /* a surrogate */
	json("\xc2\x9b", 2, "\\u009b");                   /* C1 CSI, escaped */
	json("a\0b", 3, "a\\u0000b");
	char small[4];
	CHECK_EQ(nsc_json_escape(small, sizeof(small), "\x1b", 1), 6);
	CHECK_STR(small, "\\u0");
}

static void test_status_and_maps(void)
{
	unsigned long uid = 1, tgid = 1;
	CHECK(nsc_parse_status_field("Name:\tx\nUmask:\t0022\nUid:\t4242\t4242\t4242\t4242\n", "Uid", &uid));
	CHECK_EQ(uid, 4242);
	CHECK(nsc_parse_status_field("Uid:\t0\t0\t0\t0\n", "Uid", &uid) && uid == 0);
	CHECK(!nsc_parse_status_field("Name:\tUid:\n", "Uid", &uid));
	CHECK(nsc_parse_status_field("Name:\tx\nTgid:\t77\nNgid:\t0\nPid:\t78\n", "Tgid", &tgid));
	CHECK_EQ(tgid, 77);
	CHECK(!nsc_parse_status_field("NoTgid:\t5\n", "Tgid", &tgid)); /* a whole name only */
	CHECK(nsc_maps_line_is_library("7f00-7f01 r-xp 00001000 08:01 12 /opt/build/libnoselfconn.so\n"));
	CHECK(nsc_maps_line_is_library("7f00-7f01 r-xp 00001000 08:01 12 /usr/lib/libnoselfconn.so (deleted)\n"));
	CHECK(!nsc_maps_line_is_library("7f00-7f01 r-xp 00001000 08:01 12 /usr/lib/libc.so.6\n"));
	CHECK(!nsc_maps_line_is_library("7f00-7f01 r-xp 00001000 08:01 12 /usr/lib/notlibnoselfconn.so\n"));
	CHECK(!nsc_maps_line_is_library("7f00-7f01 rw-p 00000000 00:00 0\n"));
}

int main(void)
{
	test_lines();
	test_port_sets();
	test_fragmented_round_trip();
	test_json_escape();
	test_status_and_maps();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
