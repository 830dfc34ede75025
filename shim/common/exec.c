/* Running COMMAND: the wrapper's last step, and the supervisor's child's;
 * running a helper and reading what it says (--enable-host, --status). */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int nsc_exec(char **argv)
{
	execvp(argv[0], argv);
	int err = errno; /* before stdio, which may change it (stderr closed) */
	fprintf(stderr, "noselfconn: cannot run '%s': %s\n", argv[0], strerror(err));
	return err == ENOENT ? NSC_EXIT_NOT_FOUND : NSC_EXIT_CANNOT_RUN;
}

int nsc_run_capture(const char *file, char *const argv[], char *const envp[], char *out,
		    size_t size)
{
	int output[2], exec_error[2];
	if (pipe2(output, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(exec_error, O_CLOEXEC) != 0) {
		close(output[0]);
		close(output[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(output[1], STDOUT_FILENO);
		dup2(output[1], STDERR_FILENO);
		if (envp != NULL)
			execve(file, argv, envp);
		else
			execv(file, argv);
		int err = errno;
		(void)!write(exec_error[1], &err, sizeof(err));
		_exit(127);
	}
	int fork_errno = errno;
	close(output[1]);
	close(exec_error[1]);
	size_t n = 0;
	char discard[512] = { 0 }; /* past `size`: enough to judge; let the child finish */
	for (;;) {
		bool room = n < size - 1;
		ssize_t got = read(output[0], room ? out + n : discard,
				   room ? size - 1 - n : sizeof(discard));
		if (got == 0 || (got < 0 && errno != EINTR))
			break;
		if (got > 0 && room)
			n += (size_t)got;
	}
	out[n] = '\0';
	close(output[0]);
	int err = 0;
	if (read(exec_error[0], &err, sizeof(err)) != sizeof(err))
		err = 0;
	close(exec_error[0]);
	if (pid < 0) {
		errno = fork_errno;
		return -1;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return status;
}
