/*
 * noselfconn --kernel CGROUP: load the guard, attach it to CGROUP with two
 * bpf_links, keep its per-namespace values current (netns_state.c) and
 * detach on SIGTERM or SIGINT. The links belong to this process: however it
 * ends (SIGKILL included) the kernel detaches the programs with it.
 */
#define _GNU_SOURCE
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "exec.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define REFRESH_MS 1000 /* how often the namespaces' values are read again */

/* The path, escaped for messages. */
static const char *shown(const char *path)
{
	static char out[4 * 256 + 8];
	nsc_escape(out, sizeof(out), path, 256);
	return out;
}

/* CGROUP opened, and checked to be a cgroup v2 directory; -1 after a message. */
static int open_cgroup(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs fs;
	if (fd < 0 || fstatfs(fd, &fs) != 0 || fstat(fd, st) != 0) {
		fprintf(stderr, "noselfconn: --kernel: %s: %s\n", shown(path), strerror(errno));
	} else if (fs.f_type != CGROUP2_SUPER_MAGIC) {
		fprintf(stderr,
			"noselfconn: --kernel: %s is not a cgroup v2 directory (the cgroup2 "
			"mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout)\n",
			shown(path));
	} else {
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Whether CGROUP is still the directory that was opened. */
static bool cgroup_present(const char *path, const struct stat *opened)
{
	struct stat now;
	return stat(path, &now) == 0 && now.st_ino == opened->st_ino && now.st_dev == opened->st_dev;
}

static void print_counts(const struct nsc_guard *g, const char *how, const char *path)
{
	uint64_t c4[NSC_COUNTS] = { 0 }, c6[NSC_COUNTS] = { 0 };
	bool known = nsc_guard_counts(g->prog4, c4) && nsc_guard_counts(g->prog6, c6);
	fprintf(stderr, "noselfconn: %s %s", how, shown(path));
	/* Both programs share the counters map: one reading is the total. */
	for (int i = 0; known && i < NSC_COUNTS; i++)
		fprintf(stderr, "%s%s=%llu", i ? " " : ": ", nsc_count_names[i],
			(unsigned long long)c4[i]);
	fprintf(stderr, "\n");
}

/* The signals that end the guard (and SIGHUP), as a descriptor. */
static int stop_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Refused when the guard is on CGROUP already: two would both run. */
static bool already_guarded(int cgroup_fd, const char *path)
{
	uint32_t ids[4];
	int n = nsc_guard_attached(cgroup_fd, ids, 4);
	if (n < 0) {
		nsc_kernel_failed("querying the cgroup", errno);
		return true;
	}
	if (n > 0) {
		fprintf(stderr,
			"noselfconn: --kernel: %s is guarded already (program id %u): not attaching "
			"twice (noselfconn --audit says by whom; noselfconn --kernel --detach %s "
			"removes it)\n",
			shown(path), ids[0], shown(path));
		return true;
	}
	return false;
}

/* Milliseconds from now until `due` (CLOCK_MONOTONIC), 0 when past. */
static int ms_until(const struct timespec *due)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (due->tv_sec - now.tv_sec) * 1000LL + (due->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > REFRESH_MS ? REFRESH_MS : (int)ms;
}

static void schedule(struct timespec *due)
{
	clock_gettime(CLOCK_MONOTONIC, due);
	due->tv_sec += REFRESH_MS / 1000;
	due->tv_nsec += (long)(REFRESH_MS % 1000) * 1000000;
	if (due->tv_nsec >= 1000000000) {
		due->tv_sec++;
		due->tv_nsec -= 1000000000;
	}
}

/*
 * Guarding: a namespace's addresses are read again as soon as they change;
 * every REFRESH_MS (or at once on SIGHUP, addresses and all) the namespaces
 * are walked again, and the guard checks it is still attached. Returns the
 * exit status: 0 on SIGTERM or SIGINT, or when the cgroup or the links went.
 */
static int watch(struct nsc_guard *g, struct nsc_netns_state *state, int sfd, const char *path,
		 const struct stat *st)
{
	struct timespec due;
	schedule(&due);
	for (;;) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
				       { .fd = nsc_netns_event_fd(state), .events = POLLIN } };
		struct signalfd_siginfo si;
		bool reread = false;
		if (poll(p, 2, ms_until(&due)) > 0 && (p[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGHUP) {
				print_counts(g, "detached from", path);
				return 0;
			}
			reread = true;
		}
		if ((p[1].revents & POLLIN) && !nsc_netns_changed(state))
			return NSC_EXIT_FAILURE;
		if (!reread && ms_until(&due) > 0)
			continue;
		schedule(&due);
		if (!cgroup_present(path, st)) {
			print_counts(g, "the guard went with its cgroup, removed:", path);
			return 0;
		}
		if (!nsc_guard_linked(g)) {
			print_counts(g, "the guard was detached (BPF_LINK_DETACH) from", path);
			return 0;
		}
		if (!nsc_netns_refresh(state, reread))
			return NSC_EXIT_FAILURE;
		if (reread) {
			char how[96];
			snprintf(how, sizeof(how), "read the values of %zu network namespaces; guarding",
				 nsc_netns_known(state));
			print_counts(g, how, path);
		}
	}
}

/* Two descriptors a network namespace (to join it, to hear of its
 * addresses): as many as the hard limit allows, not the soft 1024. */
static void raise_fd_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int nsc_kernel_guard(const char *path)
{
	struct stat st;
	int cgroup_fd = open_cgroup(path, &st);
	if (cgroup_fd < 0)
		return NSC_EXIT_FAILURE;
	struct nsc_guard g;
	if (already_guarded(cgroup_fd, path) || !nsc_guard_load(&g)) {
		close(cgroup_fd);
		return NSC_EXIT_FAILURE;
	}
	raise_fd_limit();
	int status = NSC_EXIT_FAILURE, sfd = stop_signals();
	struct nsc_netns_state *state = nsc_netns_state_new(&g.maps);
	if (sfd < 0 || state == NULL)
		fprintf(stderr, "noselfconn: --kernel: %s\n", strerror(errno));
	else if (nsc_netns_refresh(state, true) && nsc_guard_attach(&g, cgroup_fd)) {
		fprintf(stderr, "noselfconn: guarding %s\n", shown(path));
		status = watch(&g, state, sfd, path, &st);
	}
	nsc_netns_state_free(state);
	nsc_guard_close(&g);
	if (sfd >= 0)
		close(sfd);
	close(cgroup_fd);
	return status;
}

int nsc_kernel_check(void)
{
	struct nsc_guard g;
	if (!nsc_guard_load(&g))
		return NSC_EXIT_FAILURE;
	printf("connect4: %u instructions, accepted\nconnect6: %u instructions, accepted\n",
	       g.insns4, g.insns6);
	nsc_guard_close(&g);
	return 0;
}
