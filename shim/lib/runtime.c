/* libc's functions and the settings, once per process; the range, kept fresh. */
#define _GNU_SOURCE
#include "runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "compat.h"
#include "portrange.h"
#include "report.h"

enum { UNINITIALISED, INITIALISING, READY };

static struct nsc_runtime shared;
static int state = UNINITIALISED;

/* Used only if no library after us defines the call: go to the kernel. */
#define NSC_RAW_CALL(ret, name, params, args)                          \
	static ret raw_##name params                                   \
	{                                                              \
		return (ret)syscall(SYS_##name, NSC_ARGS args);        \
	}
NSC_HOOKS(NSC_RAW_CALL)

static void *next_definition(const char *name, const void *ours, void *fallback)
{
	void *next = dlsym(RTLD_NEXT, name);
	if (next == NULL)
		return fallback;
	if (next == ours) {
		/* Calling it would recurse forever: better a loud stop now. */
		nsc_report_fatal("dlsym(RTLD_NEXT) returned our own ", name);
		abort();
	}
	return next;
}

/*
 * A setting from the environment. In a setuid, setgid or file-capability
 * program (AT_SECURE) none is read: the invoking user must not steer a
 * privileged program, nor make it write to stderr or syslog.
 */
static int read_setting(enum nsc_setting_id id, bool warn)
{
	const struct nsc_setting *s = &nsc_settings[id];
	int value = s->default_value;
	const char *text = getenv(s->variable);
	if (text == NULL || getauxval(AT_SECURE) != 0)
		return value;
	if (!nsc_parse_setting(id, text, &value) && warn)
		nsc_report_bad_setting(s, text);
	return value;
}

static void initialise(struct nsc_runtime *rt, bool warn)
{
	int saved_errno = errno;
#define NSC_LOOKUP(ret, name, params, args) \
	rt->libc_##name = next_definition(#name, (void *)nsc_own_##name, (void *)raw_##name);
	NSC_HOOKS(NSC_LOOKUP)
#undef NSC_LOOKUP
	rt->mode = (enum nsc_mode)read_setting(NSC_SETTING_MODE, warn);
	rt->log = (enum nsc_log)read_setting(NSC_SETTING_LOG, warn);
	errno = saved_errno;
}

const struct nsc_runtime *nsc_runtime(struct nsc_runtime *scratch)
{
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == READY)
		return &shared;
	int expected = UNINITIALISED;
	if (__atomic_compare_exchange_n(&state, &expected, INITIALISING, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		initialise(&shared, true);
		__atomic_store_n(&state, READY, __ATOMIC_RELEASE);
		return &shared;
	}
	if (expected == READY)
		return &shared;
	initialise(scratch, false);
	return scratch;
}

#define NSEC_PER_SEC 1000000000LL

/* high << 16 | low of the last good read; 0 (never valid) until one succeeds. */
static uint32_t cached_range;
/* Set for good once a thread changed network namespace. */
static bool namespaces_mixed;
/* When, on the coarse monotonic clock, the range is next read. */
static long long next_read_ns;

static long long coarse_now_ns(void)
{
	int saved_errno = errno;
	struct timespec now = { 0, 0 };
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	errno = saved_errno;
	return (long long)now.tv_sec * NSEC_PER_SEC + now.tv_nsec;
}

static void read_range(void)
{
	struct nsc_port_range range;
	if (nsc_read_port_range(NSC_PORT_RANGE_FILE, &range))
		__atomic_store_n(&cached_range, (uint32_t)range.high << 16 | range.low,
				 __ATOMIC_RELAXED);
}

/* One thread in a second reads: the one whose claim on the slot wins. */
static void refresh_range(long long now)
{
	long long due = __atomic_load_n(&next_read_ns, __ATOMIC_RELAXED);
	if (now >= due && __atomic_compare_exchange_n(&next_read_ns, &due, now + NSEC_PER_SEC,
						      false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		read_range();
}

void nsc_read_port_range_now(void)
{
	__atomic_store_n(&next_read_ns, coarse_now_ns() + NSEC_PER_SEC, __ATOMIC_RELAXED);
	read_range();
}

void nsc_port_range_mixed(void)
{
	__atomic_store_n(&namespaces_mixed, true, __ATOMIC_RELAXED);
}

struct nsc_port_range nsc_port_range(bool *known)
{
	if (__atomic_load_n(&namespaces_mixed, __ATOMIC_RELAXED)) {
		*known = false;
		return NSC_ANY_PORT;
	}
	refresh_range(coarse_now_ns());
	uint32_t packed = __atomic_load_n(&cached_range, __ATOMIC_RELAXED);
	*known = packed != 0;
	if (packed == 0)
		return NSC_ANY_PORT;
	return (struct nsc_port_range){ .low = (uint16_t)(packed & 0xffff), .high = (uint16_t)(packed >> 16) };
}

/* No range read here: a program that never dials pays nothing for it.
 * A fork() child starts with none of its parent's claims on sockets. */
__attribute__((constructor)) static void nsc_constructor(void)
{
	struct nsc_runtime scratch;
	nsc_runtime(&scratch);
	pthread_atfork(NULL, NULL, nsc_forget_claims);
}
