/* Shared by the test helpers: address parsing and small utilities. */
#ifndef NOSELFCONN_TEST_COMMON_H
#define NOSELFCONN_TEST_COMMON_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "compat.h" /* the kernel ABI constants, from shim/common */

/* "127.0.0.1", "::1" or "fe80::1%lo" and a port into a sockaddr; exits on
 * bad input. */
static inline socklen_t parse_endpoint(const char *host, const char *port_text,
				       struct sockaddr_storage *out)
{
	char *end;
	long port = strtol(port_text, &end, 10);
	if (*port_text == '\0' || *end != '\0' || port < 0 || port > 65535) {
		fprintf(stderr, "bad port '%s'\n", port_text);
		exit(2);
	}
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((in_port_t)port);
		return sizeof(*in);
	}
	char addr[INET6_ADDRSTRLEN];
	const char *scope = strchr(host, '%');
	size_t len = scope != NULL ? (size_t)(scope - host) : strlen(host);
	if (len < sizeof(addr)) {
		memcpy(addr, host, len);
		addr[len] = '\0';
	}
	if (len < sizeof(addr) && inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1 &&
	    (scope == NULL || (in6->sin6_scope_id = if_nametoindex(scope + 1)) != 0)) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((in_port_t)port);
		return sizeof(*in6);
	}
	fprintf(stderr, "bad address '%s'\n", host);
	exit(2);
}

/* Whether fd is connected to itself: its local name is its peer's. */
static inline int names_equal(int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	return getsockname(fd, (struct sockaddr *)&local, &llen) == 0 &&
	       getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && llen == plen &&
	       memcmp(&local, &peer, llen) == 0;
}

/* Open file descriptors of this process, to catch leaks. */
static inline int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	int n = 0;
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n - 3; /* ".", ".." and the DIR's own descriptor */
}

/* errno's symbolic name for the errors the tests look for (portable to musl). */
static inline const char *errname(int err)
{
	switch (err) {
	case 0: return "none";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINPROGRESS: return "EINPROGRESS";
	case EALREADY: return "EALREADY";
	case EISCONN: return "EISCONN";
	case EINTR: return "EINTR";
	case EPIPE: return "EPIPE";
	case ECONNABORTED: return "ECONNABORTED";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case ENOTSOCK: return "ENOTSOCK";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EFAULT: return "EFAULT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENETUNREACH: return "ENETUNREACH";
	case EAGAIN: return "EAGAIN";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	default: {
		static __thread char text[16];
		snprintf(text, sizeof(text), "E%d", err);
		return text;
	}
	}
}

/* What a run of dials came to, one dial at a time, printed as dial.c
 * prints it: the fields tests/helpers.bash reads. */
struct tally {
	long self, refused, connected, failed;
	int first_error;
};

/* One dial on fd: err is its errno (0: connected). */
static inline void tally_dial(struct tally *t, int fd, int err)
{
	if (err == 0 && names_equal(fd))
		t->self++;
	else if (err == 0)
		t->connected++;
	else if (err == ECONNREFUSED)
		t->refused++;
	else if (t->failed++ == 0)
		t->first_error = err;
}

/* The counts, with no newline: a helper may add fields of its own. */
static inline void print_tally(const struct tally *t)
{
	printf("attempts=%ld self=%ld refused=%ld connected=%ld failed=%ld first_error=%s",
	       t->self + t->refused + t->connected + t->failed, t->self, t->refused, t->connected,
	       t->failed, errname(t->first_error));
}

#endif
