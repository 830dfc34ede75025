/* --status: each kernel feature a guard needs, asked of the kernel itself. */
#ifndef NOSELFCONN_PROBES_H
#define NOSELFCONN_PROBES_H

#include <stdbool.h>
#include <stddef.h>

bool nsc_has_port_range_option(void); /* IP_LOCAL_PORT_RANGE, 6.3 */
bool nsc_has_user_notification(void); /* seccomp user notification, 5.0 */
bool nsc_has_pidfd_getfd(void);	      /* 5.6 */
bool nsc_has_pidfd_thread(void);      /* PIDFD_THREAD, 6.9 */

/* The kernel guard's needs. */
struct nsc_bpf_probe {
	bool cap_bpf, cap_net_admin, cap_sys_admin; /* effective capabilities */
	int load_errno;	 /* 0: a connect4 program of the cgroup sock_addr type loads */
	int link_errno;	 /* 0: bpf_link can attach it to a cgroup (unknown: -1) */
};
void nsc_probe_bpf(struct nsc_bpf_probe *probe);

/* Where cgroup v2 is mounted (escaped), or false. */
bool nsc_cgroup2_mount(char *path, size_t size);

#endif
