/*
 * noselfconn --supervise, the notifications: the filter (filter.c) reports
 * each dial to two threads here, which answer each as trapped.c decides.
 * Every other system call runs unhindered.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

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
	/* Each dial borrows a descriptor, and pidfds are kept: room for them
	 * (the command, started already, keeps its own limit). */
	struct rlimit files;
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
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
