/*
 * Messages from inside the host program: formatted by hand into a stack
 * buffer (no stdio, no malloc) and sent with one write(2) or, for syslog,
 * one datagram through the send function the caller passes. Async-signal-
 * safe. Text the library did not write itself (program name, setting
 * values) is escaped: no newline, control or non-ASCII byte gets through.
 */
#ifndef NOSELFCONN_REPORT_H
#define NOSELFCONN_REPORT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "settings.h"

/* How a syslog datagram leaves: libc's sendto(), as the runtime resolved it. */
typedef ssize_t (*nsc_send_fn)(int fd, const void *buf, size_t n, int flags,
			       const struct sockaddr *addr, socklen_t len);

/* One line on stderr about a setting that was ignored. */
void nsc_report_bad_setting(const struct nsc_setting *setting, const char *value);

/* One line on stderr before the library stops the program. */
void nsc_report_fatal(const char *what, const char *name);

/* One line to `log` (not NSC_LOG_OFF): which program was kept from dialing itself. */
void nsc_report_prevented(enum nsc_log log, nsc_send_fn send, const struct sockaddr *dest);

/*
 * The line nsc_report_prevented() sends, written into `text` (NUL-terminated,
 * ending in a newline, cut to fit `size`): pure, for the unit tests and the
 * fuzzer. `dest` is an AF_INET or AF_INET6 address of a valid length.
 */
size_t nsc_format_prevented(char *text, size_t size, enum nsc_log log, const char *program,
			    unsigned long pid, const struct sockaddr *dest);

#endif
