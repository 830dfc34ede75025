/* The command's exit statuses, and running COMMAND: shared by every job. */
#ifndef NOSELFCONN_EXEC_H
#define NOSELFCONN_EXEC_H

#include <stddef.h>

/* As env(1) and timeout(1) use them. */
enum nsc_exit {
	NSC_EXIT_USAGE = 2,	   /* a bad option or combination */
	NSC_EXIT_FAILURE = 125,	   /* noselfconn itself failed */
	NSC_EXIT_CANNOT_RUN = 126, /* COMMAND exists but cannot run */
	NSC_EXIT_NOT_FOUND = 127,  /* COMMAND was not found */
};

/* execvp(argv); if that fails, one line on stderr and the status to exit with. */
int nsc_exec(char **argv);

/* Runs `file` (a path: no search) with argv and envp (NULL: this process's
 * environment) in a child; its stdout and stderr together in `out` (up to
 * size - 1 bytes, NUL-terminated; the rest read and dropped). Returns the
 * child's wait status, or -1 with errno set (the exec's own error when
 * that is what failed). */
int nsc_run_capture(const char *file, char *const argv[], char *const envp[], char *out,
		    size_t size);

#endif
