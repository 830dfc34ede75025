/*
 * progattach: what systemd does with BPFProgram=connect4:PATH on a unit:
 * the pinned program attached to a cgroup with BPF_PROG_ATTACH and
 * BPF_F_ALLOW_MULTI (it stays attached when this program exits), or
 * detached again.
 *
 *   progattach attach|detach CGROUP connect4|connect6 PINNED-PATH
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "attach") != 0 && strcmp(argv[1], "detach") != 0)) {
		fprintf(stderr, "usage: progattach attach|detach CGROUP connect4|connect6 PINNED-PATH\n");
		return 2;
	}
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(uintptr_t)argv[4];
	int prog = (int)bpf(BPF_OBJ_GET, &attr);
	int cgroup = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (prog < 0 || cgroup < 0) {
		perror("progattach");
		return 1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = strcmp(argv[3], "connect4") == 0 ? BPF_CGROUP_INET4_CONNECT : BPF_CGROUP_INET6_CONNECT;
	attr.attach_flags = strcmp(argv[1], "attach") == 0 ? BPF_F_ALLOW_MULTI : 0;
	if (bpf(strcmp(argv[1], "attach") == 0 ? BPF_PROG_ATTACH : BPF_PROG_DETACH, &attr) != 0) {
		perror("progattach");
		return 1;
	}
	return 0;
}
