/*
 * noselfconn --supervise, the keeper: starts the command under the filter,
 * answers its notifications (notify.c), reaps its whole tree (a
 * subreaper), passes on the signals the top reports (relay.c) and tells the
 * top when the command stops, runs again, and how it ended.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"

/* The keeper's side: the listener, or -1 with s->value saying why not. */
static int receive_listener(int channel, struct nsc_message *s)
{
	int listener;
	bool received = nsc_receive_with_fd(channel, s, sizeof(*s), &listener);
	if (!received || (listener < 0 && s->value == 0))
		s->value = EPROTO;
	return listener;
}

static void run_command(char **argv, int channel, pid_t keeper, const struct nsc_saved *saved)
{
	/* Fail-stop: if the keeper dies, so do we. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != keeper)
		_exit(NSC_EXIT_FAILURE);
	struct nsc_message s = { .kind = NSC_MSG_STARTED };
	bool no_new_privs;
	int listener = nsc_install_filter(&no_new_privs);
	s.value = listener < 0 ? errno : 0;
	s.no_new_privs = no_new_privs;
	/* The filter's listener (or the errno) to the keeper. */
	if (!nsc_send_with_fd(channel, &s, sizeof(s), listener))
		_exit(NSC_EXIT_FAILURE);
	if (listener < 0)
		_exit(NSC_EXIT_FAILURE);
	close(listener);
	close(channel);
	sigaction(SIGCHLD, &saved->child, NULL);
	sigprocmask(SIG_SETMASK, &saved->mask, NULL);
	_exit(nsc_exec(argv));
}

struct tree {
	pid_t command;
	int command_pidfd; /* -1 once the command is reaped */
	int status;	   /* then its wait status */
	int channel, top_pidfd;
};

/* The command's own changes: stopped, continued, ended. */
static void watch_command(struct tree *t)
{
	int status;
	while (t->command_pidfd >= 0 && waitpid(t->command, &status, WNOHANG | WUNTRACED | WCONTINUED) == t->command) {
		struct nsc_message m = { .kind = NSC_MSG_CONTINUED };
		if (WIFSTOPPED(status)) {
			m.kind = NSC_MSG_STOPPED;
			m.value = WSTOPSIG(status);
		} else if (!WIFCONTINUED(status)) {
			t->status = status;
			close(t->command_pidfd);
			t->command_pidfd = -1;
			return;
		}
		nsc_send_message(t->channel, &m);
		if (m.kind == NSC_MSG_CONTINUED) /* someone else woke it: wake the top too */
			syscall(SYS_pidfd_send_signal, t->top_pidfd, SIGCONT, NULL, 0);
	}
}

/* Reaps what has exited; true once no child is left. */
static bool reap(struct tree *t)
{
	watch_command(t);
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == t->command && t->command_pidfd >= 0) {
			t->status = status;
			close(t->command_pidfd);
			t->command_pidfd = -1;
		}
	return pid < 0 && errno == ECHILD;
}

/* Signals the keeper received itself; true once the tree is gone. */
static bool take_signals(int signal_fd, struct tree *t)
{
	struct signalfd_siginfo si;
	bool children = false;
	while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			children = true;
		else
			nsc_note_direct(&si);
	}
	return children && reap(t);
}

/* What the top received: passed on unless the command received it too. */
static void take_reports(struct tree *t)
{
	struct nsc_message m;
	while (nsc_receive_message(t->channel, &m, false))
		if (m.kind == NSC_MSG_SIGNAL && !nsc_received_too(&m)) {
			if (t->command_pidfd >= 0)
				nsc_forward(t->command_pidfd, &m);
			else
				nsc_signal_children(m.value); /* what remains of its tree */
		}
}

int nsc_keep(char **argv, const struct nsc_saved *saved, const sigset_t *signals, int channel, pid_t top)
{
	struct nsc_message s = { .kind = NSC_MSG_STARTED, .value = EPROTO };
	int pair[2];
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	struct tree t = { .channel = channel, .command_pidfd = -1 };
	t.top_pidfd = (int)syscall(SYS_pidfd_open, top, 0);
	if (t.top_pidfd < 0 || getppid() != top ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
		s.value = errno;
		nsc_send_message(channel, &s);
		return NSC_EXIT_FAILURE;
	}
	t.command = fork();
	if (t.command == 0) {
		close(pair[0]);
		close(channel);
		run_command(argv, pair[1], getppid(), saved);
	}
	close(pair[1]);
	t.command_pidfd = t.command > 0 ? (int)syscall(SYS_pidfd_open, t.command, 0) : -1;
	int listener = t.command > 0 ? receive_listener(pair[0], &s) : -1;
	if (t.command < 0)
		s.value = errno;
	close(pair[0]);
	int signal_fd = signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (listener >= 0 && (t.command_pidfd < 0 || signal_fd < 0 || !nsc_serve_notifications(listener))) {
		s.value = errno; /* no way to serve it: it must not run */
		nsc_kill_tree();
		listener = -1;
	}
	if (!nsc_send_message(channel, &s) || listener < 0) {
		nsc_kill_tree();
		return NSC_EXIT_FAILURE;
	}

	struct pollfd p[3] = { { .fd = signal_fd, .events = POLLIN },
			       { .fd = t.top_pidfd, .events = POLLIN },
			       { .fd = channel, .events = POLLIN } };
	for (;;) {
		if (poll(p, 3, -1) < 0)
			continue; /* EINTR */
		if (p[1].revents != 0) {
			nsc_kill_tree(); /* the top is gone: nobody waits for the tree */
			return NSC_EXIT_FAILURE;
		}
		/* Our own signals first: a group's signal reached us before the top. */
		if (take_signals(signal_fd, &t)) {
			struct nsc_message done = { .kind = NSC_MSG_FINISHED, .value = t.status };
			nsc_send_message(channel, &done);
			return 0;
		}
		if (p[2].revents & POLLIN)
			take_reports(&t);
		else if (p[2].revents != 0)
			p[2].fd = -1; /* the top closed its end: it is going, see p[1] */
	}
}
