/*
 * noselfconn --supervise, the notifications: a seccomp filter reports each
 * connect(), and each sendto()/sendmsg()/sendmmsg() with MSG_FASTOPEN, to
 * two threads here, which answer each as trapped.c decides. Every other
 * system call runs unhindered.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#define NATIVE_ARCH 0 /* unsupported: installing the filter fails cleanly */
#endif

/* The low half of a 64-bit syscall argument (little-endian targets above):
 * an int argument is what the kernel reads, whatever the upper half holds
 * (trapped.c reads them the same way). */
#define ARG_LOW(n) (offsetof(struct seccomp_data, args) + sizeof(__u64) * (n))

/*
 * Once we have received a dial, a signal must not interrupt it: the caller
 * would see EINTR (or, in Python, a connect() that succeeded) for a dial
 * that never started. WAIT_KILLABLE_RECV (Linux 5.19) makes the wait
 * killable only from then on; before, the call is installed without it.
 */
static int install(const struct sock_fprog *program)
{
	int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
				    program);
	if (listener >= 0 || errno != EINVAL)
		return listener;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, program);
}

/* Notify on connect(), and on sendto()/sendmmsg()/sendmsg() only with MSG_FASTOPEN. */
int nsc_install_filter(bool *no_new_privs)
{
	struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 11),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 8, 0),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 3, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmmsg, 2, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmsg, 3, 0),
		/* 7 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(3)),
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN, 2, 3),
		/* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2)),
		/* 11 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN, 0, 1),
		/* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		/* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	*no_new_privs = false;
	if (NATIVE_ARCH == 0) {
		errno = ENOSYS;
		return -1;
	}
	/* Linux 5.0-5.5 notify, but cannot lend us the caller's socket
	 * (pidfd_getfd, 5.6): there the supervisor could only watch. */
	if (syscall(SYS_pidfd_getfd, -1, -1, 0) < 0 && errno == ENOSYS)
		return -1;
	/* With CAP_SYS_ADMIN, no no_new_privs: setuid programs keep working. */
	int listener = install(&program);
	if (listener >= 0 || errno != EACCES)
		return listener;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	*no_new_privs = true;
	return install(&program);
}

static struct seccomp_notif_sizes sizes;

static int served_listener = -1;

struct buffers {
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
};

static void free_buffers(const struct buffers *b)
{
	free(b->req);
	free(b->resp);
}

static bool alloc_buffers(struct buffers *b)
{
	b->req = calloc(1, sizes.seccomp_notif);
	b->resp = calloc(1, sizes.seccomp_notif_resp);
	if (b->req != NULL && b->resp != NULL)
		return true;
	free_buffers(b);
	errno = ENOMEM;
	return false;
}

/* No filtered process is left: nothing will come any more. */
static bool hung_up(void)
{
	struct pollfd ready = { .fd = served_listener, .events = POLLIN };
	return poll(&ready, 1, 0) == 1 && (ready.revents & (POLLHUP | POLLERR));
}

