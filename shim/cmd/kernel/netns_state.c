/*
 * noselfconn --kernel, what the programs read per network namespace: its
 * ephemeral range, whether it allows non-local binds, its own addresses.
 * Every REFRESH the daemon walks /proc for the namespaces processes are in
 * (nsc_netns_inode, as the audit does), joins each (setns) to read its
 * sysctls and ask rtnetlink for its addresses, and writes what changed into
 * nsc_netns and nsc_addrs, keyed by the namespace's cookie (SO_NETNS_COOKIE,
 * Linux 5.14: older kernels keep the programs' defaults). A namespace no
 * process is in any more is forgotten (its descriptor closed: holding it
 * would keep it alive).
 *
 * Nothing here decides whether a dial is guarded: the programs guard every
 * port and, for an address not yet in the map, try a bind. The map makes
 * them cheaper and exact (IPv6 sockets, Q from the right range).
 */
#define _GNU_SOURCE
#include "kernel.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "portrange.h"
#include "proc.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

#define MAX_ADDRS 256 /* per namespace, kept in the map */

struct ns_entry {
	unsigned long inode;
	int fd;		 /* of /proc/PID/ns/net, to join it */
	uint64_t cookie; /* 0: unknown (no SO_NETNS_COOKIE) */
	bool seen;	 /* in this walk */
	struct nsc_netns_value value;
	struct nsc_addr_key addrs[MAX_ADDRS];
	size_t addr_count;
};

struct nsc_netns_state {
	struct nsc_guard_maps maps;
	int own_fd; /* the daemon's own namespace, to come back to */
	struct ns_entry **items;
	size_t count, capacity;
};

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void map_update(int map, const void *key, const void *value)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map;
	attr.key = ptr(key);
	attr.value = ptr(value);
	attr.flags = BPF_ANY;
	nsc_bpf(BPF_MAP_UPDATE_ELEM, &attr);
}

static void map_delete(int map, const void *key)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map;
	attr.key = ptr(key);
	nsc_bpf(BPF_MAP_DELETE_ELEM, &attr);
}

struct nsc_netns_state *nsc_netns_state_new(const struct nsc_guard_maps *maps)
{
	struct nsc_netns_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->maps = *maps;
	s->own_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (s->own_fd < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Reads a sysctl of the namespace this thread is in: 0 when absent. */
static long read_flag(const char *path)
{
	char text[32];
	return nsc_read_at(AT_FDCWD, path, text, sizeof(text)) > 0 ? strtol(text, NULL, 10) : 0;
}

static void add_addr(struct ns_entry *e, struct nsc_addr_key *list, size_t *n, int family,
		     const void *addr)
{
	if (*n == MAX_ADDRS)
		return;
	struct nsc_addr_key *k = &list[(*n)++];
	memset(k, 0, sizeof(*k));
	k->cookie = e->cookie;
	k->family = (uint32_t)family;
	memcpy(k->addr, addr, family == AF_INET ? 4 : 16);
}

/* The addresses of one RTM_NEWADDR message. IPv4: IFA_LOCAL is the
 * address (IFA_ADDRESS a peer's on point-to-point links); IPv6 has
 * IFA_ADDRESS alone. */
static void add_message_addrs(struct ns_entry *e, struct nlmsghdr *h, struct nsc_addr_key *list,
			      size_t *n)
{
	struct ifaddrmsg *m = NLMSG_DATA(h);
	int rlen = (int)IFA_PAYLOAD(h);
	for (struct rtattr *rta = IFA_RTA(m); RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen)) {
		if (m->ifa_family == AF_INET && rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == 4)
			add_addr(e, list, n, AF_INET, RTA_DATA(rta));
		else if (m->ifa_family == AF_INET6 && rta->rta_type == IFA_ADDRESS &&
			 RTA_PAYLOAD(rta) == 16)
			add_addr(e, list, n, AF_INET6, RTA_DATA(rta));
	}
}

/* The namespace's addresses (rtnetlink, RTM_GETADDR), into list; false if
 * the answer could not be had whole. */
static bool read_addrs(struct ns_entry *e, struct nsc_addr_key *list, size_t *n)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return false;
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETADDR,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		  .m = { .ifa_family = AF_UNSPEC } };
	bool done = false, ok = send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req);
	static char buf[32768];
	while (ok && !done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len <= 0) {
			ok = false;
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; ok && !done && NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			done = h->nlmsg_type == NLMSG_DONE;
			ok = h->nlmsg_type != NLMSG_ERROR;
			if (h->nlmsg_type == RTM_NEWADDR)
				add_message_addrs(e, h, list, n);
		}
	}
	close(fd);
	return ok;
}

static bool has_addr(const struct nsc_addr_key *list, size_t n, const struct nsc_addr_key *k)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&list[i], k, sizeof(*k)) == 0)
			return true;
	return false;
}

