/*
 * noselfconn --supervise, signals between the top, the keeper and the
 * command, so that a shell, a terminal or systemd sees what it would see
 * of the command alone (see shim/doc/design-supervise.md):
 *
 * - All three share the caller's process group. A signal the kernel
 *   generates for the terminal (^C, ^\, ^Z, SIGWINCH, hang-up) reaches the
 *   command itself: the top passes on only what a process sent (kill,
 *   sigqueue).
 * - A signal sent to the whole group (kill -TERM -PGID, a shell's kill %1)
 *   reaches the command itself too, and the keeper before the top (the
 *   kernel signals a group's members newest first). So the top tells the
 *   keeper what it received, and the keeper passes it on only if it did
 *   not receive the same signal from the same sender itself.
 * - When the command stops, the top stops with the same signal; when it
 *   dies of a signal, the top dies of it (after the tree is gone).
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void nsc_relayed_signals(sigset_t *set)
{
	/* The C library's sigfillset() leaves out the signals it keeps for itself. */
	sigfillset(set);
	sigdelset(set, SIGKILL);
	sigdelset(set, SIGSTOP);
}

bool nsc_send_with_fd(int channel, const void *body, size_t len, int fd)
{
	alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
	void *base; /* iovec's pointer is not const; sendmsg only reads it */
	memcpy(&base, &body, sizeof(base));
	struct iovec iov = { .iov_base = base, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(control, 0, sizeof(control));
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(channel, &msg, MSG_NOSIGNAL) == (ssize_t)len;
}

bool nsc_receive_with_fd(int channel, void *body, size_t len, int *fd)
{
	alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = body, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	bool ok = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC) == (ssize_t)len;
	*fd = -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (!ok && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return ok;
}

bool nsc_send_message(int channel, const struct nsc_message *m)
{
	return send(channel, m, sizeof(*m), MSG_NOSIGNAL) == (ssize_t)sizeof(*m);
}

bool nsc_receive_message(int channel, struct nsc_message *m, bool wait)
{
	return recv(channel, m, sizeof(*m), wait ? 0 : MSG_DONTWAIT) == (ssize_t)sizeof(*m);
}

/*
 * The top: what a process sent it, to hand to the keeper. Not what the
 * kernel generated (the terminal's signals went to the whole group, the
 * rest are about the top itself), nor what we sent ourselves.
 */
bool nsc_relay_from(const struct signalfd_siginfo *si, pid_t keeper, struct nsc_message *m)
{
	if (si->ssi_code > 0 || (pid_t)si->ssi_pid == getpid() || (pid_t)si->ssi_pid == keeper)
		return false;
	memset(m, 0, sizeof(*m));
	m->kind = NSC_MSG_SIGNAL;
	m->value = (int)si->ssi_signo;
	m->code = si->ssi_code;
	m->pid = (pid_t)si->ssi_pid;
	m->uid = si->ssi_uid;
	m->sigval = si->ssi_int;
	return true;
}

/*
 * The keeper: signals it received itself, as evidence that the command
 * received them too. Kept a few seconds: the top's report of the same
 * signal comes within microseconds, one that never comes (a signal sent
 * to the keeper alone) must not swallow a later one.
 */
#define EVIDENCE 16
#define EVIDENCE_MS 2000
static struct {
	int signo;
	pid_t pid;
	uid_t uid;
	long at;
} evidence[EVIDENCE];

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void nsc_note_direct(const struct signalfd_siginfo *si)
{
	if (si->ssi_code > 0)
		return; /* the terminal's: the top does not report those */
	long now = now_ms();
	unsigned oldest = 0;
	for (unsigned i = 0; i < EVIDENCE; i++) {
		if (evidence[i].signo == 0 || now - evidence[i].at > EVIDENCE_MS) {
			oldest = i;
			break;
		}
		if (evidence[i].at < evidence[oldest].at)
			oldest = i;
	}
	evidence[oldest].signo = (int)si->ssi_signo;
	evidence[oldest].pid = (pid_t)si->ssi_pid;
	evidence[oldest].uid = si->ssi_uid;
	evidence[oldest].at = now;
}

bool nsc_received_too(const struct nsc_message *m)
{
	long now = now_ms();
	for (unsigned i = 0; i < EVIDENCE; i++)
		if (evidence[i].signo == m->value && evidence[i].pid == m->pid && evidence[i].uid == m->uid &&
		    now - evidence[i].at <= EVIDENCE_MS) {
			evidence[i].signo = 0; /* one report matches one */
			return true;
		}
	return false;
}

/* Passes a reported signal to the command; a sigqueue() keeps its value. */
void nsc_forward(int pidfd, const struct nsc_message *m)
{
	siginfo_t info;
	memset(&info, 0, sizeof(info));
	info.si_signo = m->value;
	info.si_code = SI_QUEUE;
	info.si_pid = m->pid;
	info.si_uid = m->uid;
	info.si_value.sival_int = m->sigval;
	syscall(SYS_pidfd_send_signal, pidfd, m->value, m->code == SI_QUEUE ? &info : NULL, 0);
}

/* Our own children, any thread's: /proc/self/task/TID/children. */
static size_t list_children(pid_t *out, size_t max)
{
	size_t n = 0;
	DIR *tasks = opendir("/proc/self/task");
	const struct dirent *task;
	while (tasks != NULL && (task = readdir(tasks)) != NULL) {
		char path[300], text[4096];
		if (task->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", task->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t len = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
		if (fd >= 0)
			close(fd);
		text[len > 0 ? len : 0] = '\0';
		for (char *p = text, *end; n < max; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p || pid <= 0)
				break;
			out[n++] = (pid_t)pid;
		}
	}
	if (tasks != NULL)
		closedir(tasks);
	return n;
}

void nsc_signal_children(int sig)
{
	pid_t children[512];
	size_t n = list_children(children, sizeof(children) / sizeof(children[0]));
	for (size_t i = 0; i < n; i++)
		kill(children[i], sig);
}

void nsc_kill_tree(void)
{
	for (;;) {
		nsc_signal_children(SIGKILL);
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			return;
	}
}

/* Lets one blocked signal with its default action happen to us now. */
static void take(int sig)
{
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	signal(sig, SIG_DFL);
	kill(getpid(), sig); /* pending while blocked */
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	sigprocmask(SIG_BLOCK, &one, NULL);
}

void nsc_stop_as(int sig)
{
	if (sig == SIGSTOP)
		kill(getpid(), SIGSTOP);
	else
		take(sig);
}

int nsc_die_as(int status)
{
	if (!WIFSIGNALED(status))
		return WEXITSTATUS(status);
	/* As timeout(1): the command dumped its core, if any, not us. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	take(WTERMSIG(status));
	return 128 + WTERMSIG(status); /* still here: not a deadly one for us */
}
