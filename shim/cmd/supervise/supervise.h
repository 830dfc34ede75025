/* noselfconn --supervise: supervise.c (the processes), keeper.c (the one
 * that serves the command), relay.c (signals between them), notify.c (the
 * filter and the threads that answer it), trapped.c (one trapped dial),
 * netns_range.c (the caller's ephemeral range), listener.c (whether a
 * listener holds the port a dial goes to). */
#ifndef NOSELFCONN_SUPERVISE_H
#define NOSELFCONN_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "settings.h"
#include "verdict.h"

/* What nsc_supervise() returns when the caller is to run the preload. */
#define NSC_SUPERVISE_UNAVAILABLE (-1)

/*
 * Runs argv under the supervisor until it and every process it started have
 * exited; returns the command's exit status, or dies of the signal that
 * killed it (and stops while it is stopped). If the
 * mechanism is unavailable, says so in one line and returns, as `fallback`
 * says, NSC_SUPERVISE_UNAVAILABLE (nothing of the supervisor left in this
 * process: run the preload) or 125.
 */
int nsc_supervise(char **argv, enum nsc_fallback fallback);

/*
 * filter.c. Installs the filter on the calling process and returns its
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
struct seccomp_data;

/* filter.c. What a notification is about. */
enum nsc_trap {
	NSC_TRAP_DIAL,	   /* a dial of the native ABI: guarded */
	NSC_TRAP_FOREIGN,  /* a dial through another ABI (i386, x32, 32-bit Arm) */
	NSC_TRAP_URING,	   /* io_uring_setup(): that ring's dials are never seen */
	NSC_TRAP_LISTENER, /* a seccomp listener of the program's own: EBUSY */
};
enum nsc_trap nsc_trap_kind(const struct seccomp_data *data);

/*
 * trapped.c. What to do with one trapped call of `listener`: 0 to let it
 * continue, or the errno to fail it with. The init reads NOSELFCONN_LOG
 * (unguarded processes are named in syslog too) once, before any call.
 */
int nsc_guard_trapped(int listener, const struct seccomp_notif *req);
void nsc_trapped_init(void);

/*
 * netns_range.c. The ephemeral range socket `sock` (borrowed from thread
 * `tid`) dials with: its network namespace's, read at most once a second
 * per namespace; NSC_ANY_PORT where it cannot be read. *netns: that
 * namespace's cookie (0 before Linux 5.14). Call the init first, once.
 */
struct nsc_port_range nsc_socket_range(int sock, pid_t tid, uint64_t *netns);
void nsc_netns_ranges_init(void);

/*
 * netns_range.c. Whether a TCP listener in the namespace with cookie
 * `netns` holds the port a dial to `dest` goes to (listener.c); false where
 * that cannot be asked.
 */
bool nsc_listener_holds(uint64_t netns, const struct sockaddr *dest);

/* listener.c. The request, asked through a NETLINK_SOCK_DIAG socket made in
 * the namespace (`diag`), and the reading of its answer. */
#include <linux/inet_diag.h>
#include <linux/netlink.h>
struct nsc_listener_request {
	struct nlmsghdr header;
	struct inet_diag_req_v2 diag;
};
void nsc_listener_request(const struct sockaddr *dest, uint32_t seq, struct nsc_listener_request *req);
bool nsc_listener_reply(const void *reply, size_t len, uint32_t seq, uint16_t port);
/* Where a namespace lately had no listener (one per namespace): a dial
 * there within NSC_LISTENER_MISS_NS is narrowed without asking again. */
#define NSC_LISTENER_MISSES 4
#define NSC_LISTENER_MISS_NS 1000000LL
struct nsc_listener_misses {
	struct inet_diag_sockid id[NSC_LISTENER_MISSES];
	uint8_t family[NSC_LISTENER_MISSES];
	long long at_ns[NSC_LISTENER_MISSES];
	unsigned next;
};
/* Whether a listener holds dest's port, asked on `diag` (request `seq`),
 * unless `misses` says nobody did lately; a "nobody" is noted there. */
bool nsc_ask_listener(int diag, struct nsc_listener_misses *misses, const struct sockaddr *dest, uint32_t seq);
/* listener.c. Whether the kernel will not give `sock`, of namespace `netns`,
 * the port its dial to `dest` goes to: a listener holds it. */
bool nsc_port_held(int sock, uint64_t netns, const struct sockaddr *dest);

/*
 * Between the top, the keeper and the command (supervise.c, keeper.c,
 * relay.c): one message at a time over a SOCK_SEQPACKET pair.
 */
#include <signal.h>
#include <sys/signalfd.h>

enum nsc_message_kind {
	NSC_MSG_STARTED,   /* keeper: value 0, or why the command cannot be served */
	NSC_MSG_SIGNAL,	   /* top: it received signal `value` from a process */
	NSC_MSG_STOPPED,   /* keeper: the command stopped with signal `value` */
	NSC_MSG_CONTINUED, /* keeper: the command runs again */
	NSC_MSG_FINISHED,  /* keeper: the tree is gone; `value` is the command's wait status */
};

struct nsc_message {
	int kind;
	int value;
	int no_new_privs; /* STARTED: the kernel required it (not root) */
	int code;	  /* SIGNAL: the sender's si_code, pid, uid and sigqueue() value */
	pid_t pid;
	uid_t uid;
	int sigval;
};

bool nsc_send_message(int channel, const struct nsc_message *m);

/* A message of `len` bytes with a descriptor (fd >= 0) beside it, over a
 * UNIX socket; the receiver's *fd is -1 when none came (or the message did
 * not: false). Between the keeper and the command, and the range reader's
 * child and the supervisor. */
bool nsc_send_with_fd(int channel, const void *body, size_t len, int fd);
bool nsc_receive_with_fd(int channel, void *body, size_t len, int *fd);
bool nsc_receive_message(int channel, struct nsc_message *m, bool wait);

/* The signals the top and the keeper take through a signalfd: every one they can. */
void nsc_relayed_signals(sigset_t *set);

/* The top: whether si is one to report to the keeper, as *m. */
bool nsc_relay_from(const struct signalfd_siginfo *si, pid_t keeper, struct nsc_message *m);

/* The keeper: a signal it received itself; whether a reported one was among them. */
void nsc_note_direct(const struct signalfd_siginfo *si);
bool nsc_received_too(const struct nsc_message *m);

/* The keeper: a reported signal to the command's pidfd, or to every child of ours. */
void nsc_forward(int pidfd, const struct nsc_message *m);
void nsc_signal_children(int sig);

/* Kills everything below us (a subreaper): kill and reap until no child is left. */
void nsc_kill_tree(void);

/* The top: stop as the command stopped; die as it died (else its exit status). */
void nsc_stop_as(int sig);
int nsc_die_as(int status);

/* keeper.c: the keeper's life (it starts the command); its exit status. */
struct nsc_saved {
	sigset_t mask;		/* the caller's signal mask */
	struct sigaction child; /* and its SIGCHLD action */
};
int nsc_keep(char **argv, const struct nsc_saved *saved, const sigset_t *signals, int channel, pid_t top);

#endif
