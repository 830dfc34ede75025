/*
 * Where the kernel guard is on this host, for --audit: every cgroup of the
 * cgroup v2 mounts it is attached to (BPF_PROG_QUERY on each directory),
 * every file of the BPF file systems that pins one of its programs, and for
 * each attachment the link and the process that holds it (a bpf_link's
 * descriptor shows "link_id:" in /proc/PID/fdinfo).
 */
#define _GNU_SOURCE
#include "kguard.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static struct nsc_guard_places *found; /* for the nftw() callbacks */
static int query_error;

static struct nsc_guard_place *add_place(const char *path, bool pinned, uint32_t id)
{
	if (found->count == found->capacity) {
		size_t capacity = found->capacity ? 2 * found->capacity : 8;
		struct nsc_guard_place *items = realloc(found->items, capacity * sizeof(*items));
		if (items == NULL)
			return NULL;
		found->items = items;
		found->capacity = capacity;
	}
	struct nsc_guard_place *p = &found->items[found->count];
	*p = (struct nsc_guard_place){ .pinned = pinned, .prog_id = id, .path = strdup(path) };
	if (p->path == NULL)
		return NULL;
	found->count++;
	return p;
}

/* The program's name and counters, by id. */
static void describe(struct nsc_guard_place *p)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = p->prog_id;
	int fd = (int)nsc_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return;
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	if (nsc_prog_info(fd, &info))
		memcpy(p->name, info.name, sizeof(p->name));
	p->name[sizeof(p->name) - 1] = '\0';
	p->counted = nsc_guard_counts(fd, p->counts);
	close(fd);
}

static int visit_cgroup(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_D)
		return 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* removed meanwhile */
	uint32_t ids[8];
	int n = nsc_guard_attached(fd, ids, 8);
	close(fd);
	if (n < 0) {
		query_error = errno;
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct nsc_guard_place *p = add_place(path, false, ids[i]);
		if (p == NULL) {
			query_error = ENOMEM;
			return 1;
		}
		describe(p);
		p->link_id = nsc_guard_link_of(ids[i]);
	}
	return 0;
}

static int visit_bpffs(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	struct bpf_prog_info info;
	struct nsc_guard_place *p =
		nsc_pinned_guard(path, &info) == 1 ? add_place(path, true, info.id) : NULL;
	if (p != NULL)
		describe(p);
	return 0;
}

/* Calls visit on every mount of file system type `fstype` (mountinfo). */
static void each_mount(const char *fstype, int (*visit)(const char *, const struct stat *, int,
							 struct FTW *))
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], seen[8][1024];
	int seen_count = 0;
	while (f != NULL && query_error == 0 && fgets(line, sizeof(line), f) != NULL) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ... */
		char point[1024], type[64];
		const char *dash = strstr(line, " - ");
		if (dash == NULL || sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1 ||
		    sscanf(dash + 3, "%63s", type) != 1 || strcmp(type, fstype) != 0)
			continue;
		/* mountinfo escapes spaces as \040: such mounts are left out */
		bool again = false;
		for (int i = 0; i < seen_count; i++)
			again |= strcmp(seen[i], point) == 0;
		if (again || strchr(point, '\\') != NULL)
			continue;
		if (seen_count < 8)
			snprintf(seen[seen_count++], sizeof(seen[0]), "%s", point);
		nftw(point, visit, 16, FTW_PHYS | FTW_MOUNT);
	}
	if (f != NULL)
		fclose(f);
}

/* The pid of a process holding a descriptor of link `id`, or 0. */
static long link_holder(uint32_t id)
{
	DIR *proc = opendir("/proc");
	long pid, holder = 0;
	char want[32];
	snprintf(want, sizeof(want), "link_id:\t%u\n", id);
	while (holder == 0 && proc != NULL && (pid = nsc_next_pid(proc)) > 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
		DIR *fds = opendir(path);
		const struct dirent *d;
		while (holder == 0 && fds != NULL && (d = readdir(fds)) != NULL) {
			char info[512];
			if (d->d_name[0] != '.' && nsc_read_at(dirfd(fds), d->d_name, info, sizeof(info)) > 0 &&
			    strstr(info, want) != NULL)
				holder = pid;
		}
		if (fds != NULL)
			closedir(fds);
	}
	if (proc != NULL)
		closedir(proc);
	return holder;
}

bool nsc_guard_find(struct nsc_guard_places *places)
{
	*places = (struct nsc_guard_places){ 0 };
	found = places;
	query_error = 0;
	each_mount("cgroup2", visit_cgroup);
	if (query_error == 0)
		each_mount("bpf", visit_bpffs);
	for (size_t i = 0; query_error == 0 && i < places->count; i++)
		if (places->items[i].link_id != 0)
			places->items[i].holder_pid = link_holder(places->items[i].link_id);
	found = NULL;
	if (query_error != 0) {
		nsc_guard_places_free(places);
		errno = query_error;
		return false;
	}
	return true;
}

void nsc_guard_places_free(struct nsc_guard_places *places)
{
	for (size_t i = 0; i < places->count; i++)
		free(places->items[i].path);
	free(places->items);
	*places = (struct nsc_guard_places){ 0 };
}
