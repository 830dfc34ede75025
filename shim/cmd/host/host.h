/* --enable-host and --disable-host: the library in /etc/ld.so.preload, so
 * that every dynamically linked program of the host loads it. */
#ifndef NOSELFCONN_HOST_H
#define NOSELFCONN_HOST_H

#include <stdbool.h>

/* Adds (enable) or takes out the installed library's "$LIB" path. 0 when
 * done or nothing was to do; NSC_EXIT_FAILURE, after a message and with
 * the file unchanged, when refused or failed. */
int nsc_host(bool enable);

#endif