/* Waits for the next notification (no poll() first: one call less). */
static bool receive(struct seccomp_notif *req)
{
	for (;;) {
		memset(req, 0, sizes.seccomp_notif);
		if (ioctl(served_listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0)
			return true;
		/* ENOENT: the caller died, or (newer kernels) no filtered
		 * process is left; older ones keep us waiting here, and the
		 * thread ends with the process. */
		if (errno != EINTR && (errno != ENOENT || hung_up()))
			return false;
	}
}

static void answer(const struct buffers *b)
{
	memset(b->resp, 0, sizes.seccomp_notif_resp);
	int err = nsc_guard_trapped(served_listener, b->req);
	b->resp->id = b->req->id;
	b->resp->flags = err == 0 ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	b->resp->error = -err;
	ioctl(served_listener, SECCOMP_IOCTL_NOTIF_SEND, b->resp); /* ENOENT: the caller died */
}

/*
 * Two threads answer. The primary alone waits on the listener, so each
 * notification wakes one thread, not two. The backup takes over while the
 * primary has been on one notification for STUCK_MS (its read of a
 * caller's memory stalls on a FUSE or userfaultfd page), so that dial holds
 * up the others STUCK_MS to twice that, not for as long as it stalls. The
 * primary tells where it is with a counter, odd while it is on a
 * notification: no system call. The backup sleeps on a futex while the
 * primary is idle, woken by the first notification after that; while the
 * primary works, it looks every STUCK_MS; idle, nobody wakes up.
 */
#define STUCK_MS 5
static atomic_ulong primary_steps;
/* 1: asleep until the primary's next notification. A plain int, the
 * futex's word, read and written with the __atomic built-ins. */
static int backup_parked;
static struct buffers primary_buffers, backup_buffers;

static void wake_backup(void)
{
	if (__atomic_exchange_n(&backup_parked, 0, __ATOMIC_SEQ_CST) == 1)
		syscall(SYS_futex, &backup_parked, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *primary(void *buffers)
{
	const struct buffers *b = buffers;
	while (receive(b->req)) {
		atomic_fetch_add(&primary_steps, 1);
		wake_backup();
		answer(b);
		atomic_fetch_add(&primary_steps, 1);
	}
	/* Nobody is left, or the listener failed us: stuck for good, so
	 * the backup serves whatever may still come. */
	atomic_fetch_add(&primary_steps, 1);
	wake_backup();
	return NULL;
}

/*
 * Answers in the primary's place, waiting in RECV as it does, until the
 * primary has moved on from step `stuck`. False when nobody is left. (It
 * may then still wait in RECV beside the primary: the next notification
 * wakes both, once, and brings it back here.)
 */
static bool stand_in(const struct buffers *b, unsigned long stuck)
{
	do {
		if (!receive(b->req))
			return false;
		answer(b);
	} while (atomic_load(&primary_steps) == stuck);
	return true;
}

static void *backup(void *buffers)
{
	const struct buffers *b = buffers;
	const struct timespec pause = { .tv_nsec = STUCK_MS * 1000000L };
	for (;;) {
		/* The primary's exchange sees this, or we see it at work:
		 * a wake-up cannot fall between (futex checks the value). */
		__atomic_store_n(&backup_parked, 1, __ATOMIC_SEQ_CST);
		if ((atomic_load(&primary_steps) & 1) == 0)
			syscall(SYS_futex, &backup_parked, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
		__atomic_store_n(&backup_parked, 0, __ATOMIC_SEQ_CST);
		for (;;) {
			unsigned long seen = atomic_load(&primary_steps);
			nanosleep(&pause, NULL);
			if (atomic_load(&primary_steps) != seen)
				continue; /* moving: look again later */
			if ((seen & 1) == 0)
				break; /* idle all that time: park */
			if (!stand_in(b, seen))
				return NULL;
		}
	}
}

bool nsc_serve_notifications(int fd)
{
	served_listener = fd;
	nsc_trapped_init();
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
		return false;
	/* Switch to us right away on a notification (Linux 6.6+): each trapped
	 * dial is a round trip here, and this halves its latency. */
	ioctl(served_listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	/* Each thread's buffers first: a thread that could not start its
	 * work must fail us here, not leave every dial waiting. */
	if (!alloc_buffers(&primary_buffers) || !alloc_buffers(&backup_buffers))
		return false;
	void *(*const roles[])(void *) = { primary, backup };
	struct buffers *buffers[] = { &primary_buffers, &backup_buffers };
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		pthread_t thread;
		pthread_attr_t attr;
		int err = pthread_attr_init(&attr);
		if (err == 0) {
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&attr, (size_t)256 * 1024);
			err = pthread_create(&thread, &attr, roles[i], buffers[i]);
			pthread_attr_destroy(&attr);
		}
		if (err != 0) {
			errno = err;
			return false;
		}
	}
	return true;
}
