/*
 * noselfconn --supervise, the processes. Three levels:
 *
 *   noselfconn          the top: what the caller waits on and signals; it
 *    |                  forwards every catchable terminating signal down
 *    |                  and returns the command's status
 *    +- noselfconn      the keeper: answers the notifications (notify.c),
 *        |              reaps the whole tree (a subreaper), forwards
 *        +- COMMAND     under the seccomp filter, with all it starts
 *
 * Fail-stop: nothing the keeper served may outlive it, or every dial would
 * fail with ENOSYS. If the keeper dies (SIGKILL, the OOM killer), the
 * command dies with it (PR_SET_PDEATHSIG) and every orphan of the tree comes
 * to the top, also a subreaper, which kills them all. If the top dies, the
 * keeper sees its pidfd and kills the whole tree. Signals only ever go to
 * our own unreaped children (whose ids cannot be reused) or through a pidfd.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"

/* Every catchable signal whose default is to terminate. */
static const int forwarded[] = { SIGHUP,  SIGINT,    SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
				 SIGPIPE, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO,   SIGPWR };

/* What the command's process tells the keeper, and the keeper the top. */
struct start {
	int err;	  /* 0, or why the filter could not be installed */
	int no_new_privs; /* the kernel required it (not root) */
};

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int exit_status(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Our own children, any thread's: /proc/self/task/TID/children. */
static size_t list_children(pid_t *out, size_t max)
{
	size_t n = 0;
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *task;
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

/* Sends sig to each of our children: unreaped, so their ids are still theirs. */
static void signal_children(int sig)
{
	pid_t children[512];
	size_t n = list_children(children, sizeof(children) / sizeof(children[0]));
	for (size_t i = 0; i < n; i++)
		kill(children[i], sig);
}

/*
 * Kills everything below us. Each child killed hands its own children to us
 * (we are a subreaper), so kill and reap until no child is left.
 */
static void kill_tree(void)
{
	for (;;) {
		signal_children(SIGKILL);
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			return;
	}
}

/* The command's side: the filter, its listener (or the errno) to the keeper. */
static void send_listener(int channel, int listener, struct start *s)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = s, .iov_len = sizeof(*s) };
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

/* The keeper's side: the listener, or -1 with s->err saying why not. */
static int receive_listener(int channel, struct start *s)
{
	int listener = -1;
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = s, .iov_len = sizeof(*s) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	if (recvmsg(channel, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*s)) {
		s->err = EPROTO;
		return -1;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_type == SCM_RIGHTS)
		memcpy(&listener, CMSG_DATA(c), sizeof(int));
	if (listener < 0 && s->err == 0)
		s->err = EPROTO;
	return listener;
}

struct saved {
	sigset_t mask;		 /* the caller's signal mask */
	struct sigaction child;	 /* and its SIGCHLD action */
};

static void run_command(char **argv, int channel, pid_t keeper, const struct saved *saved)
{
	/* Fail-stop: if the keeper dies, so do we. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != keeper)
		_exit(NSC_EXIT_FAILURE);
	struct start s = { 0 };
	bool no_new_privs;
	int listener = nsc_install_filter(&no_new_privs);
	s.err = listener < 0 ? errno : 0;
	s.no_new_privs = no_new_privs;
	send_listener(channel, listener, &s);
	if (listener < 0)
		_exit(NSC_EXIT_FAILURE);
	close(listener);
	close(channel);
	sigaction(SIGCHLD, &saved->child, NULL);
	sigprocmask(SIG_SETMASK, &saved->mask, NULL);
	_exit(nsc_exec(argv));
}

/* Reaps what has exited; true once no child is left. */
static bool reap(pid_t command, int *command_pidfd, int *command_status)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == command) {
			*command_status = status;
			close(*command_pidfd);
			*command_pidfd = -1;
		}
	return pid < 0 && errno == ECHILD;
}

