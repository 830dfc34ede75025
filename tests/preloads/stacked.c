/*
 * Another preload that wraps connect(), as proxifiers and tracers do: it
 * counts the calls that reach it and forwards them. Stacked with
 * libnoselfconn.so in either order, both must run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/socket.h>

static long calls;

__attribute__((visibility("default"))) int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*next)(int, const struct sockaddr *, socklen_t);
	if (next == NULL)
		next = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return next(fd, addr, len);
}

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr, "stacked: connect_calls=%ld\n", calls);
}
