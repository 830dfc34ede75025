/* noselfconn --status: for each guard, what the kernel offers it (asked of
 * the kernel, not guessed from its version) and what this host uses: the
 * library the wrapper would add, and whether /etc/ld.so.preload names one
 * that loads. */
#define _GNU_SOURCE
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"
#include "exec.h"
#include "kguard.h"
#include "loadcheck.h"
#include "preloadfile.h"
#include "probes.h"

#ifndef NOSELFCONN_VERSION
#define NOSELFCONN_VERSION "unknown"
#endif

#define NAME_WIDTH 38

static void row(const char *name, const char *value)
{
	printf("  %-*s %s\n", NAME_WIDTH, name, value);
}

static void print_escaped(const char *text, size_t max)
{
	char out[4 * PATH_MAX + 8];
	nsc_escape(out, sizeof(out), text, max);
	fputs(out, stdout);
}

/* What the wrapper adds: asked of the wrapper itself (this program, run
 * as `noselfconn printenv LD_PRELOAD`), which also shows it loads. */
static void wrapper_library(void)
{
	char out[PATH_MAX * 4];
	char *argv[] = { "noselfconn", "printenv", "LD_PRELOAD", NULL };
	int status = nsc_run_capture("/proc/self/exe", argv, NULL, out, sizeof(out));
	out[strcspn(out, "\n")] = '\0';
	const char *before = getenv("LD_PRELOAD");
	size_t before_len = before != NULL ? strlen(before) : 0;
	printf("  %-*s ", NAME_WIDTH, "the wrapper adds");
	if (status != 0) {
		printf("nothing: ");
		print_escaped(out, 300);
	} else if (before_len > 0 && strncmp(out, before, before_len) == 0 && out[before_len] == ':') {
		print_escaped(out + before_len + 1, PATH_MAX);
	} else if (before_len > 0 && strcmp(out, before) == 0) {
		printf("nothing: LD_PRELOAD already names it");
	} else {
		print_escaped(out, PATH_MAX);
	}
	putchar('\n');
}

struct preload_entries {
	int ours, others;
	char first_ours[PATH_MAX];
};

static bool count_entry(const char *entry, size_t len, void *arg)
{
	struct preload_entries *e = arg;
	if (!nsc_preload_is_ours(entry, len)) {
		e->others++;
	} else if (e->ours++ == 0 && len < sizeof(e->first_ours)) {
		memcpy(e->first_ours, entry, len);
		e->first_ours[len] = '\0';
	}
	return true;
}

static void print_load_checks(const char *path)
{
	struct nsc_load_check checks[NSC_MAX_LOADERS];
	int count = nsc_check_loads(path, checks);
	if (count < 0) {
		printf("    cannot check that it loads: %s\n", strerror(errno));
		return;
	}
	for (int i = 0; i < count; i++) {
		const struct nsc_load_check *c = &checks[i];
		printf("    %s (%s): %s", c->arch, c->loader,
		       c->state == NSC_LOADS	       ? "loads "
		       : c->state == NSC_DOES_NOT_LOAD ? "DOES NOT LOAD: "
						       : "left out: ");
		print_escaped(c->detail, sizeof(c->detail));
		putchar('\n');
	}
}

