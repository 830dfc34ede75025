/*
 * rawcall: dial with raw system calls whose int arguments (descriptor,
 * address length, flags) carry garbage in the upper 32 bits of their
 * registers, as the kernel ignores them; count what happens.
 *
 *   rawcall [-n COUNT] [-s STYLE] [-kgDMU] [-N LO:HI] ADDR PORT
 *
 * Styles: connect, sendto, sendmsg (MSG_FASTOPEN), and the 32-bit system
 * calls a 64-bit program can make with `int $0x80` (x86-64 only):
 * i386-connect (connect, 362) and i386-socketcall (socketcall, 102, with
 * SYS_CONNECT); their arguments live below 4 GiB (MAP_32BIT).
 * -g puts the garbage there (without it the calls are clean), -k stops at
 * the first self-connection, -D makes the process non-dumpable first
 * (PR_SET_DUMPABLE 0: an unprivileged supervisor may not read it). -M
 * keeps the destination in memfd_secret() memory, which only this process
 * can read. -U first installs a seccomp filter with a listener of its own,
 * as a sandbox does, and adds own_listener=ok|ERRNAME to the counts. -N
 * creates its COUNT sockets first, then moves to a network namespace of
 * its own whose range is LO-HI (unshare(CLONE_NEWNET): root) and dials
 * them from there: they dial in the namespace they were created in.
 * Prints one line of counts, as tests/helpers/dial.c does.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
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

/* An i386 system call from this 64-bit program: the kernel reads it as one. */
static long int80(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
	long rc;
	__asm__ volatile("int $0x80" : "=a"(rc) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	if (rc < 0 && rc > -4096) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
#else
	(void)nr, (void)a, (void)b, (void)c;
	errno = ENOSYS;
	return -1;
#endif
}

#define I386_SOCKETCALL 102
#define I386_CONNECT 362
#define I386_SYS_CONNECT 3

/* The address (and socketcall's argument block) again, below 4 GiB. */
static long i386_dial(bool socketcall, int fd, const struct sockaddr_storage *dest, socklen_t len)
{
	static char *low;
	if (low == NULL) {
		low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (low == MAP_FAILED) {
			perror("rawcall: mmap");
			exit(1);
		}
	}
	memcpy(low, dest, len);
	if (!socketcall)
		return int80(I386_CONNECT, fd, (long)(uintptr_t)low, len);
	uint32_t args[3] = { (uint32_t)fd, (uint32_t)(uintptr_t)low, len };
	memcpy(low + 1024, args, sizeof(args));
	return int80(I386_SOCKETCALL, I386_SYS_CONNECT, (long)(uintptr_t)(low + 1024), 0);
}

static int dial(const char *style, int fd, struct sockaddr_storage *dest, socklen_t len)
{
	long rc;
	if (strncmp(style, "i386-", 5) == 0 &&
	    (strcmp(style + 5, "connect") == 0 || strcmp(style + 5, "socketcall") == 0)) {
		rc = i386_dial(strcmp(style + 5, "socketcall") == 0, fd, dest, len);
	} else if (strcmp(style, "connect") == 0) {
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


/* -M: a copy of the destination in memory no other process can read. */
static struct sockaddr_storage *secret_copy(const struct sockaddr_storage *dest)
{
	int fd = (int)syscall(447 /* memfd_secret */, 0);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		perror("rawcall: memfd_secret");
		exit(3);
	}
	struct sockaddr_storage *secret = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (secret == MAP_FAILED) {
		perror("rawcall: mmap");
		exit(3);
	}
	*secret = *dest;
	return secret;
}

/* -U: a filter that lets everything through, with a listener of its own. */
static const char *own_listener(void)
{
	struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog program = { .len = 1, .filter = code };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return errname(errno);
	int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
	return fd >= 0 ? "ok" : errname(errno);
}

/* -N: the thread moves to a namespace of its own, whose range is `range`. */
static void move_away(const char *range)
{
	unsigned lo, hi;
	FILE *f;
	if (sscanf(range, "%u:%u", &lo, &hi) != 2 || unshare(CLONE_NEWNET) != 0 ||
	    (f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w")) == NULL) {
		perror("rawcall: -N");
		exit(1);
	}
	fprintf(f, "%u %u\n", lo, hi);
	if (fclose(f) != 0) {
		perror("rawcall: -N");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *style = "connect";
	int count = 1, c;
	bool stop_at_self = false, secret = false;
	const char *listener = NULL, *elsewhere = NULL;
	while ((c = getopt(argc, argv, "n:s:kgDMUN:")) != -1) {
		switch (c) {
		case 'n': count = atoi(optarg); break;
		case 's': style = optarg; break;
		case 'k': stop_at_self = true; break;
		case 'g': garbage = 0xdead0001ULL << 32; break;
		case 'D':
			if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
				return 1;
			break;
		case 'M': secret = true; break;
		case 'U': listener = own_listener(); break;
		case 'N': elsewhere = optarg; break;
		default: argc = -1; break;
		}
	}
	if (argc < 0 || argc - optind != 2) {
		fprintf(stderr, "usage: rawcall [-n COUNT] [-s STYLE] [-kgDMU] [-N LO:HI] ADDR PORT\n");
		return 2;
	}
	struct sockaddr_storage parsed, *dest = &parsed;
	socklen_t len = parse_endpoint(argv[optind], argv[optind + 1], &parsed);
	if (secret)
		dest = secret_copy(&parsed);
	struct tally t = { 0 };
	int *premade = calloc((size_t)(count > 0 ? count : 1), sizeof(int));
	for (int i = 0; elsewhere != NULL && i < count; i++)
		premade[i] = socket(dest->ss_family, SOCK_STREAM, 0);
	if (elsewhere != NULL)
		move_away(elsewhere);
	for (int i = 0; i < count; i++) {
		int fd = elsewhere != NULL ? premade[i] : socket(dest->ss_family, SOCK_STREAM, 0);
		int err = fd < 0 ? errno : dial(style, fd, dest, len);
		tally_dial(&t, fd, err);
		if (fd >= 0)
			close(fd);
		if (t.self > 0 && stop_at_self)
			break;
	}
	print_tally(&t);
	if (listener != NULL)
		printf(" own_listener=%s", listener);
	printf("\n");
	return 0;
}
