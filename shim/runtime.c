/* Resolving libc's functions and reading the settings, once per process. */
#define _GNU_SOURCE
#include "runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

#define PORT_RANGE_FILE "/proc/sys/net/ipv4/ip_local_port_range"

enum { UNINITIALISED, INITIALISING, READY };

static struct nsc_runtime shared;
static int state = UNINITIALISED;

/* Used only if no library after us defines the call: go to the kernel. */
static int raw_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, addr, len);
}

static ssize_t raw_sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len)
{
	return syscall(SYS_sendto, fd, buf, n, flags, addr, len);
}

static ssize_t raw_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return syscall(SYS_sendmsg, fd, msg, flags);
}

static int raw_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, nsc_mmsg_flags flags)
{
	return (int)syscall(SYS_sendmmsg, fd, msgs, n, flags);
}

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

static struct nsc_port_range read_port_range(void)
{
	int saved_errno = errno;
	char text[64];
	ssize_t n = -1;
	int fd = open(PORT_RANGE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text));
		close(fd);
	}
	struct nsc_port_range range;
	if (n <= 0 || !nsc_parse_port_range(text, (size_t)n, &range))
		range = NSC_DEFAULT_RANGE;
	errno = saved_errno;
	return range;
}

/* high << 16 | low; 0 (never a valid range) until the file has been read. */
static uint32_t cached_range;

struct nsc_port_range nsc_port_range(void)
{
	uint32_t packed = __atomic_load_n(&cached_range, __ATOMIC_RELAXED);
	if (packed == 0) {
		/* Threads racing here read the same file: any of them may store. */
		struct nsc_port_range range = read_port_range();
		packed = (uint32_t)range.high << 16 | range.low;
		__atomic_store_n(&cached_range, packed, __ATOMIC_RELAXED);
	}
	return (struct nsc_port_range){ .low = packed & 0xffff, .high = packed >> 16 };
}

static enum nsc_mode read_mode(bool warn)
{
	enum nsc_mode mode = NSC_MODE_CHECK;
	const char *text = getenv("NOSELFCONN_MODE");
	if (text != NULL && *text != '\0' && !nsc_parse_mode(text, &mode) && warn)
		nsc_report_bad_setting("NOSELFCONN_MODE", text, "check, prebind or off", "check");
	return mode;
}

static enum nsc_log read_log(bool warn)
{
	enum nsc_log log = NSC_LOG_OFF;
	const char *text = getenv("NOSELFCONN_LOG");
	if (text != NULL && !nsc_parse_log(text, &log) && warn)
		nsc_report_bad_setting("NOSELFCONN_LOG", text, "0, 1, stderr or syslog", "0");
	return log;
}

static void initialise(struct nsc_runtime *rt, bool warn)
{
	int saved_errno = errno;
	rt->connect = next_definition("connect", (void *)nsc_own_connect, (void *)raw_connect);
	rt->sendto = next_definition("sendto", (void *)nsc_own_sendto, (void *)raw_sendto);
	rt->sendmsg = next_definition("sendmsg", (void *)nsc_own_sendmsg, (void *)raw_sendmsg);
	rt->sendmmsg = next_definition("sendmmsg", (void *)nsc_own_sendmmsg, (void *)raw_sendmmsg);
	rt->mode = read_mode(warn);
	rt->log = read_log(warn);
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

__attribute__((constructor)) static void nsc_constructor(void)
{
	struct nsc_runtime scratch;
	nsc_runtime(&scratch);
}
