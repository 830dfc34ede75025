/*
 * noselfconn --kernel, what the programs read per network namespace: its
 * ephemeral range, whether it allows non-local binds, its own addresses.
 * Every REFRESH the daemon walks /proc for the namespaces processes are in
 * (nsc_netns_inode, as the audit does), joins each (setns) to read its
 * sysctls, and writes what changed into nsc_netns and nsc_addrs, keyed by
 * the namespace's cookie (SO_NETNS_COOKIE, Linux 5.14: older kernels keep
 * the programs' defaults). A namespace's addresses are read (rtnetlink)
 * when it is met, and again as soon as the kernel says they changed (a
 * socket of that namespace subscribed to it, netns_addrs.c), not a second
 * later. A namespace no process is in any more is forgotten (its
 * descriptors closed: holding them would keep it alive).
 *
 * NSC_NETNS_KNOWN tells the programs that nsc_addrs holds every address of
 * the namespace, so that a miss means remote: it is set only when the list
 * was read whole, kept in full and every entry written.
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
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "portrange.h"
#include "proc.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

struct ns_entry {
	unsigned long inode;
	int fd;		 /* of /proc/PID/ns/net, to join it */
	int events_fd;	 /* told of its address changes (-1: none, read every time) */
	uint64_t cookie; /* 0: unknown (no SO_NETNS_COOKIE) */
	bool seen;	 /* in this walk */
	bool addrs_whole; /* addrs is every address it has */
	struct nsc_netns_value value; /* as in nsc_netns (flags 0: no entry) */
	struct nsc_addr_list addrs;   /* as in nsc_addrs */
};

struct nsc_netns_state {
	struct nsc_guard_maps maps;
	int own_fd;   /* the daemon's own namespace, to come back to */
	int epoll_fd; /* every entry's events_fd, with the entry */
	struct ns_entry **items;
	size_t count, capacity;
};

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static bool map_update(int map, const void *key, const void *value)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map;
	attr.key = ptr(key);
	attr.value = ptr(value);
	attr.flags = BPF_ANY;
	return nsc_bpf(BPF_MAP_UPDATE_ELEM, &attr) == 0;
}

/* Its only failure is ENOENT: nothing there, as wanted. */
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
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->own_fd < 0 || s->epoll_fd < 0) {
		if (s->own_fd >= 0)
			close(s->own_fd);
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

static bool has_addr(const struct nsc_addr_list *list, const struct nsc_addr_key *k)
{
	for (size_t i = 0; i < list->count; i++)
		if (memcmp(&list->keys[i], k, sizeof(*k)) == 0)
			return true;
	return false;
}

/* Told of its address changes from now on, before the addresses are read:
 * no change falls between (inside the namespace). */
static void subscribe(struct nsc_netns_state *s, struct ns_entry *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = e };
	e->events_fd = nsc_addr_events_open();
	if (e->events_fd >= 0 && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, e->events_fd, &ev) != 0) {
		close(e->events_fd);
		e->events_fd = -1;
	}
}

/* Inside the namespace: its addresses into nsc_addrs, new ones first, so
 * that a namespace is never "known" without them; whether the map holds
 * them all now. A failed read keeps what the map has. */
static bool write_addrs(struct nsc_netns_state *s, struct ns_entry *e)
{
	static struct nsc_addr_list fresh, kept;
	if (!nsc_read_addrs(e->cookie, &fresh))
		return false;
	bool whole = !fresh.truncated;
	uint8_t one = 1;
	kept.count = 0;
	for (size_t i = 0; i < fresh.count; i++) {
		if (has_addr(&kept, &fresh.keys[i])) /* on two devices */
			continue;
		if (has_addr(&e->addrs, &fresh.keys[i]) ||
		    map_update(s->maps.addrs, &fresh.keys[i], &one))
			kept.keys[kept.count++] = fresh.keys[i];
		else
			whole = false; /* the map is full: E2BIG */
	}
	for (size_t i = 0; i < e->addrs.count; i++)
		if (!has_addr(&fresh, &e->addrs.keys[i]))
			map_delete(s->maps.addrs, &e->addrs.keys[i]);
	memcpy(e->addrs.keys, kept.keys, kept.count * sizeof(kept.keys[0]));
	e->addrs.count = kept.count;
	return whole;
}

/* Inside the namespace: its values, written to the maps where they
 * changed; its addresses read again when `all`, when it said they changed,
 * or when it cannot say. */
static void read_netns(struct nsc_netns_state *s, struct ns_entry *e, bool all)
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
		subscribe(s, e);
		all = true;
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
	/* What it was told before the read is in the read */
	bool changed = e->events_fd >= 0 && nsc_addr_events_drain(e->events_fd);
	if (all || changed || e->events_fd < 0 || !e->addrs_whole)
		e->addrs_whole = write_addrs(s, e);
	if (!e->addrs_whole)
		value.flags &= ~NSC_NETNS_KNOWN;
	if (memcmp(&value, &e->value, sizeof(value)) == 0)
		return;
	if (map_update(s->maps.netns, &e->cookie, &value)) {
		e->value = value;
	} else {
		/* Full (more namespaces than NETNS_MAX): no entry, the defaults,
		 * rather than a stale "known". */
		map_delete(s->maps.netns, &e->cookie);
		memset(&e->value, 0, sizeof(e->value));
	}
}

static void forget(struct nsc_netns_state *s, struct ns_entry *e)
{
	if (e->cookie != 0) {
		for (size_t i = 0; i < e->addrs.count; i++)
			map_delete(s->maps.addrs, &e->addrs.keys[i]);
		map_delete(s->maps.netns, &e->cookie);
	}
	if (e->events_fd >= 0)
		close(e->events_fd); /* (which takes it out of the epoll set) */
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
	e->events_fd = -1;
	e->seen = true;
	s->items[s->count++] = e;
}

/* read_netns() inside e's namespace; false when the daemon could not come
 * back to its own. */
static bool visit(struct nsc_netns_state *s, struct ns_entry *e, bool all)
{
	if (setns(e->fd, CLONE_NEWNET) != 0) {
		/* Read next time; what it said is taken, or it stays readable */
		if (e->events_fd >= 0 && nsc_addr_events_drain(e->events_fd))
			e->addrs_whole = false;
		return true;
	}
	read_netns(s, e, all);
	if (setns(s->own_fd, CLONE_NEWNET) == 0)
		return true;
	fprintf(stderr, "noselfconn: --kernel: cannot return to its own network namespace: %s\n",
		strerror(errno));
	return false;
}

bool nsc_netns_refresh(struct nsc_netns_state *s, bool all)
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
	for (size_t i = 0; i < s->count; i++)
		if (!visit(s, s->items[i], all))
			return false;
	return true;
}

int nsc_netns_event_fd(const struct nsc_netns_state *s)
{
	return s->epoll_fd;
}

bool nsc_netns_changed(struct nsc_netns_state *s)
{
	struct epoll_event ready[64];
	int n = epoll_wait(s->epoll_fd, ready, 64, 0);
	for (int i = 0; i < n; i++)
		if (!visit(s, ready[i].data.ptr, false))
			return false;
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
	close(s->epoll_fd);
	free(s);
}
