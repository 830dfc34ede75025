/*
 * rawcall: dial with raw system calls whose int arguments (descriptor,
 * address length, flags) carry garbage in the upper 32 bits of their
 * registers, as the kernel ignores them; count what happens.
 *
 *   rawcall [-n COUNT] [-s connect|sendto|sendmsg] [-k] [-g] [-D] ADDR PORT
 *
 * -g puts the garbage there (without it the calls are clean), -k stops at
 * the first self-connection, -D makes the process non-dumpable first
 * (PR_SET_DUMPABLE 0: an unprivileged supervisor may not read it).
 * Prints one line of counts, as tests/helpers/dial.c does.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#define PROBE "noselfconn-probe"

static uint64_t garbage;

static long as_int(long value)
{
	return (long)(((uint64_t)value & 0xffffffffU) | garbage);
}

static int dial(const char *style, int fd, struct sockaddr_storage *dest, socklen_t len)
{
	long rc;
	if (strcmp(style, "connect") == 0) {
		rc = syscall(SYS_connect, as_int(fd), dest, as_int((long)len));
	} else if (strcmp(style, "sendto") == 0) {
		rc = syscall(SYS_sendto, as_int(fd), PROBE, sizeof(PROBE),
			     as_int(MSG_FASTOPEN | MSG_NOSIGNAL), dest, as_int((long)len));
	} else if (strcmp(style, "sendmsg") == 0) {
		struct iovec iov = { .iov_base = PROBE, .iov_len = sizeof(PROBE) };
		struct msghdr msg = { .msg_name = dest, .msg_namelen = len, .msg_iov = &iov,
				      .msg_iovlen = 1 };
		rc = syscall(SYS_sendmsg, as_int(fd), &msg, as_int(MSG_FASTOPEN | MSG_NOSIGNAL));
	} else {
		fprintf(stderr, "unknown style '%s'\n", style);
		exit(2);
	}
	return rc >= 0 ? 0 : errno;
}


int main(int argc, char **argv)
{
	const char *style = "connect";
	int count = 1, c;
	bool stop_at_self = false;
	while ((c = getopt(argc, argv, "n:s:kgD")) != -1) {
		switch (c) {
		case 'n': count = atoi(optarg); break;
		case 's': style = optarg; break;
		case 'k': stop_at_self = true; break;
		case 'g': garbage = 0xdead0001ULL << 32; break;
		case 'D':
			if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
				return 1;
			break;
		default: argc = -1; break;
		}
	}
	if (argc < 0 || argc - optind != 2) {
		fprintf(stderr, "usage: rawcall [-n COUNT] [-s connect|sendto|sendmsg] [-kgD] ADDR PORT\n");
		return 2;
	}
	struct sockaddr_storage dest;
	socklen_t len = parse_endpoint(argv[optind], argv[optind + 1], &dest);
	long self = 0, refused = 0, connected = 0, failed = 0;
	int first_error = 0;
	for (int i = 0; i < count; i++) {
		int fd = socket(dest.ss_family, SOCK_STREAM, 0);
		int err = fd < 0 ? errno : dial(style, fd, &dest, len);
		if (err == 0 && names_equal(fd))
			self++;
		else if (err == 0)
			connected++;
		else if (err == ECONNREFUSED)
			refused++;
		else if (failed++ == 0)
			first_error = err;
		if (fd >= 0)
			close(fd);
		if (self > 0 && stop_at_self)
			break;
	}
	printf("attempts=%ld self=%ld refused=%ld connected=%ld failed=%ld first_error=%s\n",
	       self + refused + connected + failed, self, refused, connected, failed, errname(first_error));
	return 0;
}
