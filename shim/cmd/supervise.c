/*
 * noselfconn --supervise: guard programs a preload cannot reach (static
 * binaries, raw syscall(2)) with seccomp user notification. The command runs
 * under a filter that reports each connect(), and each sendto()/sendmsg()
 * with MSG_FASTOPEN, to this process, which reads the destination from the
 * caller's memory, takes a duplicate of its socket (pidfd_getfd) and, for a
 * TCP dial to an ephemeral port, narrows the socket's port range so the
 * kernel cannot pick the destination's port; then the call continues.
 * Every other system call runs unhindered.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
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
#include "exec.h"
#include "portrange.h"
#include "tcpsock.h"
#include "verdict.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#define NATIVE_ARCH 0 /* unsupported: installing the filter fails cleanly */
#endif

/* The low half of a 64-bit syscall argument (little-endian targets above). */
#define ARG_LOW(n) (offsetof(struct seccomp_data, args) + sizeof(__u64) * (n))

static pid_t command_pid;

static void forward_signal(int sig)
{
	if (command_pid > 0)
		kill(command_pid, sig);
}

/* Notify on connect(), and on sendto()/sendmmsg()/sendmsg() only with MSG_FASTOPEN. */
static int install_filter(void)
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
	if (NATIVE_ARCH == 0) {
		errno = ENOSYS;
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    &program);
}

/* Child side: the filter, then its listener (or the errno) to the parent. */
static void send_listener(int channel, int listener, int err)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (listener >= 0) {
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &listener, sizeof(int));
	}
	if (sendmsg(channel, &msg, 0) < 0)
		_exit(NSC_EXIT_FAILURE);
}

/* Parent side: the listener, or -1 with errno set to why the child failed. */
static int receive_listener(int channel)
{
	int err = EPROTO, listener = -1;
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	if (recvmsg(channel, &msg, MSG_CMSG_CLOEXEC) <= 0) {
		errno = EPROTO;
		return -1;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_type == SCM_RIGHTS)
		memcpy(&listener, CMSG_DATA(c), sizeof(int));
	if (listener < 0)
		errno = err;
	return listener;
}

static bool read_memory(__u32 pid, unsigned long address, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	/* An address in the caller, not ours: never dereferenced here. */
	struct iovec remote = { .iov_base = (void *)(uintptr_t)address, .iov_len = len }; // NOLINT(performance-no-int-to-ptr)
	return process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* The destination a trapped call dials, copied from the caller. */
static bool read_destination(const struct seccomp_notif *req, struct sockaddr_storage *dest,
			     socklen_t *len)
{
	unsigned long address, length;
	if (req->data.nr == __NR_sendmsg || req->data.nr == __NR_sendmmsg) {
		/* sendmmsg's first message, the one that dials, starts with one too */
		struct msghdr msg;
		if ((req->data.nr == __NR_sendmmsg && (unsigned)req->data.args[2] == 0) ||
		    !read_memory(req->pid, req->data.args[1], &msg, sizeof(msg)))
			return false;
		address = (unsigned long)msg.msg_name;
		length = msg.msg_namelen;
	} else if (req->data.nr == __NR_sendto) {
		address = req->data.args[4];
		length = req->data.args[5];
	} else {
		address = req->data.args[1];
		length = req->data.args[2];
	}
	if (address == 0 || length < sizeof(sa_family_t) || length > sizeof(*dest))
		return false; /* the kernel gives its own answer */
	*len = (socklen_t)length;
	return read_memory(req->pid, address, dest, length);
}

/* A pidfd for the calling thread (Linux 6.9), else for its whole process. */
static int open_pidfd(pid_t tid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pidfd >= 0)
		return pidfd;
	char path[64], line[256];
	long tgid = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	FILE *status = fopen(path, "re");
	while (status != NULL && fgets(line, sizeof(line), status) != NULL)
		if (strncmp(line, "Tgid:", 5) == 0)
			tgid = strtol(line + 5, NULL, 10);
	if (status != NULL)
		fclose(status);
	return tgid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)tgid, 0) : -1;
}

/*
 * pidfds kept between notifications, by thread id: a thread that dials again
 * costs no pidfd_open. A stale entry (its process gone, the id reused) only
 * makes pidfd_getfd fail, and is then replaced.
 */
#define PIDFD_CACHE 64
static struct {
	pid_t tid;
	int pidfd;
} pidfds[PIDFD_CACHE];

/* A duplicate of the caller's socket. */
static int borrow_socket(pid_t tid, int fd)
{
	unsigned slot = (unsigned)tid % PIDFD_CACHE;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (pidfds[slot].tid != tid || pidfds[slot].pidfd <= 0) {
			if (pidfds[slot].pidfd > 0)
				close(pidfds[slot].pidfd);
			pidfds[slot].tid = tid;
			pidfds[slot].pidfd = open_pidfd(tid);
			if (pidfds[slot].pidfd < 0)
				return -1;
		}
		int sock = (int)syscall(SYS_pidfd_getfd, pidfds[slot].pidfd, fd, 0);
		if (sock >= 0 || errno == EBADF)
			return sock;
		pidfds[slot].tid = 0; /* ESRCH: a stale pidfd; open afresh once */
	}
	return -1;
}

