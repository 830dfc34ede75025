/*
 * noselfconn --kernel, loading: the maps, the two programs through the
 * verifier, and attaching them to a cgroup with bpf_link (Linux 5.7), so
 * that they leave with the process that holds the links, whatever ends it.
 * Every failure becomes one line that says what to use instead.
 */
#define _GNU_SOURCE
#include "kernel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "escape.h"
#include "exec.h"

#define NETNS_MAX 4096	 /* namespaces the daemon keeps values for */
#define ADDRS_MAX 65536	 /* their addresses, all together */
#define LOG_SIZE (1 << 20)

const char nsc_kernel_fallback[] =
	"use the preload (noselfconn COMMAND) or noselfconn --supervise COMMAND instead";

/* One line for an error of bpf(2): which of the usual causes it is. */
void nsc_kernel_failed(const char *what, int err)
{
	if (err == EPERM || err == EACCES)
		fprintf(stderr, "noselfconn: --kernel: %s: %s: needs root (CAP_BPF and CAP_NET_ADMIN); %s\n",
			what, strerror(err), nsc_kernel_fallback);
	else if (err == ENOSYS)
		fprintf(stderr, "noselfconn: --kernel: this kernel has no bpf(2) (%s); %s\n", what,
			nsc_kernel_fallback);
	else if (err == EINVAL || err == E2BIG || err == EOPNOTSUPP)
		fprintf(stderr,
			"noselfconn: --kernel: %s: %s: the kernel guard needs Linux 5.7 or later "
			"with cgroup BPF; %s\n",
			what, strerror(err), nsc_kernel_fallback);
	else
		fprintf(stderr, "noselfconn: --kernel: %s: %s; %s\n", what, strerror(err),
			nsc_kernel_fallback);
}

static int create_map(enum bpf_map_type type, uint32_t key, uint32_t value, uint32_t max,
		      uint32_t flags, const char *name)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = key;
	attr.value_size = value;
	attr.max_entries = max;
	attr.map_flags = flags;
	strncpy(attr.map_name, name, sizeof(attr.map_name) - 1);
	int fd = (int)nsc_bpf(BPF_MAP_CREATE, &attr);
	if (fd < 0)
		nsc_kernel_failed("creating a map", errno);
	return fd;
}

/* A program the kernel refused: its verifier's last line, escaped, in the
 * one line that says so. */
static void refused(int family, int err, const char *log)
{
	size_t len = strlen(log);
	while (len > 0 && log[len - 1] == '\n')
		len--;
	const char *start = log + len;
	while (start > log && start[-1] != '\n')
		start--;
	char line[512], escaped[4 * 200 + 8];
	snprintf(line, sizeof(line), "%.*s", (int)(log + len - start), start);
	nsc_escape(escaped, sizeof(escaped), line, 200);
	fprintf(stderr,
		"noselfconn: --kernel: this kernel refused the connect%d program (%s%s%s); the "
		"kernel guard needs Linux 5.7 or later: %s\n",
		family == AF_INET ? 4 : 6, strerror(err), escaped[0] ? ": " : "", escaped,
		nsc_kernel_fallback);
}

