/*
 * badcalls: make dials libc must refuse or pass straight through, and print
 * each result as "case ret errno". Run with and without the library, the
 * outputs must be identical. errno is set to a sentinel before each call,
 * so a success that touched errno shows up too.
 *
 *   badcalls all PORT          every case
 *   badcalls passthrough PORT  only what must cost no extra system call
 *   badcalls badpointers PORT  addresses the kernel cannot read (EFAULT)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

#define SENTINEL 4242

static bool passthrough_only;
static in_port_t port;

static void show(const char *name, long ret)
{
	int err = errno;
	printf("%-28s ret=%ld errno=%s\n", name, ret, err == SENTINEL ? "untouched" : errname(err));
}

static struct sockaddr_in v4(const char *text, in_port_t p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p) };
	inet_pton(AF_INET, text, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 v6(const char *text, in_port_t p)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(p) };
	inet_pton(AF_INET6, text, &a.sin6_addr);
	return a;
}

/* Dial a fresh socket of the given kind and print what came back. */
static void try_connect(const char *name, int family, int type, const void *addr, socklen_t len)
{
	int fd = socket(family, type, 0);
	errno = SENTINEL;
	show(name, connect(fd, addr, len));
	close(fd);
}

static void passthrough_cases(void)
{
	struct sockaddr_in lo = v4("127.0.0.1", port);
	struct sockaddr_in low_port = v4("127.0.0.1", 80);
	struct sockaddr_in zero_port = v4("127.0.0.1", 0);
	struct sockaddr_un unix_addr = { .sun_family = AF_UNIX, .sun_path = "/nonexistent/sock" };
	struct sockaddr_storage big;
	memcpy(&big, &lo, sizeof(lo));
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	try_connect("null-address", AF_INET, SOCK_STREAM, NULL, sizeof(lo));
	try_connect("null-address-len0", AF_INET, SOCK_STREAM, NULL, 0);
	try_connect("addrlen-0", AF_INET, SOCK_STREAM, &lo, 0);
	try_connect("addrlen-1", AF_INET, SOCK_STREAM, &lo, 1);
	try_connect("addrlen-too-short", AF_INET, SOCK_STREAM, &lo, sizeof(lo) - 1);
	try_connect("addrlen-too-long", AF_INET, SOCK_STREAM, &big, sizeof(big) + 1);
	try_connect("af-unspec", AF_INET, SOCK_STREAM, &unspec, sizeof(unspec));
	try_connect("af-unix", AF_UNIX, SOCK_STREAM, &unix_addr, sizeof(unix_addr));
	try_connect("port-outside-range", AF_INET, SOCK_STREAM, &low_port, sizeof(low_port));
	try_connect("port-0", AF_INET, SOCK_STREAM, &zero_port, sizeof(zero_port));

	/* The everyday send that dials nothing: UDP to an address, delivered. */
	int receiver = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in udp_to = v4("127.0.0.1", 0);
	socklen_t udp_len = sizeof(udp_to);
	bind(receiver, (void *)&udp_to, sizeof(udp_to));
	getsockname(receiver, (void *)&udp_to, &udp_len);
	int sender = socket(AF_INET, SOCK_DGRAM, 0);
	errno = SENTINEL;
	show("udp-sendto-address", sendto(sender, "x", 1, 0, (void *)&udp_to, sizeof(udp_to)));
	char got;
	errno = SENTINEL;
	show("udp-received", recv(receiver, &got, 1, MSG_DONTWAIT));
	close(sender);
	close(receiver);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	errno = SENTINEL;
	show("sendto-fastopen-null-addr", sendto(fd, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, NULL, 0));
	errno = SENTINEL;
	show("sendto-without-fastopen", sendto(fd, "x", 1, MSG_NOSIGNAL, (void *)&lo, sizeof(lo)));
	errno = SENTINEL;
	show("sendmsg-fastopen-null-msg", sendmsg(fd, NULL, MSG_FASTOPEN | MSG_NOSIGNAL));
	close(fd);
}