/* The keeper: starts the command, serves it, reaps its tree. */
static int keep(char **argv, const struct saved *saved, const sigset_t *signals, int report,
		pid_t top)
{
	struct start s = { .err = EPROTO };
	int channel[2];
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	int top_pidfd = pidfd_open(top);
	if (top_pidfd < 0 || getppid() != top ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
		s.err = errno;
		(void)!write(report, &s, sizeof(s));
		return NSC_EXIT_FAILURE;
	}
	pid_t command = fork();
	if (command == 0) {
		close(channel[0]);
		run_command(argv, channel[1], getppid(), saved);
	}
	close(channel[1]);
	int command_pidfd = command > 0 ? pidfd_open(command) : -1;
	int listener = command > 0 ? receive_listener(channel[0], &s) : -1;
	if (command < 0)
		s.err = errno;
	close(channel[0]);
	int signal_fd = signalfd(-1, signals, SFD_CLOEXEC);
	if (listener >= 0 && (command_pidfd < 0 || signal_fd < 0 || !nsc_serve_notifications(listener))) {
		s.err = errno; /* no way to serve it: it must not run */
		kill_tree();
		listener = -1;
	}
	ssize_t sent = write(report, &s, sizeof(s));
	close(report);
	if (listener < 0 || sent != (ssize_t)sizeof(s)) {
		kill_tree();
		return NSC_EXIT_FAILURE;
	}

	int command_status = 0;
	struct pollfd p[2] = { { .fd = signal_fd, .events = POLLIN }, { .fd = top_pidfd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue; /* EINTR */
		if (p[1].revents != 0) {
			kill_tree(); /* the top is gone: nobody waits for the tree */
			return NSC_EXIT_FAILURE;
		}
		struct signalfd_siginfo si;
		if (read(signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGCHLD) {
			if (reap(command, &command_pidfd, &command_status))
				return exit_status(command_status);
		} else if (command_pidfd >= 0) {
			pidfd_send_signal(command_pidfd, (int)si.ssi_signo);
		} else {
			signal_children((int)si.ssi_signo); /* what remains of its tree */
		}
	}
}

/* The top: forwards signals to the keeper, returns its status. */
static int wait_keeper(pid_t keeper, int keeper_pidfd, int signal_fd)
{
	for (;;) {
		struct signalfd_siginfo si;
		if (read(signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue; /* EINTR */
		if (si.ssi_signo != SIGCHLD) {
			pidfd_send_signal(keeper_pidfd, (int)si.ssi_signo);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != keeper)
				continue; /* an orphan the keeper did not outlive */
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			fprintf(stderr, "noselfconn: the supervisor was killed (%s); stopping the command\n",
				strsignal(WTERMSIG(status)));
			kill_tree();
			return NSC_EXIT_FAILURE;
		}
	}
}

/* Our own descriptors must not take the command's 0, 1 or 2 when closed. */
static void hold_standard_fds(void)
{
	int fd;
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

int nsc_supervise(char **argv, enum nsc_fallback fallback)
{
	struct saved saved;
	sigset_t signals;
	int report[2];
	hold_standard_fds(); /* close-on-exec: the command finds them closed */
	sigemptyset(&signals);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&signals, forwarded[i]);
	sigaddset(&signals, SIGCHLD);
	struct sigaction child = { .sa_handler = SIG_DFL };
	if (pipe2(report, O_CLOEXEC) != 0 || sigaction(SIGCHLD, &child, &saved.child) != 0 ||
	    sigprocmask(SIG_BLOCK, &signals, &saved.mask) != 0) {
		perror("noselfconn: --supervise");
		return NSC_EXIT_FAILURE;
	}
	/* Orphans of the tree come back to us should the keeper die. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	pid_t top = getpid();
	pid_t keeper = fork();
	if (keeper == 0) {
		close(report[0]);
		exit(keep(argv, &saved, &signals, report[1], top));
	}
	close(report[1]);
	struct start s = { .err = keeper < 0 ? errno : EPROTO };
	int keeper_pidfd = keeper > 0 ? pidfd_open(keeper) : -1;
	int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (keeper > 0 && read(report[0], &s, sizeof(s)) != (ssize_t)sizeof(s))
		s.err = EPROTO;
	close(report[0]);
	if (s.err == 0 && (keeper_pidfd < 0 || signal_fd < 0)) {
		perror("noselfconn: --supervise");
		kill_tree(); /* the command must not run unwatched */
		return NSC_EXIT_FAILURE;
	}
	if (s.err != 0) {
		if (keeper > 0)
			waitpid(keeper, NULL, 0);
		/* The preload runs the command in this process: leave nothing of ours. */
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
		sigaction(SIGCHLD, &saved.child, NULL);
		sigprocmask(SIG_SETMASK, &saved.mask, NULL);
		if (keeper_pidfd >= 0)
			close(keeper_pidfd);
		if (signal_fd >= 0)
			close(signal_fd);
		fprintf(stderr, "noselfconn: --supervise is unavailable here (seccomp user notification: %s); %s\n",
			strerror(s.err), fallback == NSC_FALLBACK_PRELOAD ? "using the preload instead" : "giving up");
		return fallback == NSC_FALLBACK_PRELOAD ? NSC_SUPERVISE_UNAVAILABLE : NSC_EXIT_FAILURE;
	}
	if (s.no_new_privs)
		fprintf(stderr, "noselfconn: --supervise without root sets no_new_privs: setuid and "
				"file-capability programs run without their privileges\n");
	return wait_keeper(keeper, keeper_pidfd, signal_fd);
}
