/*
 * The kernel guard as others see it: the names of its programs and maps,
 * what its counters count, the per-namespace values user space keeps for
 * it, and the few bpf(2) calls that find it on a cgroup. Shared by
 * noselfconn --kernel (which loads it) and --audit (which reports it).
 */
#ifndef NOSELFCONN_KGUARD_H
#define NOSELFCONN_KGUARD_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Object names (at most 15 characters): how the guard is recognised. */
#define NSC_PROG_CONNECT4 "nsc_connect4"
#define NSC_PROG_CONNECT6 "nsc_connect6"
#define NSC_MAP_NETNS "nsc_netns"
#define NSC_MAP_ADDRS "nsc_addrs"
#define NSC_MAP_COUNTS "nsc_counts"

/* What the programs count (a per-CPU array of u64, one slot each). */
enum nsc_count {
	NSC_COUNT_STEERED,  /* a local dial given another source port */
	NSC_COUNT_REFUSED,  /* refused (already bound to the target, or no port free) */
	NSC_COUNT_LISTENER, /* a local dial to a port a listener holds: untouched */
	NSC_COUNT_TRIAL,    /* a trial bind told a local address */
	NSC_COUNTS
};
extern const char *const nsc_count_names[NSC_COUNTS];

/* nsc_netns: the socket's network namespace (its cookie) -> this. */
struct nsc_netns_value {
	uint16_t low, high; /* ip_local_port_range */
	uint32_t flags;
};
#define NSC_NETNS_NONLOCAL4 1u /* ip_nonlocal_bind: a trial bind proves nothing */
#define NSC_NETNS_NONLOCAL6 2u /* ipv6 ip_nonlocal_bind */
#define NSC_NETNS_KNOWN 4u     /* set on every entry: nsc_addrs is kept for it */
/* Where user space has said nothing about a namespace (no daemon): the
 * kernel's default range. */
#define NSC_DEFAULT_LOW 32768
#define NSC_DEFAULT_HIGH 60999

/* nsc_addrs: (namespace, family, address) of a local address -> 1. */
struct nsc_addr_key {
	uint64_t cookie;
	uint32_t family; /* AF_INET (address in the first 4 bytes) or AF_INET6 */
	uint32_t zero;
	uint8_t addr[16];
};

/* bpf(2), with the attribute's size. */
long nsc_bpf(int cmd, union bpf_attr *attr);

/* A program's or map's information by descriptor; false on failure. */
bool nsc_prog_info(int fd, struct bpf_prog_info *info);
bool nsc_map_info(int fd, struct bpf_map_info *info);

/* Whether prog id is one of the guard's (connect4 or connect6): 1 yes,
 * 0 no, -1 when it cannot be read (gone, or no right to). */
int nsc_is_guard_prog(uint32_t id, char name[BPF_OBJ_NAME_LEN]);

/* Whether `path` (on a BPF file system) pins one of the guard's programs:
 * 1 yes (*info: what it says of itself), 0 it pins something else (or
 * something that says nothing), -1 nothing is pinned there. */
int nsc_pinned_guard(const char *path, struct bpf_prog_info *info);

/* The guard's programs attached directly to the cgroup open at `cgroup_fd`:
 * their ids in ids[] (at most max), their count returned, -1 on error
 * (errno set: EPERM without CAP_NET_ADMIN, EINVAL on a kernel without
 * cgroup BPF). */
int nsc_guard_attached(int cgroup_fd, uint32_t *ids, int max);

/* The bpf_link that holds program `prog_id` on a cgroup: its id, or 0 when
 * none does (attached with BPF_PROG_ATTACH, as systemd's BPFProgram= does). */
uint32_t nsc_guard_link_of(uint32_t prog_id);

/* The counters of the guard program `prog_fd` (summed over CPUs) into
 * counts[]; false when its counters map cannot be read. */
bool nsc_guard_counts(int prog_fd, uint64_t counts[NSC_COUNTS]);

/* Where the guard is on this host: attached to a cgroup of the cgroup v2
 * tree, or pinned on a BPF file system (kguard_find.c). */
struct nsc_guard_place {
	char *path; /* the cgroup directory, or the pinned file */
	bool pinned;
	uint32_t prog_id;
	char name[BPF_OBJ_NAME_LEN];
	uint32_t link_id; /* 0: attached with BPF_PROG_ATTACH (or a pin) */
	long holder_pid;  /* a process holding that link; 0 if none found */
	bool counted;
	uint64_t counts[NSC_COUNTS];
};

struct nsc_guard_places {
	struct nsc_guard_place *items;
	size_t count, capacity;
};

/* Fills *places (free with nsc_guard_places_free); false with errno set
 * when the cgroup tree cannot be queried (EPERM: no CAP_NET_ADMIN; ENOSYS:
 * no bpf(2)), or memory ran out (ENOMEM). */
bool nsc_guard_find(struct nsc_guard_places *places);
void nsc_guard_places_free(struct nsc_guard_places *places);

#endif
