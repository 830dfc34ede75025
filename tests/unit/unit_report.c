/* Unit tests of the escaping and the lines the library writes (shim/lib/report.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "escape.h"
#include "report.h"

static void test_escape(void)
{
	char out[64];
	CHECK_EQ(nsc_escape(out, sizeof(out), "telnet", 64), 6);
	CHECK_STR(out, "telnet");
	nsc_escape(out, sizeof(out), "a\nb\033[2Jc\\d\"e", 64);
	CHECK_STR(out, "a\\x0ab\\x1b[2Jc\\x5cd\\x22e");
	nsc_escape(out, sizeof(out), "caf\xc3\xa9\x7f", 64);
	CHECK_STR(out, "caf\\xc3\\xa9\\x7f");
	nsc_escape(out, sizeof(out), "abcdefgh", 4);
	CHECK_STR(out, "abcd...");
	/* Never a half escape, always terminated, within the room given. */
	CHECK_EQ(nsc_escape(out, 6, "\n\n\n", 64), 4);
	CHECK_STR(out, "\\x0a");
	CHECK_EQ(nsc_escape(out, 1, "abc", 64), 0);
	CHECK_STR(out, "");
}

static void test_escape_len(void)
{
	char out[64];
	/* Exactly the bytes given: the rest of the text is not theirs. */
	CHECK_EQ(nsc_escape_len(out, sizeof(out), "/lib/a.so /lib/b.so", 9), 9);
	CHECK_STR(out, "/lib/a.so");
	nsc_escape_len(out, sizeof(out), "a\0b\n", 4);
	CHECK_STR(out, "a\\x00b\\x0a");
	CHECK_EQ(nsc_escape_len(out, sizeof(out), "", 0), 0);
	CHECK_STR(out, "");
	/* Clipped only by the room, never mid-escape. */
	nsc_escape_len(out, 8, "abcdefghij", 10);
	CHECK_STR(out, "abcdefg");
	nsc_escape_len(out, 16, "abcdefghijklmnopqrstuvwxyz", 26);
	CHECK_STR(out, "abcdefghijklmno");
	CHECK_EQ(nsc_escape_len(out, 6, "\n\n\n", 3), 4);
	CHECK_STR(out, "\\x0a");
}

static void test_prevented_line(void)
{
	char line[512];
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(50000) };
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	nsc_format_prevented(line, sizeof(line), NSC_LOG_STDERR, "telnet", 42,
			     (struct sockaddr *)&in);
	CHECK_STR(line, "noselfconn: prevented a self-connection: telnet[42] dialing 127.0.0.1:50000\n");

	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(50001) };
	inet_pton(AF_INET6, "fd00::1", &in6.sin6_addr);
	nsc_format_prevented(line, sizeof(line), NSC_LOG_SYSLOG, "x", 7, (struct sockaddr *)&in6);
	CHECK_STR(line, "<12>noselfconn[7]: prevented a self-connection: x[7] dialing [fd00::1]:50001\n");

	/* A crafted program name stays on one line and drives no terminal. */
	nsc_format_prevented(line, sizeof(line), NSC_LOG_SYSLOG, "evil\n<11>fake: root\033[31m", 7,
			     (struct sockaddr *)&in);
	CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	CHECK(strchr(line, '\033') == NULL);
	CHECK(strstr(line, "evil\\x0a<11>fake: root\\x1b[31m[7]") != NULL);

	/* Cut to fit, still one terminated line. */
	CHECK_EQ(nsc_format_prevented(line, 20, NSC_LOG_STDERR, "telnet", 42, (struct sockaddr *)&in), 19);
	CHECK_EQ(line[18], '\n');
}

int main(void)
{
	test_escape();
	test_escape_len();
	test_prevented_line();
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
