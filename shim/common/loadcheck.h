/* Whether a preload path loads for each architecture whose loader this
 * host has: what --enable-host checks before it writes /etc/ld.so.preload,
 * and what --status reports. */
#ifndef NOSELFCONN_LOADCHECK_H
#define NOSELFCONN_LOADCHECK_H

#include <limits.h>
#include <stddef.h>

#define NSC_MAX_LOADERS 8

enum nsc_load_state {
	NSC_LOADS,	    /* found through the path, mapped, its libraries found */
	NSC_DOES_NOT_LOAD,  /* what ld.so says is in `detail` */
	NSC_LOADER_UNUSABLE /* the loader cannot run here (x32 on a kernel without it) */
};

struct nsc_load_check {
	char loader[PATH_MAX]; /* e.g. /lib/ld-linux.so.2 */
	char arch[24];	       /* from its ELF header: x86-64, i386, x32, arm64... */
	enum nsc_load_state state;
	char detail[PATH_MAX + 256]; /* the file it loads, or why not */
};

/* Asks each glibc loader present (/lib*\/ld-linux*.so.*, /lib*\/ld64.so.*,
 * each file once) to list its libc with `path` in LD_PRELOAD, in a child
 * with nothing else in its environment: ld.so expands $LIB its own way.
 * Fills up to NSC_MAX_LOADERS checks; returns how many, -1 (errno) when
 * none could be made. */
int nsc_check_loads(const char *path, struct nsc_load_check checks[NSC_MAX_LOADERS]);

#endif
