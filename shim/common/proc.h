/* Reading /proc/PID: what the audit, the supervisor and the kernel guard
 * need. Nothing read here is trusted: escape before printing. */
#ifndef NOSELFCONN_PROC_H
#define NOSELFCONN_PROC_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NSC_COMM_SIZE 17     /* the kernel's TASK_COMM_LEN, and a NUL */
#define NSC_CMDLINE_MAX 4096 /* bytes of /proc/PID/cmdline kept */

/* A process, raw as /proc shows it. */
struct nsc_proc {
	long pid;
	char comm[NSC_COMM_SIZE];
	char *cmdline; /* arguments separated by NULs; NULL when unreadable */
	size_t cmdline_len;
	unsigned long uid;
};

/* Up to size - 1 bytes of file `name` (under directory fd `dir`, or a path
 * with AT_FDCWD), NUL-terminated; the length, or -1 on error. */
ssize_t nsc_read_at(int dir, const char *name, char *buf, size_t size);

/* Reads /proc/PID/comm, cmdline and the real uid; false when it is gone. */
bool nsc_proc_read(struct nsc_proc *proc, long pid);
void nsc_proc_free(struct nsc_proc *proc);

/* The next process of an opendir("/proc"), by pid; 0 at the end. */
long nsc_next_pid(DIR *proc);

/* The inode of the network namespace a /proc/PID/ns/net link names (the
 * N of "net:[N]"); 0 when the link cannot be read (gone, a kernel thread). */
unsigned long nsc_netns_inode(const char *link_path);

#endif
