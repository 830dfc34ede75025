/* noselfconn --kernel: the guard's programs (programs.c, written with the
 * assembler of asm.h), loading and attaching them (load.c), and the daemon
 * that keeps their per-namespace values current (kernel.c, netns_state.c). */
#ifndef NOSELFCONN_KERNEL_H
#define NOSELFCONN_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "asm.h"
#include "kguard.h"

/* The maps the programs read and write, by descriptor. */
struct nsc_guard_maps {
	int netns, addrs, counts;
};

/* What --kernel does, from main(): each returns the exit status. */
int nsc_kernel_guard(const char *cgroup);   /* attach, keep current, detach */
int nsc_kernel_check(void);		    /* load only: the verifier's answer */
int nsc_kernel_pin(const char *dir);	    /* for systemd's BPFProgram= */
int nsc_kernel_unpin(const char *dir);
int nsc_kernel_detach(const char *cgroup);  /* what is left on a cgroup */

/* The guard, loaded. */
struct nsc_guard {
	struct nsc_guard_maps maps;
	int prog4, prog6, link4, link6;
	unsigned insns4, insns6;
};

extern const char nsc_kernel_fallback[];
void nsc_kernel_failed(const char *what, int err);

bool nsc_guard_load(struct nsc_guard *g);
bool nsc_guard_attach(struct nsc_guard *g, int cgroup_fd);
bool nsc_guard_linked(const struct nsc_guard *g);
void nsc_guard_close(struct nsc_guard *g);

/* netns_state.c: what the programs read per network namespace (range,
 * flags, addresses), kept current by the daemon. */
struct nsc_netns_state;
struct nsc_netns_state *nsc_netns_state_new(const struct nsc_guard_maps *maps);
/* Every namespace a process is in, its values written to the maps: its
 * addresses read again where they changed, or all of them (`all`). False
 * when the daemon could not come back to its own namespace. */
bool nsc_netns_refresh(struct nsc_netns_state *state, bool all);
/* Readable when the addresses of a namespace changed: then
 * nsc_netns_changed() reads them again (false as nsc_netns_refresh). */
int nsc_netns_event_fd(const struct nsc_netns_state *state);
bool nsc_netns_changed(struct nsc_netns_state *state);
void nsc_netns_state_free(struct nsc_netns_state *state);
/* How many namespaces the maps hold values for. */
size_t nsc_netns_known(const struct nsc_netns_state *state);

/* netns_addrs.c: the addresses of the namespace this thread is in. */
#define NSC_NETNS_MAX_ADDRS 256 /* kept per namespace: more, and it is not "known" */
struct nsc_addr_list {
	struct nsc_addr_key keys[NSC_NETNS_MAX_ADDRS];
	size_t count;
	bool truncated; /* it had more */
};
/* False when rtnetlink gave no whole answer. */
bool nsc_read_addrs(uint64_t cookie, struct nsc_addr_list *list);
/* A non-blocking socket told of every address added or removed: -1 on
 * failure. nsc_addr_events_drain() reads what it was told: true when
 * anything changed (or news were lost). */
int nsc_addr_events_open(void);
bool nsc_addr_events_drain(int fd);

/* Writes the connect4 (family AF_INET) or connect6 (AF_INET6) program into
 * *a; false if it does not assemble. */
bool nsc_guard_program(struct nsc_asm *a, int family, const struct nsc_guard_maps *maps);

#endif