/* Before Linux 6.3: bind a port of the range other than the target. */
static bool bind_other_port(int sock, int family, struct nsc_port_range range, uint16_t target)
{
	unsigned span = (unsigned)(range.high - range.low) + 1;
	unsigned start = (unsigned)getpid() * 2654435761U;
	for (unsigned i = 0; i < span && i < 256; i++) {
		uint16_t port = (uint16_t)(range.low + (start + i) % span);
		if (port == target)
			continue;
		struct sockaddr_storage any = { .ss_family = (sa_family_t)family };
		if (family == AF_INET)
			((struct sockaddr_in *)&any)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&any)->sin6_port = htons(port);
		socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		if (bind(sock, (struct sockaddr *)&any, len) == 0)
			return true;
	}
	return false;
}

/*
 * Keep the kernel from choosing the target port for this socket. Returns 0 to
 * let the call continue, or an errno to fail it with (no other port exists).
 */
static int steer_socket(int sock, uint16_t target, struct nsc_port_range range)
{
	int family = AF_UNSPEC;
	socklen_t len;
	if (!nsc_is_tcp_socket(sock))
		return 0; /* not TCP: not ours */
	/* (A socket the program bound already keeps its port: the range
	 * only matters when the kernel chooses.) */

	uint32_t own = 0, avoiding;
	if (!nsc_get_socket_range(sock, &own))
		own = 0;
	if (!nsc_range_without(nsc_effective_range(range, own), target, &avoiding))
		return ECONNREFUSED;
	if (nsc_set_socket_range(sock, avoiding))
		return 0;
	len = sizeof(family);
	getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &family, &len);
	return bind_other_port(sock, family, range, target) ? 0 : ECONNREFUSED;
}

static void handle(int listener, const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
		   struct nsc_port_range range)
{
	struct sockaddr_storage dest;
	socklen_t len;
	resp->id = req->id;
	resp->val = 0;
	resp->error = 0;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;

	/* The caller's memory is only trusted while the notification lives. */
	if (read_destination(req, &dest, &len) &&
	    ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) == 0 &&
	    nsc_dial_verdict((struct sockaddr *)&dest, len, range) == NSC_GUARD) {
		int sock = borrow_socket((pid_t)req->pid, (int)req->data.args[0]);
		if (sock >= 0) {
			int err = steer_socket(sock, nsc_dest_port((struct sockaddr *)&dest), range);
			close(sock);
			if (err != 0) {
				resp->flags = 0;
				resp->error = -err;
			}
		}
	}
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller died */
}

static int exit_status(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Reaps what has exited; true once nothing is left to wait for. */
static bool reap(int *command_status)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == command_pid)
			*command_status = status;
	return pid < 0 && errno == ECHILD;
}

static int serve(int listener, struct nsc_port_range range)
{
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
		return NSC_EXIT_FAILURE;
	struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
	struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
	int command_status = 0;
	bool listening = true;
	/* Switch to us right away on a notification (Linux 6.6+): each trapped
	 * dial is a round trip here, and this halves its latency. */
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	for (;;) {
		bool done = reap(&command_status);
		if (done && !listening)
			break;
		struct pollfd p = { .fd = listener, .events = POLLIN };
		int n = listening ? poll(&p, 1, 100) : (usleep(100000), 0);
		if (n <= 0)
			continue;
		if (p.revents & POLLIN) {
			memset(req, 0, sizes.seccomp_notif);
			memset(resp, 0, sizes.seccomp_notif_resp);
			if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0)
				handle(listener, req, resp, range);
		} else if (p.revents & (POLLHUP | POLLERR)) {
			listening = false; /* no filtered process is left */
		}
	}
	free(req);
	free(resp);
	return exit_status(command_status);
}

int nsc_supervise(char **argv, enum nsc_fallback fallback)
{
	int channel[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
		perror("noselfconn: socketpair");
		return NSC_EXIT_FAILURE;
	}
	/* Orphans of the command come back to us: we wait for them too. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	command_pid = fork();
	if (command_pid < 0) {
		perror("noselfconn: fork");
		return NSC_EXIT_FAILURE;
	}
	if (command_pid == 0) {
		close(channel[0]);
		int listener = install_filter();
		send_listener(channel[1], listener, errno);
		if (listener < 0)
			_exit(NSC_EXIT_FAILURE);
		close(listener);
		close(channel[1]);
		_exit(nsc_exec(argv));
	}
	close(channel[1]);
	int listener = receive_listener(channel[0]);
	int err = errno;
	close(channel[0]);
	if (listener < 0) {
		waitpid(command_pid, NULL, 0);
		fprintf(stderr, "noselfconn: --supervise is unavailable here (seccomp user notification: %s); %s\n",
			strerror(err), fallback == NSC_FALLBACK_PRELOAD ? "using the preload instead" : "giving up");
		return fallback == NSC_FALLBACK_PRELOAD ? nsc_run_preloaded(argv) : NSC_EXIT_FAILURE;
	}

	struct sigaction forward = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
	sigaction(SIGINT, &forward, NULL);
	sigaction(SIGTERM, &forward, NULL);
	sigaction(SIGHUP, &forward, NULL);

	struct nsc_port_range range = NSC_DEFAULT_RANGE;
	nsc_read_port_range(NSC_PORT_RANGE_FILE, &range);
	int status = serve(listener, range);
	close(listener);
	return status;
}