static void guarded_cases(void)
{
	struct sockaddr_in lo = v4("127.0.0.1", port);
	struct sockaddr_in6 lo6 = v6("::1", port);

	try_connect("family-mismatch-6-on-4", AF_INET, SOCK_STREAM, &lo6, sizeof(lo6));
	try_connect("family-mismatch-4-on-6", AF_INET6, SOCK_STREAM, &lo, sizeof(lo));
	try_connect("udp-socket", AF_INET, SOCK_DGRAM, &lo, sizeof(lo));

	errno = SENTINEL;
	show("bad-fd", connect(9999, (void *)&lo, sizeof(lo)));
	errno = SENTINEL;
	show("negative-fd", connect(-1, (void *)&lo, sizeof(lo)));

	int devnull = open("/dev/null", O_RDONLY);
	errno = SENTINEL;
	show("non-socket-fd", connect(devnull, (void *)&lo, sizeof(lo)));
	close(devnull);

	int closed = socket(AF_INET, SOCK_STREAM, 0);
	close(closed);
	errno = SENTINEL;
	show("closed-fd", connect(closed, (void *)&lo, sizeof(lo)));

	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in any = v4("127.0.0.1", 0);
	bind(listener, (void *)&any, sizeof(any));
	listen(listener, 1);
	errno = SENTINEL;
	show("listening-socket", connect(listener, (void *)&lo, sizeof(lo)));
	close(listener);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	errno = SENTINEL;
	show("refused", connect(fd, (void *)&lo, sizeof(lo)));
	errno = SENTINEL;
	show("redial-after-refusal", connect(fd, (void *)&lo, sizeof(lo)));
	close(fd);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	errno = SENTINEL;
	show("udp-sendto-fastopen", sendto(fd, "x", 1, MSG_FASTOPEN, (void *)&lo, sizeof(lo)));
	close(fd);
}

/* Pointers into the unmapped first page: the kernel answers EFAULT. */
static void bad_pointer_cases(void)
{
	const void *unreadable = (const void *)16;
	try_connect("unreadable-address", AF_INET, SOCK_STREAM, unreadable,
		    sizeof(struct sockaddr_in));
	try_connect("unreadable-address-6", AF_INET6, SOCK_STREAM, unreadable,
		    sizeof(struct sockaddr_in6));

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	errno = SENTINEL;
	show("sendto-fastopen-unreadable", sendto(fd, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, unreadable,
						  sizeof(struct sockaddr_in)));
	/* Large enough that a blocking dial could hang sending to itself: the
	 * library reads the address first there, and must not fault on it. */
	static char large[64 * 1024];
	errno = SENTINEL;
	show("sendto-fastopen-large-unreadable",
	     sendto(fd, large, sizeof(large), MSG_FASTOPEN | MSG_NOSIGNAL, unreadable,
		    sizeof(struct sockaddr_in)));
	errno = SENTINEL;
	show("sendmsg-fastopen-unreadable", sendmsg(fd, unreadable, MSG_FASTOPEN | MSG_NOSIGNAL));
	struct msghdr msg = { .msg_name = (void *)unreadable,
			      .msg_namelen = sizeof(struct sockaddr_in) };
	errno = SENTINEL;
	show("sendmsg-fastopen-unreadable-name", sendmsg(fd, &msg, MSG_FASTOPEN | MSG_NOSIGNAL));
	/* The same, large (the library reads the msghdr and its iovecs first). */
	struct iovec whole = { .iov_base = large, .iov_len = sizeof(large) };
	msg.msg_iov = &whole;
	msg.msg_iovlen = 1;
	errno = SENTINEL;
	show("sendmsg-fastopen-large-unreadable-name", sendmsg(fd, &msg, MSG_FASTOPEN | MSG_NOSIGNAL));
	struct sockaddr_in here = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct msghdr bad_iov = { .msg_name = &here, .msg_namelen = sizeof(here),
				  .msg_iov = (void *)unreadable, .msg_iovlen = 2 };
	errno = SENTINEL;
	show("sendmsg-fastopen-large-unreadable-iov", sendmsg(fd, &bad_iov, MSG_FASTOPEN | MSG_NOSIGNAL));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "all") != 0 && strcmp(argv[1], "passthrough") != 0 &&
			  strcmp(argv[1], "badpointers") != 0)) {
		fprintf(stderr, "usage: badcalls all|passthrough|badpointers PORT\n");
		return 2;
	}
	passthrough_only = strcmp(argv[1], "passthrough") == 0;
	port = (in_port_t)atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "badpointers") == 0) {
		bad_pointer_cases();
		return 0;
	}
	passthrough_cases();
	if (!passthrough_only)
		guarded_cases();
	return 0;
}
