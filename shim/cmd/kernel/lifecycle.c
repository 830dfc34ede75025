/*
 * noselfconn --kernel, what an operator undoes or leaves behind: --pin DIR
 * (the programs on bpffs for systemd's BPFProgram=, with no daemon: their
 * maps stay at the defaults), --unpin DIR, --detach CGROUP (the guard taken
 * off a cgroup, however it was attached). Each says what it did, and what
 * there was not: unpinning or detaching nothing is no error.
 */
#define _GNU_SOURCE
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "escape.h"
#include "exec.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const pin_names[2] = { "connect4", "connect6" };

/* The path, escaped for messages (two at a time). */
static const char *shown(const char *path, int slot)
{
	static char out[2][4 * 256 + 8];
	nsc_escape(out[slot], sizeof(out[slot]), path, 256);
	return out[slot];
}

static bool pin_path(char *out, size_t size, const char *dir, int i)
{
	return (size_t)snprintf(out, size, "%s/%s", dir, pin_names[i]) < size;
}

static bool on_bpffs(const char *dir)
{
	struct statfs fs;
	if (statfs(dir, &fs) == 0 && fs.f_type == BPF_FS_MAGIC)
		return true;
	fprintf(stderr,
		"noselfconn: --kernel: %s is not on a BPF file system (mount -t bpf bpf "
		"/sys/fs/bpf)\n",
		shown(dir, 0));
	return false;
}

int nsc_kernel_pin(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "noselfconn: --kernel: %s: %s\n", shown(dir, 0), strerror(errno));
		return NSC_EXIT_FAILURE;
	}
	if (!on_bpffs(dir))
		return NSC_EXIT_FAILURE;
	struct nsc_guard g;
	if (!nsc_guard_load(&g))
		return NSC_EXIT_FAILURE;
	int progs[2] = { g.prog4, g.prog6 }, status = 0;
	char path[PATH_MAX];
	for (int i = 0; i < 2 && status == 0; i++) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.bpf_fd = (uint32_t)progs[i];
		attr.pathname = (uint64_t)(uintptr_t)path;
		if (!pin_path(path, sizeof(path), dir, i) || nsc_bpf(BPF_OBJ_PIN, &attr) != 0) {
			fprintf(stderr, "noselfconn: --kernel: pinning %s: %s%s\n", shown(path, 0),
				strerror(errno),
				errno == EEXIST ? " (noselfconn --kernel --unpin removes it)" : "");
			status = NSC_EXIT_FAILURE;
			if (i == 1) { /* no half a pair */
				pin_path(path, sizeof(path), dir, 0);
				unlink(path);
			}
		}
	}
	nsc_guard_close(&g);
	if (status == 0)
		fprintf(stderr,
			"noselfconn: pinned %s/connect4 and %s/connect6 (for a unit: "
			"BPFProgram=connect4:%s/connect4 BPFProgram=connect6:%s/connect6)\n",
			shown(dir, 0), shown(dir, 0), shown(dir, 0), shown(dir, 0));
	return status;
}

int nsc_kernel_unpin(const char *dir)
{
	int removed = 0, status = 0;
	char path[PATH_MAX];
	for (int i = 0; i < 2; i++) {
		if (!pin_path(path, sizeof(path), dir, i))
			continue;
		struct bpf_prog_info info;
		int ours = nsc_pinned_guard(path, &info);
		if (ours == 0) {
			fprintf(stderr, "noselfconn: --kernel: %s is not the kernel guard's: left alone\n",
				shown(path, 0));
			status = NSC_EXIT_FAILURE;
		} else if (ours == 1 && unlink(path) == 0) {
			removed++;
		} else if (ours == 1) {
			fprintf(stderr, "noselfconn: --kernel: %s: %s\n", shown(path, 0), strerror(errno));
			status = NSC_EXIT_FAILURE;
		}
	}
	if (removed > 0)
		rmdir(dir); /* if it is empty now */
	if (status == 0)
		fprintf(stderr, removed > 0 ? "noselfconn: unpinned the kernel guard from %s\n"
					    : "noselfconn: the kernel guard is not pinned in %s\n",
			shown(dir, 0));
	return status;
}

/* One program off the cgroup: BPF_PROG_DETACH where it was attached so,
 * else BPF_LINK_DETACH of the link that holds it (5.9). */
static bool detach_one(int cgroup_fd, uint32_t id, const char *name, const char *cgroup)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	int fd = (int)nsc_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return false;
	enum bpf_attach_type type = strcmp(name, NSC_PROG_CONNECT4) == 0 ? BPF_CGROUP_INET4_CONNECT
									   : BPF_CGROUP_INET6_CONNECT;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = type;
	bool done = nsc_bpf(BPF_PROG_DETACH, &attr) == 0;
	close(fd);
	const char *how = "attached with BPF_PROG_ATTACH";
	uint32_t link = done ? 0 : nsc_guard_link_of(id);
	if (link != 0) {
		memset(&attr, 0, sizeof(attr));
		attr.link_id = link;
		int link_fd = (int)nsc_bpf(BPF_LINK_GET_FD_BY_ID, &attr);
		memset(&attr, 0, sizeof(attr));
		attr.link_detach.link_fd = (uint32_t)link_fd;
		done = link_fd >= 0 && nsc_bpf(BPF_LINK_DETACH, &attr) == 0;
		how = "held by a bpf_link: the noselfconn --kernel holding it stops";
		if (link_fd >= 0)
			close(link_fd);
	}
	if (done)
		fprintf(stderr, "noselfconn: detached %s (program id %u, %s) from %s\n", name, id, how,
			shown(cgroup, 0));
	else
		fprintf(stderr, "noselfconn: --kernel: cannot detach program id %u from %s: %s\n", id,
			shown(cgroup, 0), strerror(errno));
	return done;
}

int nsc_kernel_detach(const char *cgroup)
{
	int fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "noselfconn: --kernel: %s: %s\n", shown(cgroup, 0), strerror(errno));
		return NSC_EXIT_FAILURE;
	}
	uint32_t ids[16];
	int n = nsc_guard_attached(fd, ids, 16), status = 0;
	if (n < 0) {
		nsc_kernel_failed("querying the cgroup", errno);
		status = NSC_EXIT_FAILURE;
	} else if (n == 0) {
		fprintf(stderr, "noselfconn: the kernel guard is not attached to %s\n", shown(cgroup, 0));
	}
	for (int i = 0; i < n; i++) {
		char name[BPF_OBJ_NAME_LEN];
		if (nsc_is_guard_prog(ids[i], name) != 1 || !detach_one(fd, ids[i], name, cgroup))
			status = NSC_EXIT_FAILURE;
	}
	close(fd);
	return status;
}
