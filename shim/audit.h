/* noselfconn --audit: see audit.c. */
#ifndef NOSELFCONN_AUDIT_H
#define NOSELFCONN_AUDIT_H

#include <stdbool.h>

#include "verdict.h"

/* This namespace's ip_local_port_range, or the kernel default if unreadable. */
struct nsc_port_range nsc_current_port_range(void);

/* Reports on this network namespace; returns 1 if something is connected
 * to itself, else 0. `json` picks one JSON object instead of text. */
int nsc_audit(bool json);

#endif
