/* See report.h. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "escape.h"

#define SYSLOG_SOCKET "/dev/log"
#define SYSLOG_USER_WARNING "<12>" /* facility user (1) * 8 + warning (4) */
#define UNTRUSTED_MAX 64	   /* bytes of a name or value shown, before escaping */

struct line {
	char *text;
	size_t size, len; /* text[len] is always '\0' */
};

static void put(struct line *line, const char *s)
{
	while (*s != '\0' && line->len + 1 < line->size)
		line->text[line->len++] = *s++;
	line->text[line->len] = '\0';
}

/* Text from outside: escaped, clipped, marked when cut. */
static void put_untrusted(struct line *line, const char *s)
{
	line->len += nsc_escape(line->text + line->len, line->size - line->len, s, UNTRUSTED_MAX);
}

static void put_number(struct line *line, unsigned long value, unsigned base)
{
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value != 0);
	while (n > 0 && line->len + 1 < line->size)
		line->text[line->len++] = digits[--n];
	line->text[line->len] = '\0';
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

/* Ends the line with a newline even when its text was cut. */
static void end_line(struct line *line)
{
	if (line->len + 1 >= line->size)
		line->len = line->size - 2;
	line->text[line->len++] = '\n';
	line->text[line->len] = '\0';
}

static void write_stderr(const char *text, size_t len)
{
	int saved_errno = errno;
	ssize_t ignored = write(STDERR_FILENO, text, len);
	(void)ignored; /* nowhere better to report a failed report */
	errno = saved_errno;
}

static void send_syslog(nsc_send_fn send, const char *text, size_t len)
{
	int saved_errno = errno;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_un to = { .sun_family = AF_UNIX, .sun_path = SYSLOG_SOCKET };
		/* The trailing newline is not part of a syslog message. */
		send(fd, text, len - 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&to,
		     sizeof(to));
		close(fd);
	}
	errno = saved_errno;
}

void nsc_report_bad_setting(const struct nsc_setting *setting, const char *value)
{
	char text[512];
	struct line line = { .text = text, .size = sizeof(text) };
	put(&line, "noselfconn: ignoring ");
	put(&line, setting->variable);
	put(&line, "='");
	put_untrusted(&line, value);
	put(&line, "' (expected ");
	put(&line, setting->expected);
	put(&line, "); using ");
	put(&line, setting->default_name);
	end_line(&line);
	write_stderr(line.text, line.len);
}

void nsc_report_fatal(const char *what, const char *name)
{
	char text[256];
	struct line line = { .text = text, .size = sizeof(text) };
	put(&line, "noselfconn: fatal: ");
	put(&line, what);
	put_untrusted(&line, name);
	end_line(&line);
	write_stderr(line.text, line.len);
}

size_t nsc_format_prevented(char *text, size_t size, enum nsc_log log, const char *program,
			    unsigned long pid, const struct sockaddr *dest)
{
	struct line line = { .text = text, .size = size };
	if (size < 2)
		return 0;
	text[0] = '\0';
	if (log == NSC_LOG_SYSLOG) {
		put(&line, SYSLOG_USER_WARNING "noselfconn[");
		put_number(&line, pid, 10);
		put(&line, "]: ");
	} else {
		put(&line, "noselfconn: ");
	}
	put(&line, "prevented a self-connection: ");
	put_untrusted(&line, program);
	put(&line, "[");
	put_number(&line, pid, 10);
	put(&line, "] dialing ");
	put_endpoint(&line, dest);
	end_line(&line);
	return line.len;
}

void nsc_report_prevented(enum nsc_log log, nsc_send_fn send, const struct sockaddr *dest)
{
	char text[512];
	size_t len = nsc_format_prevented(text, sizeof(text), log, program_invocation_short_name,
					  (unsigned long)getpid(), dest);
	if (log == NSC_LOG_SYSLOG)
		send_syslog(send, text, len);
	else
		write_stderr(text, len);
}
