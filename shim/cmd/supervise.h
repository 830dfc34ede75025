/* noselfconn --supervise: see supervise.c. */
#ifndef NOSELFCONN_SUPERVISE_H
#define NOSELFCONN_SUPERVISE_H

#include "settings.h"

/*
 * Runs argv under the supervisor until it and every process it started have
 * exited; returns the command's exit status (128 + signal if killed). If the
 * mechanism is unavailable, says so in one line and either returns
 * nsc_run_preloaded(argv) or 125, as `fallback` says.
 */
int nsc_supervise(char **argv, enum nsc_fallback fallback);

#endif
