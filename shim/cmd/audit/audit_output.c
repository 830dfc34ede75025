/*
 * The audit's three forms. Whatever came from another process (comm,
 * command line) or from the user database is escaped: \xNN in text, as ps
 * does, so no terminal sequence or newline reaches root's terminal; \uXXXX
 * in JSON, pure ASCII and always valid UTF-8 (invalid bytes become U+FFFD).
 * Prometheus labels hold only namespace inodes and fixed words.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "escape.h"

#ifndef NOSELFCONN_VERSION
#define NOSELFCONN_VERSION "unknown"
#endif

#define CMDLINE_SHOWN 256 /* bytes of a command line printed as text */

static bool print_failed;

void nsc_print_text_escaped(const char *s, size_t len, size_t max)
{
	char out[4 * CMDLINE_SHOWN + 8];
	char *copy = strndup(s, len); /* nsc_escape reads up to a NUL */
	if (copy == NULL) {
		print_failed = true;
		return;
	}
	if (max > CMDLINE_SHOWN)
		max = CMDLINE_SHOWN;
	nsc_escape(out, sizeof(out), copy, max);
	fputs(out, stdout);
	free(copy);
}

void nsc_print_json_string(const char *s, size_t len)
{
	char *out = malloc(6 * len + 1); /* the most one byte becomes: \ufffd */
	if (out == NULL) {
		print_failed = true;
		return;
	}
	nsc_json_escape(out, 6 * len + 1, s, len);
	printf("\"%s\"", out);
	free(out);
}

void nsc_print_text_proc(const struct nsc_proc *proc)
{
	printf("pid %ld \"", proc->pid);
	nsc_print_text_escaped(proc->comm, strlen(proc->comm), sizeof(proc->comm));
	printf("\"");
	size_t shown = 0;
	for (size_t i = 0; proc->cmdline != NULL && i < proc->cmdline_len;) {
		size_t len = strnlen(proc->cmdline + i, proc->cmdline_len - i);
		if (shown + len > CMDLINE_SHOWN) {
			printf(" ...");
			break;
		}
		printf(" \"");
		nsc_print_text_escaped(proc->cmdline + i, len, len);
		printf("\"");
		shown += len;
		i += len + 1;
	}
}

void nsc_print_json_proc(const struct nsc_proc *proc)
{
	printf("{\"pid\":%ld,\"command\":", proc->pid);
	nsc_print_json_string(proc->comm, strlen(proc->comm));
	printf(",\"cmdline\":[");
	for (size_t i = 0; proc->cmdline != NULL && i < proc->cmdline_len;) {
		size_t len = strnlen(proc->cmdline + i, proc->cmdline_len - i);
		printf("%s", i ? "," : "");
		nsc_print_json_string(proc->cmdline + i, len);
		i += len + 1;
	}
	printf("]}");
}

static void print_user_text(unsigned long uid)
{
	const char *name = nsc_user_name(uid);
	if (name != NULL) {
		printf("user ");
		nsc_print_text_escaped(name, strlen(name), 64);
		printf(" (uid %lu)", uid);
	} else {
		printf("uid %lu", uid);
	}
}

static void print_finding_text(const struct nsc_report *r, const struct nsc_finding *f)
{
	char address[64];
	nsc_format_address(f->socket.family, f->socket.local, address, sizeof(address));
	printf(f->socket.family == AF_INET6 ? "  [%s]:%u  %s  " : "  %s:%u  %s  ", address,
	       f->socket.local_port, nsc_tcp_state_name(f->socket.state));
	print_user_text(f->socket.uid);
	printf("\n");
	if (f->owner_count == 0)
		printf("    (no process found holding it)\n");
	for (int i = 0; i < f->owner_count; i++) {
		printf("    ");
		nsc_print_text_proc(&r->procs.items[f->owners[i]]);
		printf("\n");
	}
	if (f->owners_more > 0)
		printf("    and %d more processes\n", f->owners_more);
}

static size_t count_class(const struct nsc_findings *list, bool system)
{
	size_t n = 0;
	for (size_t i = 0; i < list->count; i++)
		n += nsc_is_system_uid(list->items[i].socket.uid) == system;
	return n;
}

static void print_listeners_text(const struct nsc_report *r, const struct nsc_netns *ns,
				 bool system)
{
	for (size_t i = 0; i < ns->exposed.count; i++)
		if (nsc_is_system_uid(ns->exposed.items[i].socket.uid) == system)
			print_finding_text(r, &ns->exposed.items[i]);
}

static unsigned range_size(const struct nsc_netns *ns)
{
	return (unsigned)ns->range.high - ns->range.low + 1;
}

