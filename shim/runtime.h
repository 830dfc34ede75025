/* What the hooks need at hand: libc's functions and the settings, read once. */
#ifndef NOSELFCONN_RUNTIME_H
#define NOSELFCONN_RUNTIME_H

#include <sys/socket.h>
#include <sys/types.h>

#include "verdict.h"

/* sendmmsg's flags: int in glibc, unsigned int in musl. */
#ifdef __GLIBC__
typedef int nsc_mmsg_flags;
#else
typedef unsigned int nsc_mmsg_flags;
#endif

struct nsc_runtime {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, nsc_mmsg_flags);
	enum nsc_mode mode;
	enum nsc_log log;
};

/* The hooks themselves (guard.c), which dlsym(RTLD_NEXT) must never return. */
extern __typeof__(connect) nsc_own_connect;
extern __typeof__(sendto) nsc_own_sendto;
extern __typeof__(sendmsg) nsc_own_sendmsg;
extern __typeof__(sendmmsg) nsc_own_sendmmsg;

/*
 * The settings, initialised by the constructor. A hook that runs earlier
 * (from another library's constructor) initialises them itself; if two
 * threads race there, the loser fills `scratch` and uses that, so no lock
 * is ever taken.
 */
const struct nsc_runtime *nsc_runtime(struct nsc_runtime *scratch);

/*
 * The namespace's ip_local_port_range, read once, at the first dial that
 * needs it rather than at start-up: a /proc read costs more than loading
 * the whole library, and most processes never dial TCP/IP at all.
 */
struct nsc_port_range nsc_port_range(void);

#endif
