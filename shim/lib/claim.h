/*
 * Claims on a socket: while a dial undoes a self-connection and dials again,
 * or narrows the socket's port range around its dial, no other dial on the
 * same socket may look at it or change it, whether that dial runs in another
 * thread or in another process holding the socket (fork(), SCM_RIGHTS).
 * shim/doc/design-preload.md says why it is built this way.
 *
 * The socket is named by its inode (fstat): a dial on another socket, or on
 * a socket dup2()'d onto the same descriptor number, never waits. Within the
 * process, a lock-free table orders the claimants of one socket by ticket;
 * between processes, a POSIX record lock on the socket's inode does (the
 * kernel's, so it cannot outlive the process). Both waits share one bound,
 * NSC_CLAIM_WAIT_NS on the monotonic clock, after which the claim is taken
 * over: a holder that was cancelled or left by siglongjmp() costs that once.
 * Only the rare paths take a claim; async-signal-safe, errno kept.
 */
#ifndef NOSELFCONN_CLAIM_H
#define NOSELFCONN_CLAIM_H

#include <stdbool.h>

#define NSC_CLAIM_WAIT_NS 50000000LL /* 50 ms */

struct nsc_claim {
	int slot;     /* in the process's table; -1: none (not a socket, table full) */
	bool locked;  /* the record lock is ours to release */
	bool counted; /* in nsc_claims_held() */
	unsigned long long word; /* what the slot held for us, to release only ours */
};

/*
 * How many claims this process has taken, and holds: read before and after
 * a dial (two loads, no system call), they tell whether another thread may
 * have undone the connection the kernel just reported, unseen by the look.
 */
unsigned nsc_claims_taken(void);
unsigned nsc_claims_held(void);

/* Waits, at most NSC_CLAIM_WAIT_NS, until no other dial holds fd's socket. */
void nsc_claim_socket(int fd, struct nsc_claim *claim);

void nsc_release_socket(int fd, const struct nsc_claim *claim);

/* In a fork() child: the parent's claims are not its own (the kernel's
 * record locks are not inherited either). */
void nsc_forget_claims(void);

#endif
