/*
 * oldkernel [-r] [-t] [-n] [-g] [-l] [-b] [-k VERSION] COMMAND [ARG]...: run COMMAND
 * (and all it starts) where features of newer kernels fail the way an older
 * kernel fails them, to run the fall-back paths on this machine's kernel:
 *
 *   -r  IP_LOCAL_PORT_RANGE (6.3): get/setsockopt give ENOPROTOOPT
 *   -t  PIDFD_THREAD (6.9): pidfd_open with it gives EINVAL
 *   -n  seccomp user notification (5.0): a filter with a listener and
 *       SECCOMP_GET_NOTIF_SIZES give EINVAL
 *   -g  pidfd_getfd (5.6): ENOSYS
 *   -l  bpf(BPF_LINK_CREATE) (5.7, for cgroups): EINVAL
 *   -b  bpf() itself (3.18, or a kernel built without it): ENOSYS
 *   -k  every feature newer than VERSION (e.g. -k 5.15 is -r -t)
 *
 * The filter is inherited: the supervisor run under it meets the old kernel
 * in its own calls, and the child it filters meets it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif
#include "compat.h"
#define ARG_LOW(n) offsetof(struct seccomp_data, args[n]) /* little-endian */

static struct sock_filter code[64];
static unsigned short len;

static void emit(struct sock_filter insn)
{
	code[len++] = insn;
}

#define LOAD(field) emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, field))
#define FAIL(err) emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err)))
/* Skip the next `skip` instructions unless the loaded word equals k. */
#define UNLESS_EQ(k, skip) emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, (skip)))
#define UNLESS_SET(k, skip) emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), 0, (skip)))

/* Each block below starts by loading the syscall number and falls through
 * to the next block when its call is not the one it removes. */
static void no_port_range(int nr)
{
	LOAD(offsetof(struct seccomp_data, nr));
	UNLESS_EQ((unsigned)nr, 5);
	LOAD(ARG_LOW(1));
	UNLESS_EQ(IPPROTO_IP, 3);
	LOAD(ARG_LOW(2));
	UNLESS_EQ(IP_LOCAL_PORT_RANGE, 1);
	FAIL(ENOPROTOOPT);
}

static void no_thread_pidfd(void)
{
	LOAD(offsetof(struct seccomp_data, nr));
	UNLESS_EQ(SYS_pidfd_open, 3);
	LOAD(ARG_LOW(1));
	UNLESS_SET(O_EXCL, 1); /* PIDFD_THREAD is O_EXCL */
	FAIL(EINVAL);
}

static void no_user_notification(void)
{
	LOAD(offsetof(struct seccomp_data, nr));
	UNLESS_EQ(SYS_seccomp, 7);
	LOAD(ARG_LOW(0));
	UNLESS_EQ(SECCOMP_GET_NOTIF_SIZES, 1);
	FAIL(EINVAL);
	UNLESS_EQ(SECCOMP_SET_MODE_FILTER, 3);
	LOAD(ARG_LOW(1));
	UNLESS_SET(SECCOMP_FILTER_FLAG_NEW_LISTENER, 1);
	FAIL(EINVAL);
}

static void no_link_create(void)
{
	LOAD(offsetof(struct seccomp_data, nr));
	UNLESS_EQ(SYS_bpf, 3);
	LOAD(ARG_LOW(0));
	UNLESS_EQ(BPF_LINK_CREATE, 1);
	FAIL(EINVAL);
}

static void no_bpf(void)
{
	LOAD(offsetof(struct seccomp_data, nr));
	UNLESS_EQ(SYS_bpf, 1);
	FAIL(ENOSYS);
}

static void no_getfd(void)
{
	LOAD(offsetof(struct seccomp_data, nr));
	UNLESS_EQ(SYS_pidfd_getfd, 1);
	FAIL(ENOSYS);
}

/* "5.15" -> 515, "6.1" -> 601 */
static int version_code(const char *text)
{
	char *end;
	long major = strtol(text, &end, 10), minor = 0;
	if (*end == '.')
		minor = strtol(end + 1, &end, 10);
	return *end == '\0' && major > 0 && minor >= 0 && minor < 100 ? (int)(major * 100 + minor) : -1;
}

int main(int argc, char **argv)
{
	int c, version = -1;
	int range = 0, thread = 0, notify = 0, getfd = 0, link = 0, bpf = 0;
	while ((c = getopt(argc, argv, "+rtnglbk:")) != -1) {
		switch (c) {
		case 'r': range = 1; break;
		case 't': thread = 1; break;
		case 'n': notify = 1; break;
		case 'g': getfd = 1; break;
		case 'l': link = 1; break;
		case 'b': bpf = 1; break;
		case 'k': version = version_code(optarg); if (version < 0) return 2; break;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: oldkernel [-r] [-t] [-n] [-g] [-l] [-b] [-k VERSION] COMMAND [ARG]...\n");
		return 2;
	}
	if (version > 0) {
		range |= version < 603;
		thread |= version < 609;
		getfd |= version < 506;
		notify |= version < 500;
		link |= version < 507;
		bpf |= version < 318;
	}

	LOAD(offsetof(struct seccomp_data, arch));
	emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0));
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	if (range) {
		no_port_range(SYS_setsockopt);
		no_port_range(SYS_getsockopt);
	}
	if (thread)
		no_thread_pidfd();
	if (notify)
		no_user_notification();
	if (getfd)
		no_getfd();
	if (link)
		no_link_create();
	if (bpf)
		no_bpf();
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));

	struct sock_fprog program = { .len = len, .filter = code };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
		perror("oldkernel");
		return 1;
	}
	execvp(argv[optind], &argv[optind]);
	perror("oldkernel: exec");
	return 127;
}