static void host_preload(void)
{
	char text[65536];
	ssize_t len = -1;
	int fd = open(NSC_LD_SO_PRELOAD, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (len < 0) {
		row(NSC_LD_SO_PRELOAD,
		    errno == ENOENT ? "absent: nothing is preloaded host-wide" : strerror(errno));
		return;
	}
	text[len] = '\0';
	struct preload_entries e = { 0 };
	nsc_preload_each(text, (size_t)len, count_entry, &e);
	if (e.ours == 0) {
		char value[64];
		snprintf(value, sizeof(value), "names no libnoselfconn.so (%d other entr%s)",
			 e.others, e.others == 1 ? "y" : "ies");
		row(NSC_LD_SO_PRELOAD, value);
		return;
	}
	printf("  %-*s names ", NAME_WIDTH, NSC_LD_SO_PRELOAD);
	print_escaped(e.first_ours, PATH_MAX);
	printf("%s (%d other entr%s)\n", e.ours > 1 ? " and another libnoselfconn.so" : "",
	       e.others, e.others == 1 ? "y" : "ies");
	print_load_checks(e.first_ours);
}

static const char *yes_no(bool yes)
{
	return yes ? "yes" : "no";
}

/* Where the guard is attached or pinned: the audit's search, one row each. */
static void guard_places(void)
{
	struct nsc_guard_places places = { 0 };
	if (!nsc_guard_find(&places)) {
		char value[128];
		snprintf(value, sizeof(value), "unknown (%s)%s", strerror(errno),
			 errno == EPERM ? ": needs CAP_NET_ADMIN" : "");
		row("attached to", value);
		return;
	}
	if (places.count == 0)
		row("attached to", "nothing");
	for (size_t i = 0; i < places.count; i++) {
		const struct nsc_guard_place *p = &places.items[i];
		printf("  %-*s ", NAME_WIDTH, p->pinned ? "pinned at" : "attached to");
		print_escaped(p->path, PATH_MAX);
		printf(" (%s, program %u", p->name, p->prog_id);
		if (p->holder_pid > 0)
			printf(", its link held by pid %ld", p->holder_pid);
		else if (!p->pinned && p->link_id == 0)
			printf(", attached without a link: --kernel --detach takes it off");
		printf(")\n");
	}
	nsc_guard_places_free(&places);
}

static void kernel_guard(void)
{
	struct nsc_bpf_probe bpf;
	nsc_probe_bpf(&bpf);
	char value[PATH_MAX + 64];
	snprintf(value, sizeof(value), "CAP_BPF %s, CAP_NET_ADMIN %s, CAP_SYS_ADMIN %s",
		 yes_no(bpf.cap_bpf), yes_no(bpf.cap_net_admin), yes_no(bpf.cap_sys_admin));
	row("capabilities", value);
	if (bpf.load_errno == 0)
		snprintf(value, sizeof(value), "yes: a connect4 program loads");
	else if (bpf.load_errno == EPERM || bpf.load_errno == EACCES)
		snprintf(value, sizeof(value),
			 "not allowed (%s): run as root, with CAP_BPF and CAP_NET_ADMIN",
			 strerror(bpf.load_errno));
	else
		snprintf(value, sizeof(value), "no (%s)", strerror(bpf.load_errno));
	row("bpf(), cgroup connect programs", value);
	if (bpf.link_errno == 0)
		snprintf(value, sizeof(value), "yes");
	else if (bpf.link_errno > 0)
		snprintf(value, sizeof(value), "no (%s)", strerror(bpf.link_errno));
	else
		snprintf(value, sizeof(value), "unknown (no program could be loaded)");
	row("bpf_link to a cgroup (Linux 5.7)", value);
	char mount[PATH_MAX];
	if (nsc_cgroup2_mount(mount, sizeof(mount)))
		snprintf(value, sizeof(value), "mounted at %s", mount);
	else
		snprintf(value, sizeof(value), "not mounted");
	row("cgroup v2", value);
	guard_places();
}

int nsc_status(void)
{
	struct utsname uts;
	if (uname(&uts) == 0)
		printf("noselfconn %s on Linux %s (%s)\n", NOSELFCONN_VERSION, uts.release,
		       uts.machine);

	printf("\nThe preload (the wrapper, LD_PRELOAD, %s):\n", NSC_LD_SO_PRELOAD);
	bool range = nsc_has_port_range_option();
	row("IP_LOCAL_PORT_RANGE (Linux 6.3)",
	    range ? "yes: a self-connection is dialed again with its port left out"
		  : "no: a self-connection is refused outright; prebind checks instead");
	wrapper_library();
	host_preload();

	printf("\nThe supervisor (--supervise):\n");
	bool notify = nsc_has_user_notification(), getfd = nsc_has_pidfd_getfd();
	row("seccomp user notification (Linux 5.0)", yes_no(notify));
	row("pidfd_getfd (Linux 5.6)", yes_no(getfd));
	row("PIDFD_THREAD (Linux 6.9)", nsc_has_pidfd_thread()
						      ? "yes"
						      : "no: a pidfd of the thread group instead");
	row("--supervise here", notify && getfd ? "guards"
				      : "unavailable: falls back to the preload (--fallback)");

	printf("\nThe kernel guard (--kernel):\n");
	kernel_guard();

	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "noselfconn: status: cannot write the report\n");
		return NSC_EXIT_FAILURE;
	}
	return 0;
}