/* Inside the namespace: its values, written to the maps where they changed. */
static void read_netns(struct nsc_netns_state *s, struct ns_entry *e)
{
	if (e->cookie == 0) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		socklen_t len = sizeof(e->cookie);
		if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &e->cookie, &len) != 0)
			e->cookie = 0;
		if (fd >= 0)
			close(fd);
		if (e->cookie == 0)
			return; /* the programs keep their defaults */
	}
	struct nsc_port_range range;
	struct nsc_netns_value value = { .low = NSC_DEFAULT_LOW, .high = NSC_DEFAULT_HIGH,
					 .flags = NSC_NETNS_KNOWN };
	if (nsc_read_port_range(NSC_PORT_RANGE_FILE, &range)) {
		value.low = range.low;
		value.high = range.high;
	}
	if (read_flag("/proc/sys/net/ipv4/ip_nonlocal_bind") != 0)
		value.flags |= NSC_NETNS_NONLOCAL4;
	if (read_flag("/proc/sys/net/ipv6/ip_nonlocal_bind") != 0)
		value.flags |= NSC_NETNS_NONLOCAL6;

	static struct nsc_addr_key fresh[MAX_ADDRS];
	size_t n = 0;
	if (!read_addrs(e, fresh, &n)) {
		/* Half an answer: keep what the map has; no "known" claim. */
		value.flags &= ~NSC_NETNS_KNOWN;
		n = e->addr_count;
		memcpy(fresh, e->addrs, n * sizeof(fresh[0]));
	}
	/* Addresses first, so a namespace is never "known" without them. */
	uint8_t one = 1;
	for (size_t i = 0; i < n; i++)
		if (!has_addr(e->addrs, e->addr_count, &fresh[i]))
			map_update(s->maps.addrs, &fresh[i], &one);
	for (size_t i = 0; i < e->addr_count; i++)
		if (!has_addr(fresh, n, &e->addrs[i]))
			map_delete(s->maps.addrs, &e->addrs[i]);
	memcpy(e->addrs, fresh, n * sizeof(fresh[0]));
	e->addr_count = n;
	if (memcmp(&value, &e->value, sizeof(value)) != 0) {
		map_update(s->maps.netns, &e->cookie, &value);
		e->value = value;
	}
}

static void forget(struct nsc_netns_state *s, struct ns_entry *e)
{
	if (e->cookie != 0) {
		for (size_t i = 0; i < e->addr_count; i++)
			map_delete(s->maps.addrs, &e->addrs[i]);
		map_delete(s->maps.netns, &e->cookie);
	}
	close(e->fd);
	free(e);
}

static struct ns_entry *find(struct nsc_netns_state *s, unsigned long inode)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->items[i]->inode == inode)
			return s->items[i];
	return NULL;
}

/* A namespace met for the first time, through a process in it. */
static void add(struct nsc_netns_state *s, unsigned long inode, const char *link)
{
	if (s->count == s->capacity) {
		size_t capacity = s->capacity ? 2 * s->capacity : 16;
		struct ns_entry **items = realloc(s->items, capacity * sizeof(struct ns_entry *));
		if (items == NULL)
			return;
		s->items = items;
		s->capacity = capacity;
	}
	struct ns_entry *e = calloc(1, sizeof(*e));
	int fd = e != NULL ? open(link, O_RDONLY | O_CLOEXEC) : -1;
	/* The process may have moved on: keep only what is still that one. */
	if (fd < 0 || nsc_netns_inode(link) != inode) {
		if (fd >= 0)
			close(fd);
		free(e);
		return;
	}
	e->inode = inode;
	e->fd = fd;
	e->seen = true;
	s->items[s->count++] = e;
}

bool nsc_netns_refresh(struct nsc_netns_state *s)
{
	for (size_t i = 0; i < s->count; i++)
		s->items[i]->seen = false;
	DIR *proc = opendir("/proc");
	long pid;
	while (proc != NULL && (pid = nsc_next_pid(proc)) > 0) {
		char link[64];
		snprintf(link, sizeof(link), "/proc/%ld/ns/net", pid);
		unsigned long inode = nsc_netns_inode(link);
		struct ns_entry *e = inode != 0 ? find(s, inode) : NULL;
		if (e != NULL)
			e->seen = true;
		else if (inode != 0)
			add(s, inode, link);
	}
	if (proc != NULL)
		closedir(proc);
	size_t kept = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->items[i]->seen)
			s->items[kept++] = s->items[i];
		else
			forget(s, s->items[i]);
	}
	s->count = kept;
	for (size_t i = 0; i < s->count; i++) {
		if (setns(s->items[i]->fd, CLONE_NEWNET) != 0)
			continue;
		read_netns(s, s->items[i]);
		if (setns(s->own_fd, CLONE_NEWNET) != 0) {
			fprintf(stderr, "noselfconn: --kernel: cannot return to its own network "
					"namespace: %s\n", strerror(errno));
			return false;
		}
	}
	return true;
}

size_t nsc_netns_known(const struct nsc_netns_state *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->count; i++)
		n += s->items[i]->cookie != 0;
	return n;
}

void nsc_netns_state_free(struct nsc_netns_state *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++)
		forget(s, s->items[i]);
	free(s->items);
	close(s->own_fd);
	free(s);
}
