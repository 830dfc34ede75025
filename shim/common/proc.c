/* Reading /proc/PID for the audit, the supervisor and the kernel guard. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procnet.h"

ssize_t nsc_read_at(int dir, const char *name, char *buf, size_t size)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

bool nsc_proc_read(struct nsc_proc *proc, long pid)
{
	char path[64], *status = malloc(NSC_CMDLINE_MAX);
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*proc = (struct nsc_proc){ .pid = pid, .uid = (unsigned long)-1 };
	if (dir < 0 || status == NULL) {
		if (dir >= 0)
			close(dir);
		free(status);
		return false;
	}
	ssize_t len = nsc_read_at(dir, "comm", proc->comm, sizeof(proc->comm));
	if (len > 0 && proc->comm[len - 1] == '\n') /* the kernel's; a name may hold more */
		proc->comm[len - 1] = '\0';
	if (nsc_read_at(dir, "status", status, NSC_CMDLINE_MAX) > 0)
		nsc_parse_status_field(status, "Uid", &proc->uid);
	ssize_t n = nsc_read_at(dir, "cmdline", status, NSC_CMDLINE_MAX);
	if (n > 0 && (proc->cmdline = malloc((size_t)n)) != NULL) {
		memcpy(proc->cmdline, status, (size_t)n);
		proc->cmdline_len = (size_t)n;
	}
	free(status);
	close(dir);
	return true;
}

void nsc_proc_free(struct nsc_proc *proc)
{
	free(proc->cmdline);
	proc->cmdline = NULL;
}

long nsc_next_pid(DIR *proc)
{
	const struct dirent *p;
	while ((p = readdir(proc)) != NULL)
		if (p->d_name[0] >= '1' && p->d_name[0] <= '9')
			return strtol(p->d_name, NULL, 10);
	return 0;
}

unsigned long nsc_netns_inode(const char *link_path)
{
	char target[64];
	ssize_t n = readlink(link_path, target, sizeof(target) - 1);
	unsigned long inode = 0;
	if (n > 0) {
		target[n] = '\0';
		char *end = NULL;
		if (strncmp(target, "net:[", 5) == 0)
			inode = strtoul(target + 5, &end, 10);
		if (inode != 0 && strcmp(end, "]") != 0)
			inode = 0;
	}
	return inode;
}
