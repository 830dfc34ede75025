/* noselfconn --audit: see audit.c (namespaces, tables, the proposal),
 * owners.c (who holds each socket), audit_output.c (text, JSON,
 * Prometheus) and preloaded.c (--preloaded). */
#ifndef NOSELFCONN_AUDIT_H
#define NOSELFCONN_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "kguard.h"
#include "proc.h"
#include "procnet.h"
#include "verdict.h"

enum nsc_audit_format { NSC_AUDIT_TEXT, NSC_AUDIT_JSON, NSC_AUDIT_PROMETHEUS };

/* The JSON's "format_version": raised when a key changes meaning or goes;
 * a new key may come within a version. */
#define NSC_AUDIT_JSON_VERSION 1

struct nsc_audit_options {
	enum nsc_audit_format format;
	bool all_namespaces; /* every network namespace on the host (root) */
	bool preloaded;	     /* list the processes carrying the library instead */
};

/* Returns 0 when nothing is connected to itself, 1 when something is, and
 * NSC_EXIT_FAILURE (after a message on stderr) when the audit could not be
 * made whole: never a partial report with status 0. */
int nsc_audit(const struct nsc_audit_options *options);

/* What follows is shared by the audit's own files. */

/* Listeners of root and system accounts (adduser --system: uid < 1000) go
 * into the proposed line; other users' never, or they could steer it. */
#define NSC_SYSTEM_UID_MAX 999UL
#define NSC_MAX_OWNERS 8

struct nsc_procs {
	struct nsc_proc *items;
	size_t count, capacity;
};

struct nsc_finding {
	struct nsc_tcp_socket socket;
	size_t owners[NSC_MAX_OWNERS]; /* indices into nsc_report.procs */
	int owner_count, owners_more;
	bool proposed; /* a listener whose port goes into the sysctl line */
};

struct nsc_findings {
	struct nsc_finding *items;
	size_t count, capacity;
};

struct nsc_netns {
	unsigned long inode; /* of /proc/PID/ns/net */
	long pid;	     /* a process in it: names it; its /proc/PID/net */
	bool current;	     /* the namespace noselfconn runs in */
	struct nsc_port_range range;
	struct nsc_findings selves, exposed;
	char *reserved_text, *suggested_text, *sysctl; /* sysctl: "" if none */
	unsigned proposed_in_range; /* ephemeral ports the proposal reserves */
};

struct nsc_report {
	struct nsc_netns *items;
	size_t count, capacity;
	struct nsc_procs procs;
	bool all_namespaces;
	struct nsc_guard_places guard; /* where the kernel guard is */
	int guard_error;	       /* errno when that could not be told */
};

bool nsc_is_system_uid(unsigned long uid);

/* The user name of uid (cached), or NULL when it has none. */
const char *nsc_user_name(unsigned long uid);

/* Appends a process; its index in *index. False when out of memory. */
bool nsc_procs_add(struct nsc_procs *procs, const struct nsc_proc *proc, size_t *index);

/* Fills the owners of every finding of every namespace: one pass over
 * /proc/ * /fd, each socket inode looked up in a sorted index. False
 * (after a message) when out of memory. */
bool nsc_find_owners(struct nsc_report *report);

/* Prints the report; false when stdout could not take it. */
bool nsc_print_report(const struct nsc_report *report, enum nsc_audit_format format);

/* audit_kernel.c: where the kernel guard is, as text or a JSON value. */
void nsc_print_guard_text(const struct nsc_report *report);
void nsc_print_guard_json(const struct nsc_report *report);

/* The Prometheus form of a failed audit: noselfconn_audit_success 0. */
void nsc_print_prometheus_failure(void);

/* --preloaded: 0, or NSC_EXIT_FAILURE after a message. */
int nsc_audit_preloaded(bool json);

/* Shared printing helpers: `s` of `len` bytes, escaped for the form. */
void nsc_print_text_escaped(const char *s, size_t len, size_t max);
void nsc_print_json_string(const char *s, size_t len);
void nsc_print_json_proc(const struct nsc_proc *proc);
void nsc_print_text_proc(const struct nsc_proc *proc);

/* An allocation failed: the message, once. */
void nsc_audit_out_of_memory(void);

/* owners.c. An array with room for item `count`, doubling from `first`
 * items as it grows: the same pointer, a new one, or NULL (out of memory,
 * the old array kept). */
void *nsc_grow(void *items, size_t *capacity, size_t count, size_t size, size_t first);

#endif
