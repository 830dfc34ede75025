/*
 * Who holds each socket the audit reports: one pass over /proc/PID/fd of
 * every process, each "socket:[INODE]" looked up in an index of the
 * findings sorted by inode (socket inodes are unique across namespaces), so
 * the cost is one readlink per descriptor, as for ss -p; a process's comm
 * and command line are read once, when it first owns a finding.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool nsc_is_system_uid(unsigned long uid)
{
	return uid <= NSC_SYSTEM_UID_MAX;
}

void *nsc_grow(void *items, size_t *capacity, size_t count, size_t size, size_t first)
{
	if (count < *capacity)
		return items;
	size_t more = *capacity ? 2 * *capacity : first;
	void *grown = realloc(items, more * size);
	if (grown != NULL)
		*capacity = more;
	return grown;
}

void nsc_audit_out_of_memory(void)
{
	static bool said;
	if (!said)
		fprintf(stderr, "noselfconn: audit: out of memory\n");
	said = true;
}

struct user_name {
	unsigned long uid;
	char *name; /* NULL: no such user */
};

const char *nsc_user_name(unsigned long uid)
{
	static struct user_name *cache;
	static size_t count, capacity;
	for (size_t i = 0; i < count; i++)
		if (cache[i].uid == uid)
			return cache[i].name;
	struct user_name *grown = nsc_grow(cache, &capacity, count, sizeof(*grown), 16);
	if (grown == NULL)
		return NULL;
	cache = grown;
	const struct passwd *pw = getpwuid((uid_t)uid);
	cache[count] = (struct user_name){ .uid = uid,
					   .name = pw != NULL ? strdup(pw->pw_name) : NULL };
	return cache[count++].name;
}

bool nsc_procs_add(struct nsc_procs *procs, const struct nsc_proc *proc, size_t *index)
{
	struct nsc_proc *grown = nsc_grow(procs->items, &procs->capacity, procs->count,
					  sizeof(*grown), 64);
	if (grown == NULL)
		return false;
	procs->items = grown;
	*index = procs->count;
	procs->items[procs->count++] = *proc;
	return true;
}

static int by_inode(const void *a, const void *b)
{
	unsigned long x = (*(struct nsc_finding *const *)a)->socket.inode;
	unsigned long y = (*(struct nsc_finding *const *)b)->socket.inode;
	return (x > y) - (x < y);
}

/* The findings of every namespace, sorted by socket inode. */
static struct nsc_finding **build_index(const struct nsc_report *report, size_t *count)
{
	size_t n = 0;
	for (size_t i = 0; i < report->count; i++)
		n += report->items[i].selves.count + report->items[i].exposed.count;
	struct nsc_finding **index = malloc((n ? n : 1) * sizeof(struct nsc_finding *));
	if (index == NULL)
		return NULL;
	n = 0;
	for (size_t i = 0; i < report->count; i++) {
		const struct nsc_netns *ns = &report->items[i];
		for (size_t j = 0; j < ns->selves.count; j++)
			index[n++] = &ns->selves.items[j];
		for (size_t j = 0; j < ns->exposed.count; j++)
			index[n++] = &ns->exposed.items[j];
	}
	qsort(index, n, sizeof(struct nsc_finding *), by_inode);
	*count = n;
	return index;
}

/* The range of the index holding `inode`; first == count when none. */
static size_t lookup(struct nsc_finding **index, size_t count, unsigned long inode)
{
	size_t low = 0, high = count;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (index[mid]->socket.inode < inode)
			low = mid + 1;
		else
			high = mid;
	}
	return low < count && index[low]->socket.inode == inode ? low : count;
}

/* Adds process `pid` (read once: *proc_index) as an owner of `f`. */
static bool add_owner(struct nsc_report *report, struct nsc_finding *f, long pid,
		      size_t *proc_index)
{
	if (*proc_index == (size_t)-1) {
		struct nsc_proc proc;
		if (!nsc_proc_read(&proc, pid))
			proc = (struct nsc_proc){ .pid = pid, .uid = (unsigned long)-1 };
		if (!nsc_procs_add(&report->procs, &proc, proc_index)) {
			nsc_proc_free(&proc);
			return false;
		}
	}
	for (int i = 0; i < f->owner_count; i++)
		if (f->owners[i] == *proc_index)
			return true; /* one more descriptor of the same process */
	if (f->owner_count == NSC_MAX_OWNERS)
		f->owners_more++;
	else
		f->owners[f->owner_count++] = *proc_index;
	return true;
}

/* The socket descriptors of one process; false when out of memory. */
static bool scan_fds(struct nsc_report *report, struct nsc_finding **index, size_t count,
		     long pid, int fd_dir)
{
	DIR *fds = fdopendir(fd_dir);
	if (fds == NULL) {
		close(fd_dir);
		return true;
	}
	size_t proc_index = (size_t)-1;
	bool ok = true;
	const struct dirent *d;
	while (ok && (d = readdir(fds)) != NULL) {
		char target[64];
		ssize_t n = readlinkat(dirfd(fds), d->d_name, target, sizeof(target) - 1);
		if (n < 9 || strncmp(target, "socket:[", 8) != 0)
			continue;
		target[n] = '\0';
		char *end;
		unsigned long inode = strtoul(target + 8, &end, 10);
		if (strcmp(end, "]") != 0)
			continue;
		for (size_t i = lookup(index, count, inode);
		     ok && i < count && index[i]->socket.inode == inode; i++)
			ok = add_owner(report, index[i], pid, &proc_index);
	}
	closedir(fds);
	return ok;
}

bool nsc_find_owners(struct nsc_report *report)
{
	size_t count;
	struct nsc_finding **index = build_index(report, &count);
	if (index == NULL) {
		nsc_audit_out_of_memory();
		return false;
	}
	DIR *proc = count > 0 ? opendir("/proc") : NULL;
	bool ok = true;
	long pid;
	while (ok && proc != NULL && (pid = nsc_next_pid(proc)) > 0) {
		char path[64];
		snprintf(path, sizeof(path), "%ld/fd", pid);
		int fd_dir = openat(dirfd(proc), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd_dir >= 0) /* else gone, or not ours to read */
			ok = scan_fds(report, index, count, pid, fd_dir);
	}
	if (proc != NULL)
		closedir(proc);
	free(index);
	if (!ok)
		nsc_audit_out_of_memory();
	return ok;
}
