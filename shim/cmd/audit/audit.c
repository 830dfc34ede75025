/*
 * noselfconn --audit: in each network namespace audited, what is connected
 * to itself, which servers listen where a client could connect to itself
 * while they are down, and the sysctl line that keeps the kernel away from
 * the ports of the system's own servers (never from other users' ports:
 * anyone could otherwise choose what root reserves).
 *
 * The tables come from /proc/PID/net/tcp{,6} of a process in the namespace
 * (those files show that process's namespace); /proc/sys/net shows the
 * namespace of whoever opens it, so the sysctls of another namespace are
 * read by a child that setns() into it first.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"

static bool add_finding(struct nsc_findings *list, const struct nsc_tcp_socket *s)
{
	struct nsc_finding *items = nsc_grow(list->items, &list->capacity, list->count,
					     sizeof(*items), 16);
	if (items == NULL) {
		nsc_audit_out_of_memory();
		return false;
	}
	list->items = items;
	list->items[list->count++] = (struct nsc_finding){ .socket = *s };
	return true;
}

/* All of what fd holds, NUL-terminated, in *text (malloc'd); -1 on error. */
static ssize_t read_all(int fd, char **text)
{
	size_t len = 0, size = 4096;
	char *buf = malloc(size);
	while (buf != NULL) {
		if (len + 1 == size) {
			char *grown = realloc(buf, size *= 2);
			if (grown == NULL)
				break;
			buf = grown;
		}
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			buf[len] = '\0';
			*text = buf;
			return (ssize_t)len;
		}
		len += (size_t)n;
	}
	if (buf == NULL || len + 1 == size)
		nsc_audit_out_of_memory();
	free(buf);
	return -1;
}

static ssize_t read_file(const char *path, char **text)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	ssize_t n = read_all(fd, text);
	int saved = errno;
	close(fd);
	errno = saved;
	return n;
}

/*
 * A sysctl, whole: the kernel answers one read() with as much of the value as
 * fits and a second with nothing (ip_local_reserved_ports runs to 200 KB), so
 * one read into a buffer larger than any value, never a loop of small ones.
 */
static ssize_t read_sysctl(const char *path, char **text)
{
	enum { MAX = 1 << 20 };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char *buf = fd >= 0 ? malloc(MAX) : NULL;
	ssize_t n = -1;
	if (buf != NULL) {
		do
			n = read(fd, buf, MAX);
		while (n < 0 && errno == EINTR);
	} else if (fd >= 0) {
		nsc_audit_out_of_memory();
	}
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0 || n == MAX) {
		free(buf);
		errno = n == MAX ? EFBIG : saved;
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	return n;
}

/* The sysctls of this namespace: the range, then the reserved ports. */
static char *read_sysctls(void)
{
	char *range = NULL, *reserved = NULL, *both = NULL;
	if (read_sysctl("/proc/sys/net/ipv4/ip_local_port_range", &range) > 0 &&
	    read_sysctl("/proc/sys/net/ipv4/ip_local_reserved_ports", &reserved) >= 0 &&
	    asprintf(&both, "%s%s", range, reserved) < 0)
		both = NULL;
	free(range);
	free(reserved);
	return both;
}

/* Whether the process naming `ns` has left it (exited, or its pid reused
 * elsewhere) since the namespace was found. */
static bool netns_left(const struct nsc_netns *ns)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/ns/net", ns->pid);
	return !ns->current && nsc_netns_inode(path) != ns->inode;
}

/* In a child: joins namespace `ns_fd`, writes its sysctls to `out`. */
__attribute__((noreturn)) static void sysctls_child(int ns_fd, int out)
{
	char *text = setns(ns_fd, CLONE_NEWNET) == 0 ? read_sysctls() : NULL;
	size_t len = text != NULL ? strlen(text) : 0, done = 0;
	while (done < len) {
		ssize_t n = write(out, text + done, len - done);
		if (n <= 0)
			_exit(1);
		done += (size_t)n;
	}
	_exit(text != NULL ? 0 : 1);
}

/* The sysctls of namespace `ns`, read by a child that joins it. */
static char *read_sysctls_of(const struct nsc_netns *ns)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/ns/net", ns->pid);
	int ns_fd = open(path, O_RDONLY | O_CLOEXEC), pipe_fds[2];
	if (ns_fd < 0 || pipe2(pipe_fds, O_CLOEXEC) != 0) {
		if (!netns_left(ns))
			fprintf(stderr, "noselfconn: audit: %s: %s\n", path, strerror(errno));
		if (ns_fd >= 0)
			close(ns_fd);
		return NULL;
	}
	pid_t child = fork();
	if (child == 0) {
		close(pipe_fds[0]);
		sysctls_child(ns_fd, pipe_fds[1]);
	}
	close(ns_fd);
	close(pipe_fds[1]);
	char *text = NULL;
	int status = 0;
	if (child < 0 || read_all(pipe_fds[0], &text) < 0)
		status = -1;
	close(pipe_fds[0]);
	if (child > 0 && (waitpid(child, &status, 0) != child || status != 0))
		status = -1;
	if (status != 0) {
		if (!netns_left(ns))
			fprintf(stderr, "noselfconn: audit: cannot read the sysctls of %s (setns needs root)\n",
				path);
		free(text);
		return NULL;
	}
	return text;
}

