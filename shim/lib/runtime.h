/* What the hooks need at hand: libc's functions, the settings, the range. */
#ifndef NOSELFCONN_RUNTIME_H
#define NOSELFCONN_RUNTIME_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "hooks.h"
#include "settings.h"
#include "verdict.h"

/* sendmmsg's flags: int in glibc, unsigned int in musl. */
#ifdef __GLIBC__
typedef int nsc_mmsg_flags;
#else
typedef unsigned int nsc_mmsg_flags;
#endif

/* libc_connect... : the next definition of each hooked call, never ours. */
#define NSC_LIBC_POINTER(ret, name, params, args) ret (*libc_##name) params;
struct nsc_runtime {
	NSC_HOOKS(NSC_LIBC_POINTER)
	enum nsc_mode mode;
	enum nsc_log log;
};

/* The hooks themselves (guard.c), which dlsym(RTLD_NEXT) must never return. */
#define NSC_OWN_HOOK(ret, name, params, args) extern ret nsc_own_##name params;
NSC_HOOKS(NSC_OWN_HOOK)

/*
 * The settings, initialised by the constructor. A hook that runs earlier
 * (from another library's constructor) initialises them itself; if two
 * threads race there, the loser fills `scratch` and uses that, so no lock
 * is ever taken.
 */
const struct nsc_runtime *nsc_runtime(struct nsc_runtime *scratch);

/*
 * The namespace's ip_local_port_range. Read by the first dial that needs it
 * (a process that never dials pays nothing), then again at most once a
 * second, so that an operator's sysctl reaches running programs (a coarse
 * clock read through the vDSO decides, no system call). A failed read never
 * replaces a good one; until one succeeds (a program that sandboxed itself
 * or ran out of descriptors before its first dial), *known is false and
 * every port counts as ephemeral: still guarded, one look more per dial.
 */
struct nsc_port_range nsc_port_range(bool *known);

/* Reads the range now, whenever it was last read: before chroot(). */
void nsc_read_port_range_now(void);

/*
 * A thread of this process moved to another network namespace (setns(),
 * unshare()): from now on its sockets and the others' may draw from
 * different ranges, which no one read can give. The range counts as
 * unknown for the rest of the process's life: every TCP dial is looked at,
 * exact whatever the namespace; a process that never moves pays nothing.
 */
void nsc_port_range_mixed(void);

#endif
