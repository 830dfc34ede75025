/* The kernel features each guard needs, each asked of the kernel itself,
 * so that a kernel with a feature backported (or a seccomp filter that
 * takes it away) is seen as it is. */
#define _GNU_SOURCE
#include "probes.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "escape.h"

bool nsc_has_port_range_option(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unsigned range;
	socklen_t len = sizeof(range);
	bool ok = fd >= 0 && getsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, &len) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

bool nsc_has_user_notification(void)
{
	struct seccomp_notif_sizes sizes;
	return syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
}

bool nsc_has_pidfd_getfd(void)
{
	/* Bad arguments on purpose: EBADF where it exists, ENOSYS where not. */
	return !(syscall(SYS_pidfd_getfd, -1, -1, 0) < 0 && errno == ENOSYS);
}

bool nsc_has_pidfd_thread(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static void capabilities(struct nsc_bpf_probe *probe)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	if (syscall(SYS_capget, &header, data) != 0)
		return;
	unsigned long long effective = (unsigned long long)data[1].effective << 32 | data[0].effective;
	probe->cap_bpf = effective >> 39 & 1; /* CAP_BPF, 5.8 */
	probe->cap_net_admin = effective >> CAP_NET_ADMIN & 1;
	probe->cap_sys_admin = effective >> CAP_SYS_ADMIN & 1;
}

static long bpf(int command, union bpf_attr *attr)
{
	return syscall(SYS_bpf, command, attr, sizeof(*attr));
}

void nsc_probe_bpf(struct nsc_bpf_probe *probe)
{
	*probe = (struct nsc_bpf_probe){ .link_errno = -1 };
	capabilities(probe);
	/* The smallest connect4 program: allow (r0 = 1), exit. Loaded, never
	 * attached: the load says whether bpf() is allowed and the attach
	 * type known. */
	struct bpf_insn allow[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr load;
	memset(&load, 0, sizeof(load));
	load.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	load.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
	load.insns = (unsigned long)allow;
	load.insn_cnt = sizeof(allow) / sizeof(allow[0]);
	load.license = (unsigned long)"MIT";
	int prog = (int)bpf(BPF_PROG_LOAD, &load);
	probe->load_errno = prog >= 0 ? 0 : errno;
	if (prog < 0)
		return;
	/* A link to no cgroup at all: EBADF where bpf_link can take a
	 * cgroup (5.7), EINVAL where it cannot. Nothing is attached. */
	union bpf_attr link;
	memset(&link, 0, sizeof(link));
	link.link_create.prog_fd = (unsigned)prog;
	link.link_create.target_fd = (unsigned)-1;
	link.link_create.attach_type = BPF_CGROUP_INET4_CONNECT;
	int fd = (int)bpf(BPF_LINK_CREATE, &link);
	probe->link_errno = fd >= 0 || errno == EBADF ? 0 : errno;
	if (fd >= 0)
		close(fd);
	close(prog);
}

bool nsc_cgroup2_mount(char *path, size_t size)
{
	FILE *mounts = fopen("/proc/self/mountinfo", "re");
	if (mounts == NULL)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), mounts) != NULL) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE ... */
		char point[2048];
		const char *dash = strstr(line, " - cgroup2 ");
		if (dash != NULL && sscanf(line, "%*s %*s %*s %*s %2047s", point) == 1) {
			nsc_escape(path, size, point, size);
			found = true;
		}
	}
	fclose(mounts);
	return found;
}