static bool too_many(const struct nsc_netns *ns)
{
	return ns->sysctl[0] != '\0' && ns->proposed_in_range > range_size(ns) / 4;
}

static void print_netns_text(const struct nsc_report *r, const struct nsc_netns *ns)
{
	printf("noselfconn audit of network namespace net:[%lu]", ns->inode);
	if (r->all_namespaces) {
		struct nsc_proc proc;
		bool named = nsc_proc_read(&proc, ns->pid);
		printf(" (%s", ns->current ? "this one; " : "");
		if (named)
			nsc_print_text_proc(&proc);
		else
			printf("pid %ld", ns->pid);
		printf(")");
		nsc_proc_free(&proc);
	}
	printf(", ephemeral ports %u-%u\n\n", ns->range.low, ns->range.high);
	printf("Connected to itself: %zu\n", ns->selves.count);
	for (size_t i = 0; i < ns->selves.count; i++)
		print_finding_text(r, &ns->selves.items[i]);
	printf("\nListening inside the ephemeral range: %zu\n", ns->exposed.count);
	if (ns->exposed.count == 0)
		return;
	printf("(while one of these is down, a client on this host dialing it can connect to itself)\n");
	printf(" of root and system accounts (uid < 1000): %zu\n", count_class(&ns->exposed, true));
	print_listeners_text(r, ns, true);
	size_t others = count_class(&ns->exposed, false);
	printf(" of other users (uid >= 1000), never put in the proposed line: %zu\n", others);
	print_listeners_text(r, ns, false);
	if (ns->sysctl[0] != '\0')
		printf("\nTo keep the kernel from choosing the system's listening ports for clients\n"
		       "(as root; add the same value to /etc/sysctl.d/ to keep it across reboots):\n"
		       "  %s\n", ns->sysctl);
	if (too_many(ns))
		printf("Warning: that line reserves %u of the %u ephemeral ports (more than a quarter):\n"
		       "clients on this host keep only %u ports for connections to any one\n"
		       "destination and fail with EADDRNOTAVAIL sooner; consider moving these servers\n"
		       "out of the ephemeral range (ip_local_port_range) instead.\n",
		       ns->proposed_in_range, range_size(ns), range_size(ns) - ns->proposed_in_range);
	if (others > 0)
		printf("\nOther users' listeners are left out: a line built from them would let any\n"
		       "local user choose which ports root reserves (up to the whole range). Move\n"
		       "them out of the ephemeral range, or reserve their ports if you trust them.\n");
}

static void print_findings_json(const struct nsc_report *r, const char *name,
				const struct nsc_findings *list, bool listeners)
{
	printf("\"%s\":[", name);
	for (size_t i = 0; i < list->count; i++) {
		const struct nsc_finding *f = &list->items[i];
		char address[64];
		nsc_format_address(f->socket.family, f->socket.local, address, sizeof(address));
		printf("%s{\"address\":\"%s\",\"port\":%u,\"state\":\"%s\",\"uid\":%lu,\"user\":",
		       i ? "," : "", address, f->socket.local_port,
		       nsc_tcp_state_name(f->socket.state), f->socket.uid);
		const char *user = nsc_user_name(f->socket.uid);
		if (user != NULL)
			nsc_print_json_string(user, strlen(user));
		else
			printf("null");
		printf(",\"owner_class\":\"%s\"", nsc_is_system_uid(f->socket.uid) ? "system" : "user");
		if (listeners)
			printf(",\"proposed\":%s", f->proposed ? "true" : "false");
		printf(",\"owners\":[");
		for (int j = 0; j < f->owner_count; j++) {
			printf("%s", j ? "," : "");
			nsc_print_json_proc(&r->procs.items[f->owners[j]]);
		}
		printf("],\"owners_more\":%d}", f->owners_more);
	}
	printf("]");
}

/* `top`: the object is the whole output, and says its format's version. */
static void print_netns_json(const struct nsc_report *r, const struct nsc_netns *ns, bool top)
{
	if (top)
		printf("{\"format_version\":%d,", NSC_AUDIT_JSON_VERSION);
	else
		printf("{");
	printf("\"netns\":\"net:[%lu]\",\"netns_inode\":%lu,\"current\":%s", ns->inode,
	       ns->inode, ns->current ? "true" : "false");
	if (r->all_namespaces) {
		struct nsc_proc proc;
		printf(",\"named_by\":");
		if (nsc_proc_read(&proc, ns->pid))
			nsc_print_json_proc(&proc);
		else
			printf("{\"pid\":%ld}", ns->pid);
		nsc_proc_free(&proc);
	}
	printf(",\"ephemeral_range\":[%u,%u],", ns->range.low, ns->range.high);
	print_findings_json(r, "self_connections", &ns->selves, false);
	printf(",");
	print_findings_json(r, "exposed_listeners", &ns->exposed, true);
	printf(",\"reserved_ports\":\"%s\",\"suggested_reserved_ports\":\"%s\",\"sysctl\":",
	       ns->reserved_text, ns->sysctl[0] ? ns->suggested_text : ns->reserved_text);
	nsc_print_json_string(ns->sysctl, strlen(ns->sysctl));
	printf(",\"ephemeral_ports\":%u,\"proposed_reserved_ephemeral_ports\":%u,"
	       "\"proposal_reserves_over_a_quarter\":%s",
	       range_size(ns), ns->proposed_in_range, too_many(ns) ? "true" : "false");
	if (!r->all_namespaces) {
		printf(",\"kernel_guard\":");
		nsc_print_guard_json(r);
	}
	printf("}");
}

