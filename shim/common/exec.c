/* Running COMMAND: the wrapper's last step, and the supervisor's child's. */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int nsc_exec(char **argv)
{
	execvp(argv[0], argv);
	int err = errno; /* before stdio, which may change it (stderr closed) */
	fprintf(stderr, "noselfconn: cannot run '%s': %s\n", argv[0], strerror(err));
	return err == ENOENT ? NSC_EXIT_NOT_FOUND : NSC_EXIT_CANNOT_RUN;
}