static bool scan_table(struct nsc_netns *ns, const char *table, int family,
		       const struct nsc_port_set *reserved)
{
	char path[64];
	if (ns->current)
		snprintf(path, sizeof(path), "/proc/net/%s", table);
	else
		snprintf(path, sizeof(path), "/proc/%ld/net/%s", ns->pid, table);
	char *text = NULL;
	if (read_file(path, &text) < 0) {
		if (text == NULL && errno == ENOENT && family == AF_INET6 && !netns_left(ns))
			return true; /* no IPv6 */
		if (!netns_left(ns))
			fprintf(stderr, "noselfconn: audit: %s: %s\n", path, strerror(errno));
		return false;
	}
	bool ok = true;
	char *line = strchr(text, '\n'); /* past the header */
	struct nsc_tcp_socket s;
	while (ok && line != NULL && *++line != '\0') {
		char *end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		if (!nsc_parse_tcp_line(line, family, &s)) {
			fprintf(stderr, "noselfconn: audit: %s: cannot parse \"%.80s\"\n", path, line);
			ok = false;
		} else if (s.state == NSC_TCP_LISTEN) {
			if (s.local_port >= ns->range.low && s.local_port <= ns->range.high &&
			    !nsc_port_set_has(reserved, s.local_port))
				ok = add_finding(&ns->exposed, &s);
		} else if (s.state != NSC_TCP_TIME_WAIT && nsc_tcp_is_self(&s)) {
			ok = add_finding(&ns->selves, &s);
		}
		line = end;
	}
	free(text);
	return ok;
}

/* The set as text, allocated to its full length. */
static char *format_ports(const struct nsc_port_set *set)
{
	size_t len = nsc_port_set_format(set, NULL, 0);
	char *text = malloc(len + 1);
	if (text != NULL)
		nsc_port_set_format(set, text, len + 1);
	return text;
}

/* The proposal: what is reserved, and the ports of the system's listeners. */
static bool propose(struct nsc_netns *ns, struct nsc_port_set *set)
{
	bool any = false;
	for (size_t i = 0; i < ns->exposed.count; i++) {
		struct nsc_finding *f = &ns->exposed.items[i];
		f->proposed = nsc_is_system_uid(f->socket.uid);
		if (f->proposed)
			nsc_port_set_add(set, f->socket.local_port);
		any |= f->proposed;
	}
	ns->proposed_in_range = nsc_port_set_count(set, ns->range.low, ns->range.high);
	ns->suggested_text = format_ports(set);
	if (ns->suggested_text == NULL)
		return false;
	char prefix[96] = "";
	if (!ns->current)
		snprintf(prefix, sizeof(prefix), "nsenter --net=/proc/%ld/ns/net ", ns->pid);
	if (asprintf(&ns->sysctl, "%ssysctl -w net.ipv4.ip_local_reserved_ports=%s", prefix,
		     ns->suggested_text) < 0)
		return false;
	if (!any)
		ns->sysctl[0] = '\0';
	return true;
}

/* One namespace: sysctls, both tables, the proposal. */
/* Another process still in `ns`, to name it now that the first has left;
 * false when none is (the namespace is gone with it). */
static bool rename_netns(struct nsc_netns *ns)
{
	DIR *proc = opendir("/proc");
	long pid = 0;
	while (proc != NULL && (pid = nsc_next_pid(proc)) > 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		if (pid != ns->pid && nsc_netns_inode(path) == ns->inode)
			break;
	}
	if (proc != NULL)
		closedir(proc);
	if (pid > 0)
		ns->pid = pid;
	return pid > 0;
}

static void netns_free(struct nsc_netns *ns)
{
	free(ns->selves.items);
	free(ns->exposed.items);
	free(ns->reserved_text);
	free(ns->suggested_text);
	free(ns->sysctl);
	*ns = (struct nsc_netns){ .inode = ns->inode, .pid = ns->pid, .current = ns->current };
}

