/*
 * Messages from inside the host program. The hook must stay async-signal-safe,
 * so lines are formatted by hand into a stack buffer (no stdio, no malloc)
 * and leave with a single write(2) or, for syslog, one datagram to /dev/log.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define SYSLOG_SOCKET "/dev/log"
#define SYSLOG_USER_WARNING "<12>" /* facility user (1) * 8 + warning (4) */

struct line {
	char text[512];
	size_t len;
};

static void put(struct line *line, const char *s)
{
	while (*s != '\0' && line->len < sizeof(line->text) - 1)
		line->text[line->len++] = *s++;
}

/* At most `max` bytes of an untrusted string, marked when cut. */
static void put_clipped(struct line *line, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	for (size_t i = 0; i < n && i < max && line->len < sizeof(line->text) - 1; i++)
		line->text[line->len++] = s[i];
	if (n > max)
		put(line, "...");
}

static void put_number(struct line *line, unsigned long value, unsigned base)
{
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value != 0);
	while (n > 0 && line->len < sizeof(line->text) - 1)
		line->text[line->len++] = digits[--n];
}

static void put_ipv4(struct line *line, const unsigned char a[4])
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			put(line, ".");
		put_number(line, a[i], 10);
	}
}

/* RFC 5952 text: the longest run of two or more zero groups becomes "::". */
static void put_ipv6(struct line *line, const unsigned char a[16])
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		put(line, "::ffff:");
		put_ipv4(line, a + 12);
		return;
	}
	unsigned groups[8];
	for (size_t i = 0; i < 8; i++)
		groups[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	int best = -1, best_len = 1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && groups[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			put(line, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			put(line, ":");
		put_number(line, groups[i], 16);
	}
}

static void put_endpoint(struct line *line, const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET) {
		struct sockaddr_in in;
		memcpy(&in, addr, sizeof(in));
		put_ipv4(line, (const unsigned char *)&in.sin_addr);
		put(line, ":");
		put_number(line, ntohs(in.sin_port), 10);
	} else {
		struct sockaddr_in6 in6;
		memcpy(&in6, addr, 24); /* sin6_scope_id is optional */
		put(line, "[");
		put_ipv6(line, in6.sin6_addr.s6_addr);
		put(line, "]:");
		put_number(line, ntohs(in6.sin6_port), 10);
	}
}

static void write_stderr(const struct line *line)
{
	int saved_errno = errno;
	ssize_t ignored = write(STDERR_FILENO, line->text, line->len);
	(void)ignored; /* nowhere better to report a failed report */
	errno = saved_errno;
}

static void send_syslog(const struct nsc_runtime *rt, const struct line *line)
{
	int saved_errno = errno;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_un to = { .sun_family = AF_UNIX, .sun_path = SYSLOG_SOCKET };
		/* The trailing newline is not part of a syslog message. */
		rt->sendto(fd, line->text, line->len - 1, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)&to, sizeof(to));
		close(fd);
	}
	errno = saved_errno;
}

void nsc_report_bad_setting(const char *name, const char *value,
			    const char *expected, const char *fallback)
{
	struct line line = { .len = 0 };
	put(&line, "noselfconn: ignoring ");
	put(&line, name);
	put(&line, "='");
	put_clipped(&line, value, 64);
	put(&line, "' (expected ");
	put(&line, expected);
	put(&line, "); using ");
	put(&line, fallback);
	put(&line, "\n");
	write_stderr(&line);
}

void nsc_report_fatal(const char *what, const char *name)
{
	struct line line = { .len = 0 };
	put(&line, "noselfconn: fatal: ");
	put(&line, what);
	put(&line, name);
	put(&line, "\n");
	write_stderr(&line);
}

void nsc_report_prevented(const struct nsc_runtime *rt, const struct sockaddr *dest)
{
	struct line line = { .len = 0 };
	unsigned long pid = (unsigned long)getpid();
	if (rt->log == NSC_LOG_SYSLOG) {
		put(&line, SYSLOG_USER_WARNING "noselfconn[");
		put_number(&line, pid, 10);
		put(&line, "]: ");
	} else {
		put(&line, "noselfconn: ");
	}
	put(&line, "prevented a self-connection: ");
	put_clipped(&line, program_invocation_short_name, 64);
	put(&line, "[");
	put_number(&line, pid, 10);
	put(&line, "] dialing ");
	put_endpoint(&line, dest);
	put(&line, "\n");
	if (rt->log == NSC_LOG_SYSLOG)
		send_syslog(rt, &line);
	else
		write_stderr(&line);
}
