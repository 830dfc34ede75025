/*
 * supervise-floor CMD [ARG...]: the least any --supervise can cost. CMD runs
 * under a seccomp filter that reports each connect(); one thread here takes
 * each report, reads the destination from the caller's memory (the one read
 * any supervisor must make to know where the dial goes) and lets the call
 * continue. No guard, no socket borrowed: what is left is the mechanism's
 * own price, the floor noselfconn --supervise is measured against.
 * With --no-read, not even the read: the kernel's round trip alone.
 * Exits with CMD's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"

static int listener;
static bool read_destination = true;
static struct seccomp_notif_sizes sizes;

static int install_filter(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    &program);
}

/* One thread blocked in RECV: no poll() before it, no second waiter woken. */
static void *answer(void *unused)
{
	(void)unused;
	struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
	struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
	if (req == NULL || resp == NULL)
		exit(125);
	for (;;) {
		memset(req, 0, sizes.seccomp_notif);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
			int err = errno;
			struct pollfd ready = { .fd = listener, .events = POLLIN };
			if (err == EINTR || (err == ENOENT && !(poll(&ready, 1, 0) == 1 &&
								(ready.revents & POLLHUP))))
				continue; /* a signal, or a caller that died */
			return NULL; /* nobody is left */
		}
		struct sockaddr_storage dest;
		size_t len = (size_t)(uint32_t)req->data.args[2];
		struct iovec local = { .iov_base = &dest, .iov_len = len < sizeof(dest) ? len : sizeof(dest) };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)req->data.args[1], .iov_len = local.iov_len };
		if (read_destination)
			process_vm_readv((pid_t)req->pid, &local, 1, &remote, 1, 0);
		memset(resp, 0, sizes.seccomp_notif_resp);
		resp->id = req->id;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--no-read") == 0) {
		read_destination = false;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: supervise-floor [--no-read] CMD [ARG...]\n");
		return 2;
	}
	int handoff[2], go[2];
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0 || pipe(handoff) != 0 || pipe(go) != 0)
		return 125;
	pid_t child = fork();
	if (child == 0) {
		/* Filtered from here: the listener's number goes up, and we wait
		 * for the parent to have taken it before running CMD. */
		int fd = install_filter();
		char ready;
		if (write(handoff[1], &fd, sizeof(fd)) != sizeof(fd) || fd < 0 ||
		    read(go[0], &ready, 1) != 1)
			_exit(125);
		close(fd);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	int fd = -1;
	if (child < 0 || read(handoff[0], &fd, sizeof(fd)) != sizeof(fd) || fd < 0)
		return 125;
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	listener = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (listener < 0)
		return 125;
	/* As the supervisor: the answering thread runs at once on the dialing CPU. */
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	pthread_t thread;
	if (pthread_create(&thread, NULL, answer, NULL) != 0)
		return 125;
	if (write(go[1], "", 1) != 1)
		return 125;
	int status;
	if (waitpid(child, &status, 0) != child)
		return 125;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