static void gauge(const char *name, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One sample per namespace and owner class: bounded cardinality. */
static void print_by_class(const struct nsc_report *r, const char *name, const char *help,
			   bool selves)
{
	gauge(name, help);
	for (size_t i = 0; i < r->count; i++) {
		const struct nsc_netns *ns = &r->items[i];
		const struct nsc_findings *list = selves ? &ns->selves : &ns->exposed;
		for (int system = 1; system >= 0; system--)
			printf("%s{netns=\"%lu\",owner=\"%s\"} %zu\n", name, ns->inode,
			       system ? "system" : "user", count_class(list, system));
	}
}

/* Which noselfconn wrote the file, as Prometheus exporters say it. */
static void print_build_info(void)
{
	gauge("noselfconn_build_info", "The noselfconn that wrote these metrics (always 1).");
	printf("noselfconn_build_info{version=\"%s\"} 1\n", NOSELFCONN_VERSION);
}

static void print_prometheus(const struct nsc_report *r)
{
	print_build_info();
	gauge("noselfconn_audit_success", "Whether the audit ran to the end (1) or failed (0).");
	printf("noselfconn_audit_success 1\n");
	gauge("noselfconn_namespaces", "Network namespaces audited.");
	printf("noselfconn_namespaces %zu\n", r->count);
	print_by_class(r, "noselfconn_self_connections",
		       "TCP sockets connected to themselves, by network namespace (inode) and owner "
		       "(system: uid < 1000, user: the others).",
		       true);
	print_by_class(r, "noselfconn_exposed_listeners",
		       "Listeners inside the ephemeral range, not reserved, by network namespace "
		       "(inode) and owner.",
		       false);
	gauge("noselfconn_ephemeral_ports", "Ports in ip_local_port_range.");
	for (size_t i = 0; i < r->count; i++)
		printf("noselfconn_ephemeral_ports{netns=\"%lu\"} %u\n", r->items[i].inode,
		       range_size(&r->items[i]));
	gauge("noselfconn_proposed_reserved_ephemeral_ports",
	      "Ephemeral ports the proposed ip_local_reserved_ports line would reserve.");
	for (size_t i = 0; i < r->count; i++)
		printf("noselfconn_proposed_reserved_ephemeral_ports{netns=\"%lu\"} %u\n",
		       r->items[i].inode, r->items[i].proposed_in_range);
}

void nsc_print_prometheus_failure(void)
{
	print_build_info();
	gauge("noselfconn_audit_success", "Whether the audit ran to the end (1) or failed (0).");
	printf("noselfconn_audit_success 0\n");
	fflush(stdout);
}

bool nsc_print_report(const struct nsc_report *report, enum nsc_audit_format format)
{
	if (format == NSC_AUDIT_PROMETHEUS) {
		print_prometheus(report);
	} else if (format == NSC_AUDIT_JSON) {
		if (report->all_namespaces)
			printf("{\"format_version\":%d,\"namespaces\":[", NSC_AUDIT_JSON_VERSION);
		for (size_t i = 0; i < report->count; i++) {
			printf("%s", i ? "," : "");
			print_netns_json(report, &report->items[i], !report->all_namespaces);
		}
		if (report->all_namespaces) {
			printf("],\"kernel_guard\":");
			nsc_print_guard_json(report);
			printf("}");
		}
		printf("\n");
	} else {
		for (size_t i = 0; i < report->count; i++) {
			printf("%s", i ? "\n\n" : "");
			print_netns_text(report, &report->items[i]);
		}
		printf("\n\n");
		nsc_print_guard_text(report);
	}
	if (fflush(stdout) != 0 || ferror(stdout) || print_failed) {
		fprintf(stderr, "noselfconn: audit: cannot write the report%s\n",
			print_failed ? " (out of memory)" : "");
		return false;
	}
	return true;
}
