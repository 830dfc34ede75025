/*
 * noselfconn --supervise, the processes. Three levels:
 *
 *   noselfconn          the top: what the caller waits on and signals; it
 *    |                  reports the signals processes send it to the keeper,
 *    |                  stops when the command stops, and ends as it ends
 *    +- noselfconn      the keeper (keeper.c): answers the notifications,
 *        |              reaps the whole tree (a subreaper), passes signals on
 *        +- COMMAND     under the seccomp filter, with all it starts
 *
 * All three stay in the caller's process group, so the terminal and a
 * group's signals reach the command itself; relay.c makes sure nothing
 * reaches it twice.
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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"

/* The keeper's messages: stopped or continued (the last one counts), finished. */
static void take_messages(int channel, int *finished)
{
	struct nsc_message m;
	int stop = 0;
	while (nsc_receive_message(channel, &m, false)) {
		if (m.kind == NSC_MSG_STOPPED)
			stop = m.value;
		else if (m.kind == NSC_MSG_CONTINUED)
			stop = 0;
		else if (m.kind == NSC_MSG_FINISHED)
			*finished = m.value;
	}
	if (stop != 0 && *finished == -1)
		nsc_stop_as(stop); /* until a SIGCONT: the shell's fg, or the keeper's */
}

/* After a SIGCHLD: -1 while the keeper lives, else what the top ends with. */
static int reap_keeper(pid_t keeper, int channel, int *finished)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != keeper)
			continue; /* an orphan the keeper did not outlive */
		if (!WIFEXITED(status)) {
			fprintf(stderr, "noselfconn: the supervisor was killed (%s); stopping the command\n",
				strsignal(WTERMSIG(status)));
			nsc_kill_tree();
			return NSC_EXIT_FAILURE;
		}
		take_messages(channel, finished);
		return *finished != -1 && WEXITSTATUS(status) == 0 ? nsc_die_as(*finished) : WEXITSTATUS(status);
	}
	return -1;
}

/* The top: reports signals to the keeper, mirrors the command, ends as it ends. */
static int wait_keeper(pid_t keeper, int signal_fd, int channel)
{
	int finished = -1; /* the command's wait status, once the keeper has it */
	struct pollfd p[2] = { { .fd = signal_fd, .events = POLLIN }, { .fd = channel, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue; /* EINTR */
		if (p[1].revents & POLLIN)
			take_messages(channel, &finished);
		else if (p[1].revents != 0)
			p[1].fd = -1; /* the keeper is going: its SIGCHLD follows */
		struct signalfd_siginfo si;
		struct nsc_message m;
		while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			int end = si.ssi_signo == SIGCHLD ? reap_keeper(keeper, channel, &finished) : -1;
			if (end != -1)
				return end;
			if (si.ssi_signo != SIGCHLD && nsc_relay_from(&si, keeper, &m))
				nsc_send_message(channel, &m);
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
	struct nsc_saved saved;
	sigset_t signals;
	int channel[2];
	hold_standard_fds(); /* close-on-exec: the command finds them closed */
	nsc_relayed_signals(&signals);
	struct sigaction child = { .sa_handler = SIG_DFL };
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0 ||
	    sigaction(SIGCHLD, &child, &saved.child) != 0 || sigprocmask(SIG_BLOCK, &signals, &saved.mask) != 0) {
		perror("noselfconn: --supervise");
		return NSC_EXIT_FAILURE;
	}
	/* Orphans of the tree come back to us should the keeper die. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	pid_t top = getpid();
	pid_t keeper = fork();
	if (keeper == 0) {
		close(channel[0]);
		exit(nsc_keep(argv, &saved, &signals, channel[1], top));
	}
	close(channel[1]);
	struct nsc_message s = { .value = keeper < 0 ? errno : EPROTO };
	int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (keeper > 0 && (!nsc_receive_message(channel[0], &s, true) || s.kind != NSC_MSG_STARTED))
		s.value = EPROTO;
	if (s.value == 0 && signal_fd < 0) {
		perror("noselfconn: --supervise");
		nsc_kill_tree(); /* the command must not run unwatched */
		return NSC_EXIT_FAILURE;
	}
	if (s.value != 0) {
		if (keeper > 0)
			waitpid(keeper, NULL, 0);
		/* The preload runs the command in this process: leave nothing of ours. */
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
		sigaction(SIGCHLD, &saved.child, NULL);
		sigprocmask(SIG_SETMASK, &saved.mask, NULL);
		close(channel[0]);
		if (signal_fd >= 0)
			close(signal_fd);
		fprintf(stderr, "noselfconn: --supervise is unavailable here (seccomp user notification: %s); %s\n",
			strerror(s.value), fallback == NSC_FALLBACK_PRELOAD ? "using the preload instead" : "giving up");
		return fallback == NSC_FALLBACK_PRELOAD ? NSC_SUPERVISE_UNAVAILABLE : NSC_EXIT_FAILURE;
	}
	if (s.no_new_privs)
		fprintf(stderr, "noselfconn: --supervise without root sets no_new_privs: setuid and "
				"file-capability programs run without their privileges\n");
	return wait_keeper(keeper, signal_fd, channel[0]);
}
