/* noselfconn --supervise: supervise.c (processes), notify.c (the filter and
 * the threads that answer it), trapped.c (one trapped dial), netns_range.c
 * (the caller's ephemeral range). */
#ifndef NOSELFCONN_SUPERVISE_H
#define NOSELFCONN_SUPERVISE_H

#include <stdbool.h>
#include <sys/types.h>

#include "settings.h"
#include "verdict.h"

/* What nsc_supervise() returns when the caller is to run the preload. */
#define NSC_SUPERVISE_UNAVAILABLE (-1)

/*
 * Runs argv under the supervisor until it and every process it started have
 * exited; returns the command's exit status (128 + signal if killed). If the
 * mechanism is unavailable, says so in one line and returns, as `fallback`
 * says, NSC_SUPERVISE_UNAVAILABLE (nothing of the supervisor left in this
 * process: run the preload) or 125.
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

struct seccomp_notif;

/*
 * trapped.c. What to do with one trapped call of `listener`: 0 to let it
 * continue, or the errno to fail it with. The init reads NOSELFCONN_LOG
 * (unguarded processes are named in syslog too) once, before any call.
 */
int nsc_guard_trapped(int listener, const struct seccomp_notif *req);
void nsc_trapped_init(void);

/*
 * netns_range.c. The ephemeral range of the network namespace thread `tid`
 * dials in, read at most once a second per namespace and calling thread;
 * NSC_ANY_PORT where it cannot be read. Call the init first, once.
 */
struct nsc_port_range nsc_caller_range(pid_t tid);
void nsc_netns_ranges_init(void);

#endif
