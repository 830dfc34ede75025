/* noselfconn --supervise: see supervise.c (processes) and notify.c (dials). */
#ifndef NOSELFCONN_SUPERVISE_H
#define NOSELFCONN_SUPERVISE_H

#include <stdbool.h>

#include "settings.h"

/*
 * Runs argv under the supervisor until it and every process it started have
 * exited; returns the command's exit status (128 + signal if killed). If the
 * mechanism is unavailable, says so in one line and either returns
 * nsc_run_preloaded(argv) or 125, as `fallback` says.
 */
int nsc_supervise(char **argv, enum nsc_fallback fallback);

/*
 * notify.c. Installs the filter on the calling process and returns its
 * listener, or -1 with errno set. Without CAP_SYS_ADMIN the kernel requires
 * no_new_privs first: *no_new_privs then says it was set.
 */
int nsc_install_filter(bool *no_new_privs);

/*
 * notify.c. Starts the threads that answer the notifications of `listener`
 * (they run until the process exits). False, errno set, if none could start.
 */
bool nsc_serve_notifications(int listener);

#endif
