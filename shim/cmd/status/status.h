/* noselfconn --status: what this machine offers each guard, and what it
 * uses (kernel features, /etc/ld.so.preload, the wrapper's library). */
#ifndef NOSELFCONN_STATUS_H
#define NOSELFCONN_STATUS_H

/* Prints the report on stdout; 0, or NSC_EXIT_FAILURE when it could not. */
int nsc_status(void);

#endif
