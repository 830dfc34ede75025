/*
 * kfeatures: which of the kernel features noselfconn uses this kernel has,
 * as one line of name=yes|no, for the kernel matrix (make test-kernels) to
 * say what each mode did there. Each is asked of the kernel itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"

static const char *yes(int ok)
{
	return ok ? "yes" : "no";
}

static int port_range(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned range;
	socklen_t len = sizeof(range);
	int ok = getsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, &len) == 0;
	close(fd);
	return ok;
}

static int pidfd(unsigned flags)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), flags);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static int mptcp(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* A listener needs a filter, so a child asks: 0 none, 1 listener, 2 and wake-up. */
static int user_notification(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog program = { .len = 1, .filter = &allow };
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					    SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
		if (listener < 0)
			_exit(0);
		_exit(ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0 ? 2 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 0;
}

int main(void)
{
	int notify = user_notification();
	/* pidfd_getfd on a bad pidfd: EBADF where it exists, ENOSYS where not */
	int getfd = syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno != ENOSYS;
	printf("ip_local_port_range=%s user_notif=%s sync_wake_up=%s pidfd_open=%s pidfd_getfd=%s "
	       "pidfd_thread=%s mptcp=%s\n",
	       yes(port_range()), yes(notify >= 1), yes(notify == 2), yes(pidfd(0)), yes(getfd),
	       yes(pidfd(PIDFD_THREAD)), yes(mptcp()));
	return 0;
}