static int load_program(int family, const struct nsc_guard_maps *maps, unsigned *insn_count)
{
	static struct nsc_asm a;
	if (!nsc_guard_program(&a, family, maps)) {
		fprintf(stderr, "noselfconn: --kernel: the connect%d program does not assemble\n",
			family == AF_INET ? 4 : 6);
		return -1;
	}
	*insn_count = a.count;
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	attr.expected_attach_type = family == AF_INET ? BPF_CGROUP_INET4_CONNECT
						       : BPF_CGROUP_INET6_CONNECT;
	attr.insns = (uint64_t)(uintptr_t)a.insns;
	attr.insn_cnt = a.count;
	attr.license = (uint64_t)(uintptr_t) "Dual MIT/GPL";
	strncpy(attr.prog_name, family == AF_INET ? NSC_PROG_CONNECT4 : NSC_PROG_CONNECT6,
		sizeof(attr.prog_name) - 1);
	int fd = (int)nsc_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	int err = errno;
	if (err == EPERM || err == ENOSYS) {
		nsc_kernel_failed(family == AF_INET ? "loading connect4" : "loading connect6", err);
		return -1;
	}
	/* Again with the verifier's log, for the message. */
	char *log = calloc(1, LOG_SIZE);
	if (log != NULL) {
		attr.log_level = 1;
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = LOG_SIZE;
		fd = (int)nsc_bpf(BPF_PROG_LOAD, &attr);
		err = fd < 0 ? errno : 0;
	}
	if (fd < 0)
		refused(family, err, log != NULL ? log : "");
	free(log);
	return fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void nsc_guard_close(struct nsc_guard *g)
{
	close_fd(&g->link4);
	close_fd(&g->link6);
	close_fd(&g->prog4);
	close_fd(&g->prog6);
	close_fd(&g->maps.netns);
	close_fd(&g->maps.addrs);
	close_fd(&g->maps.counts);
}

bool nsc_guard_load(struct nsc_guard *g)
{
	*g = (struct nsc_guard){ .maps = { -1, -1, -1 }, .prog4 = -1, .prog6 = -1, .link4 = -1,
				 .link6 = -1 };
	/* Hash maps that grow as entries come (no preallocation). */
	g->maps.netns = create_map(BPF_MAP_TYPE_HASH, sizeof(uint64_t),
				   sizeof(struct nsc_netns_value), NETNS_MAX, BPF_F_NO_PREALLOC,
				   NSC_MAP_NETNS);
	if (g->maps.netns >= 0)
		g->maps.addrs = create_map(BPF_MAP_TYPE_HASH, sizeof(struct nsc_addr_key),
					   sizeof(uint8_t), ADDRS_MAX, BPF_F_NO_PREALLOC,
					   NSC_MAP_ADDRS);
	if (g->maps.addrs >= 0)
		g->maps.counts = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t),
					    sizeof(uint64_t), NSC_COUNTS, 0, NSC_MAP_COUNTS);
	if (g->maps.counts >= 0)
		g->prog4 = load_program(AF_INET, &g->maps, &g->insns4);
	if (g->prog4 >= 0)
		g->prog6 = load_program(AF_INET6, &g->maps, &g->insns6);
	if (g->prog6 < 0) {
		nsc_guard_close(g);
		return false;
	}
	return true;
}

static int create_link(int prog, int cgroup_fd, enum bpf_attach_type type)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog;
	attr.link_create.target_fd = (uint32_t)cgroup_fd;
	attr.link_create.attach_type = type;
	return (int)nsc_bpf(BPF_LINK_CREATE, &attr);
}

bool nsc_guard_attach(struct nsc_guard *g, int cgroup_fd)
{
	g->link4 = create_link(g->prog4, cgroup_fd, BPF_CGROUP_INET4_CONNECT);
	if (g->link4 >= 0)
		g->link6 = create_link(g->prog6, cgroup_fd, BPF_CGROUP_INET6_CONNECT);
	if (g->link6 < 0) {
		nsc_kernel_failed("attaching (bpf_link)", errno);
		return false;
	}
	return true;
}

/* Whether both links are still attached to a cgroup: a link whose cgroup
 * went, or that someone detached (BPF_LINK_DETACH), reports cgroup id 0. */
bool nsc_guard_linked(const struct nsc_guard *g)
{
	int links[] = { g->link4, g->link6 };
	for (size_t i = 0; i < 2; i++) {
		struct bpf_link_info info;
		union bpf_attr attr;
		memset(&info, 0, sizeof(info));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = (uint32_t)links[i];
		attr.info.info_len = sizeof(info);
		attr.info.info = (uint64_t)(uintptr_t)&info;
		if (nsc_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0 && info.cgroup.cgroup_id == 0)
			return false;
	}
	return true;
}
