/* The one reader of ip_local_port_range: async-signal-safe, used everywhere. */
#ifndef NOSELFCONN_PORTRANGE_H
#define NOSELFCONN_PORTRANGE_H

#include <stdbool.h>

#include "verdict.h"

/*
 * Reads `path` (NSC_PORT_RANGE_FILE for this namespace) into *out. open,
 * fstatfs, read and close only; errno is preserved. False, *out untouched,
 * when the file cannot be opened (chroot, no /proc, no descriptor, a
 * sandbox), is not on procfs, or does not hold a valid range.
 */
bool nsc_read_port_range(const char *path, struct nsc_port_range *out);

#endif
