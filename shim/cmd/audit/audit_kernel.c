/*
 * The audit's report of the kernel guard (noselfconn --kernel): where it is
 * attached, by which link and process, what it counted, and where it is
 * pinned, with the command that undoes each. Paths come from the cgroup and
 * BPF file systems: escaped as any text from outside.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void print_counts_text(const struct nsc_guard_place *p)
{
	if (!p->counted)
		return;
	printf("    counted:");
	for (int i = 0; i < NSC_COUNTS; i++)
		printf(" %s=%llu", nsc_count_names[i], (unsigned long long)p->counts[i]);
	printf("\n");
}

static void print_holder_text(const struct nsc_guard_place *p)
{
	struct nsc_proc proc;
	if (p->holder_pid > 0 && nsc_proc_read(&proc, p->holder_pid)) {
		printf(" held by ");
		nsc_print_text_proc(&proc);
		nsc_proc_free(&proc);
	}
}

void nsc_print_guard_text(const struct nsc_report *r)
{
	printf("Kernel guard (noselfconn --kernel): ");
	if (r->guard_error != 0) {
		printf("unknown (%s%s)\n", strerror(r->guard_error),
		       r->guard_error == EPERM ? ": querying cgroups needs CAP_NET_ADMIN" : "");
		return;
	}
	size_t attached = 0;
	for (size_t i = 0; i < r->guard.count; i++)
		attached += !r->guard.items[i].pinned;
	printf("%zu programs attached, %zu pinned\n", attached, r->guard.count - attached);
	for (size_t i = 0; i < r->guard.count; i++) {
		const struct nsc_guard_place *p = &r->guard.items[i];
		printf("  %s ", p->pinned ? "pinned at" : "attached to");
		nsc_print_text_escaped(p->path, strlen(p->path), 256);
		printf(": %s (program id %u)", p->name, p->prog_id);
		if (!p->pinned && p->link_id != 0) {
			printf(", bpf_link id %u", p->link_id);
			print_holder_text(p);
			printf("\n    (undo: stop that process, or noselfconn --kernel --detach CGROUP)\n");
		} else if (!p->pinned) {
			printf(", with BPF_PROG_ATTACH (systemd's BPFProgram=, or bpftool)\n"
			       "    (undo: noselfconn --kernel --detach CGROUP)\n");
		} else {
			printf("\n    (undo: noselfconn --kernel --unpin DIR)\n");
		}
		print_counts_text(p);
	}
}

void nsc_print_guard_json(const struct nsc_report *r)
{
	if (r->guard_error != 0) {
		printf("{\"known\":false,\"error\":");
		const char *e = strerror(r->guard_error);
		nsc_print_json_string(e, strlen(e));
		printf("}");
		return;
	}
	printf("{\"known\":true,\"places\":[");
	for (size_t i = 0; i < r->guard.count; i++) {
		const struct nsc_guard_place *p = &r->guard.items[i];
		printf("%s{\"%s\":", i ? "," : "", p->pinned ? "pinned" : "cgroup");
		nsc_print_json_string(p->path, strlen(p->path));
		printf(",\"program\":");
		nsc_print_json_string(p->name, strlen(p->name));
		printf(",\"program_id\":%u,\"link_id\":%u,\"holder_pid\":%ld,\"counts\":", p->prog_id,
		       p->link_id, p->holder_pid);
		if (!p->counted) {
			printf("null}");
			continue;
		}
		for (int c = 0; c < NSC_COUNTS; c++)
			printf("%s\"%s\":%llu", c ? "," : "{", nsc_count_names[c],
			       (unsigned long long)p->counts[c]);
		printf("}}");
	}
	printf("]}");
}
