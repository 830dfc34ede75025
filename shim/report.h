/* Messages from inside the host program: async-signal-safe, write(2) only. */
#ifndef NOSELFCONN_REPORT_H
#define NOSELFCONN_REPORT_H

#include <sys/socket.h>

#include "runtime.h"

/* One line on stderr about a setting that was ignored. */
void nsc_report_bad_setting(const char *name, const char *value,
			    const char *expected, const char *fallback);

/* One line on stderr before the library stops the program. */
void nsc_report_fatal(const char *what, const char *name);

/* One line to the configured log: which program was kept from dialing itself. */
void nsc_report_prevented(const struct nsc_runtime *rt, const struct sockaddr *dest);

#endif
