/* noselfconn --audit: see audit.c. */
#ifndef NOSELFCONN_AUDIT_H
#define NOSELFCONN_AUDIT_H

#include <stdbool.h>

#include "verdict.h"

/* Reports on this network namespace; returns 1 if something is connected
 * to itself, else 0. `json` picks one JSON object instead of text. */
int nsc_audit(bool json);

#endif
