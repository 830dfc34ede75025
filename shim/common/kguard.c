/* The kernel guard as others see it: see kguard.h. */
#define _GNU_SOURCE
#include "kguard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc.h"

const char *const nsc_count_names[NSC_COUNTS] = {
	[NSC_COUNT_STEERED] = "steered",
	[NSC_COUNT_REFUSED] = "refused",
	[NSC_COUNT_LISTENER] = "listener",
	[NSC_COUNT_TRIAL] = "trial_binds",
};

long nsc_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

bool nsc_prog_info(int fd, struct bpf_prog_info *info)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(*info);
	attr.info.info = ptr(info);
	return nsc_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0;
}

bool nsc_map_info(int fd, struct bpf_map_info *info)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	memset(info, 0, sizeof(*info));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(*info);
	attr.info.info = ptr(info);
	return nsc_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0;
}

static bool is_guard_name(const char *name)
{
	return strcmp(name, NSC_PROG_CONNECT4) == 0 || strcmp(name, NSC_PROG_CONNECT6) == 0;
}

int nsc_is_guard_prog(uint32_t id, char name[BPF_OBJ_NAME_LEN])
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	int fd = (int)nsc_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return -1;
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	bool ok = nsc_prog_info(fd, &info);
	close(fd);
	if (!ok)
		return -1;
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	name[BPF_OBJ_NAME_LEN - 1] = '\0';
	return is_guard_name(name);
}

int nsc_pinned_guard(const char *path, struct bpf_prog_info *info)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = ptr(path);
	int fd = (int)nsc_bpf(BPF_OBJ_GET, &attr);
	if (fd < 0)
		return -1;
	memset(info, 0, sizeof(*info));
	bool ok = nsc_prog_info(fd, info);
	close(fd);
	info->name[BPF_OBJ_NAME_LEN - 1] = '\0';
	return ok && is_guard_name(info->name);
}

int nsc_guard_attached(int cgroup_fd, uint32_t *ids, int max)
{
	static const enum bpf_attach_type types[] = { BPF_CGROUP_INET4_CONNECT,
						       BPF_CGROUP_INET6_CONNECT };
	int found = 0;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		uint32_t all[64];
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.query.target_fd = (uint32_t)cgroup_fd;
		attr.query.attach_type = types[t];
		attr.query.prog_ids = ptr(all);
		attr.query.prog_cnt = sizeof(all) / sizeof(all[0]);
		if (nsc_bpf(BPF_PROG_QUERY, &attr) != 0 && errno != ENOSPC)
			return -1;
		uint32_t n = attr.query.prog_cnt < 64 ? attr.query.prog_cnt : 64;
		// cppcheck-suppress knownConditionTrueFalse ; bpf(2) wrote prog_cnt
		for (uint32_t i = 0; i < n && found < max; i++) {
			char name[BPF_OBJ_NAME_LEN];
			if (nsc_is_guard_prog(all[i], name) == 1)
				ids[found++] = all[i];
		}
	}
	return found;
}

uint32_t nsc_guard_link_of(uint32_t prog_id)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	while (nsc_bpf(BPF_LINK_GET_NEXT_ID, &attr) == 0) {
		uint32_t id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		attr.link_id = id;
		int fd = (int)nsc_bpf(BPF_LINK_GET_FD_BY_ID, &attr);
		if (fd >= 0) {
			struct bpf_link_info info;
			memset(&info, 0, sizeof(info));
			memset(&attr, 0, sizeof(attr));
			attr.info.bpf_fd = (uint32_t)fd;
			attr.info.info_len = sizeof(info);
			attr.info.info = ptr(&info);
			bool ours = nsc_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0 &&
				    info.type == BPF_LINK_TYPE_CGROUP && info.prog_id == prog_id;
			close(fd);
			if (ours)
				return id;
		}
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
	}
	return 0;
}

/* CPUs a per-CPU map has a value for: /sys/devices/system/cpu/possible. */
static int possible_cpus(void)
{
	char text[64];
	if (nsc_read_at(AT_FDCWD, "/sys/devices/system/cpu/possible", text, sizeof(text)) <= 0)
		return -1;
	int n = 0;
	for (char *s = text; *s != '\0' && *s != '\n';) {
		char *end;
		long low = strtol(s, &end, 10), high = low;
		if (end == s)
			return -1;
		if (*end == '-')
			high = strtol(end + 1, &end, 10);
		if (high < low || high > 65535)
			return -1;
		n += (int)(high - low + 1);
		s = *end == ',' ? end + 1 : end;
	}
	return n > 0 ? n : -1;
}

static bool read_counts(int map_fd, uint64_t counts[NSC_COUNTS])
{
	int cpus = possible_cpus();
	if (cpus < 0)
		return false;
	uint64_t *values = calloc((size_t)cpus, sizeof(*values));
	if (values == NULL)
		return false;
	bool ok = true;
	for (uint32_t key = 0; ok && key < NSC_COUNTS; key++) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = (uint32_t)map_fd;
		attr.key = ptr(&key);
		attr.value = ptr(values);
		ok = nsc_bpf(BPF_MAP_LOOKUP_ELEM, &attr) == 0;
		counts[key] = 0;
		for (int cpu = 0; ok && cpu < cpus; cpu++)
			counts[key] += values[cpu];
	}
	free(values);
	return ok;
}

bool nsc_guard_counts(int prog_fd, uint64_t counts[NSC_COUNTS])
{
	uint32_t map_ids[8];
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	info.map_ids = ptr(map_ids);
	if (!nsc_prog_info(prog_fd, &info))
		return false;
	uint32_t n = info.nr_map_ids < 8 ? info.nr_map_ids : 8;
	// cppcheck-suppress knownConditionTrueFalse ; bpf(2) wrote nr_map_ids
	for (uint32_t i = 0; i < n; i++) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.map_id = map_ids[i];
		int fd = (int)nsc_bpf(BPF_MAP_GET_FD_BY_ID, &attr);
		if (fd < 0)
			continue;
		struct bpf_map_info map;
		bool ok = nsc_map_info(fd, &map) && strcmp(map.name, NSC_MAP_COUNTS) == 0 &&
			  read_counts(fd, counts);
		close(fd);
		if (ok)
			return true;
	}
	return false;
}
