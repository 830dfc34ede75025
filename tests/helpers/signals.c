/*
 * signals: catches every signal it can and says so, one line per delivery
 * ("got N", N the signal's number), written from the handler itself so
 * that no two deliveries merge into one line.
 *
 *   signals [-q SIG]
 *
 * Prints "ready" once its handlers are in place, then waits. SIG (a
 * number, default SIGUSR2) is said, then ends it (exit 0).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int quit_signal = SIGUSR2;

static void said(int sig)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "got %d\n", sig);
	(void)!write(STDOUT_FILENO, line, (size_t)n);
	if (sig == quit_signal)
		_exit(0);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "q:")) != -1) {
		if (c != 'q') {
			fprintf(stderr, "usage: signals [-q SIG]\n");
			return 2;
		}
		quit_signal = atoi(optarg);
	}
	struct sigaction sa = { .sa_handler = said, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig >= SIGRTMIN))
			sigaction(sig, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