static bool audit_netns(struct nsc_netns *ns)
{
	char *sysctls = ns->current ? read_sysctls() : read_sysctls_of(ns);
	if (sysctls == NULL) {
		if (ns->current)
			fprintf(stderr, "noselfconn: audit: cannot read /proc/sys/net/ipv4: %s\n",
				strerror(errno));
		return false;
	}
	char *reserved = strchr(sysctls, '\n');
	struct nsc_port_set *set = calloc(1, sizeof(*set));
	bool ok = set != NULL && reserved != NULL &&
		  nsc_parse_port_range(sysctls, (size_t)(reserved - sysctls), &ns->range) &&
		  nsc_port_set_parse(set, reserved + 1);
	if (!ok)
		fprintf(stderr, "noselfconn: audit: cannot parse the port sysctls of %s\n",
			set == NULL ? "(out of memory)" : "a namespace");
	ok = ok && (ns->reserved_text = format_ports(set)) != NULL &&
	     scan_table(ns, "tcp", AF_INET, set) && scan_table(ns, "tcp6", AF_INET6, set) &&
	     propose(ns, set);
	free(set);
	free(sysctls);
	return ok;
}

/*
 * Audits namespace *i. Processes come and go while the audit runs: what was
 * read through a process that has since left its namespace is not
 * believed; the namespace is read again through another process in it or,
 * when none is left (or three in a row leave: a namespace of short-lived
 * processes), dropped, and *i steps back over it.
 */
static bool audit_namespace_found(struct nsc_report *report, size_t *i)
{
	struct nsc_netns *ns = &report->items[*i];
	for (int tries = 0; tries < 3; tries++) {
		bool ok = audit_netns(ns);
		if (!netns_left(ns))
			return ok;
		netns_free(ns);
		if (!rename_netns(ns))
			break;
	}
	memmove(ns, ns + 1, (report->count - *i - 1) * sizeof(*ns));
	report->count--;
	(*i)--;
	return true;
}

static bool add_netns(struct nsc_report *report, unsigned long inode, long pid, bool current)
{
	for (size_t i = 0; i < report->count; i++)
		if (report->items[i].inode == inode)
			return true;
	struct nsc_netns *grown = nsc_grow(report->items, &report->capacity, report->count,
					   sizeof(*grown), 8);
	if (grown == NULL) {
		nsc_audit_out_of_memory();
		return false;
	}
	report->items = grown;
	report->items[report->count++] = (struct nsc_netns){ .inode = inode, .pid = pid,
							     .current = current };
	return true;
}

/* This namespace, and with all_namespaces every other one a process is in. */
static bool find_namespaces(struct nsc_report *report)
{
	unsigned long self = nsc_netns_inode("/proc/self/ns/net");
	if (self == 0 || !add_netns(report, self, (long)getpid(), true)) {
		fprintf(stderr, "noselfconn: audit: cannot read /proc/self/ns/net\n");
		return false;
	}
	if (report->all_namespaces && geteuid() != 0)
		fprintf(stderr, "noselfconn: audit: not root: --all-namespaces sees only this "
				"namespace and those of this user's own processes\n");
	DIR *proc = report->all_namespaces ? opendir("/proc") : NULL;
	if (report->all_namespaces && proc == NULL) {
		fprintf(stderr, "noselfconn: audit: /proc: %s\n", strerror(errno));
		return false;
	}
	bool ok = true;
	long pid;
	while (ok && proc != NULL && (pid = nsc_next_pid(proc)) > 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		unsigned long inode = nsc_netns_inode(path);
		if (inode != 0) /* else gone, or a kernel thread's */
			ok = add_netns(report, inode, pid, false);
	}
	if (proc != NULL)
		closedir(proc);
	return ok;
}

static void free_report(struct nsc_report *report)
{
	for (size_t i = 0; i < report->count; i++)
		netns_free(&report->items[i]);
	for (size_t i = 0; i < report->procs.count; i++)
		nsc_proc_free(&report->procs.items[i]);
	nsc_guard_places_free(&report->guard);
	free(report->procs.items);
	free(report->items);
}

int nsc_audit(const struct nsc_audit_options *options)
{
	if (options->preloaded)
		return nsc_audit_preloaded(options->format == NSC_AUDIT_JSON);
	struct nsc_report report = { .all_namespaces = options->all_namespaces };
	bool ok = find_namespaces(&report);
	for (size_t i = 0; ok && i < report.count; i++)
		ok = audit_namespace_found(&report, &i);
	ok = ok && nsc_find_owners(&report);
	if (ok && !nsc_guard_find(&report.guard))
		report.guard_error = errno; /* reported as unknown, not a failure */
	bool gathered = ok;
	ok = ok && nsc_print_report(&report, options->format);
	size_t selves = 0;
	for (size_t i = 0; i < report.count; i++)
		selves += report.items[i].selves.count;
	free_report(&report);
	if (!ok) {
		if (options->format == NSC_AUDIT_PROMETHEUS && !gathered)
			nsc_print_prometheus_failure();
		return NSC_EXIT_FAILURE;
	}
	return selves > 0 ? 1 : 0;
}
