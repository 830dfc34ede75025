/* Untrusted text made safe to print: pure, no system calls. */
#ifndef NOSELFCONN_ESCAPE_H
#define NOSELFCONN_ESCAPE_H

#include <stddef.h>

/*
 * Copies at most `max` bytes of `in` (NUL-terminated) into `out` (room for
 * `size` bytes, NUL-terminated), as printable ASCII: a control byte, a
 * backslash, a double quote or any byte above 0x7e becomes \xNN, so no
 * newline, terminal sequence or invalid UTF-8 gets through. Appends "..."
 * when `in` was longer than `max`. Never splits an escape. Returns the
 * length written.
 */
size_t nsc_escape(char *out, size_t size, const char *in, size_t max);

/* The same for exactly `len` bytes of `in` (a NUL among them escaped too):
 * "..." only when `out` could not hold them all. */
size_t nsc_escape_len(char *out, size_t size, const char *in, size_t len);

#endif
