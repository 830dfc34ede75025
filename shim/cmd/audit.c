/*
 * noselfconn --audit: what in this network namespace is connected to itself,
 * which servers listen where a client could connect to itself while they are
 * down, and the sysctl line that keeps the kernel away from their ports.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "portrange.h"
#include "procnet.h"
#include "verdict.h"

#define MAX_OWNERS 8

struct owner {
	long pid;
	char command[64];
};

struct finding {
	struct nsc_tcp_socket socket;
	struct owner owners[MAX_OWNERS];
	int owner_count;
};

struct findings {
	struct finding *items;
	size_t count, capacity;
};

static void add_finding(struct findings *list, const struct nsc_tcp_socket *s)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? 2 * list->capacity : 16;
		struct finding *items = realloc(list->items, capacity * sizeof(*items));
		if (items == NULL)
			return;
		list->items = items;
		list->capacity = capacity;
	}
	list->items[list->count++] = (struct finding){ .socket = *s };
}

/* A whole small /proc file, NUL-terminated; empty when unreadable. */
static void read_small_file(const char *path, char *text, size_t size)
{
	text[0] = '\0';
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	size_t n = fread(text, 1, size - 1, f);
	text[n] = '\0';
	fclose(f);
}

static void scan_table(const char *path, int family, struct nsc_port_range range,
		       const struct nsc_port_set *reserved, struct findings *selves,
		       struct findings *exposed)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return; /* no IPv6, or /proc/net hidden */
	char line[512];
	struct nsc_tcp_socket s;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!nsc_parse_tcp_line(line, family, &s))
			continue; /* the header */
		if (s.state == NSC_TCP_LISTEN) {
			if (s.local_port >= range.low && s.local_port <= range.high &&
			    !nsc_port_set_has(reserved, s.local_port))
				add_finding(exposed, &s);
		} else if (s.state != NSC_TCP_TIME_WAIT && nsc_tcp_is_self(&s)) {
			add_finding(selves, &s);
		}
	}
	fclose(f);
}

static void add_owner(struct finding *f, long pid)
{
	if (f->owner_count == MAX_OWNERS)
		return;
	struct owner *o = &f->owners[f->owner_count++];
	char path[64];
	o->pid = pid;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	read_small_file(path, o->command, sizeof(o->command));
	o->command[strcspn(o->command, "\n")] = '\0';
}

static void match_inode(struct findings *list, unsigned long inode, long pid)
{
	for (size_t i = 0; i < list->count; i++) {
		struct finding *f = &list->items[i];
		if (f->socket.inode == inode && inode != 0 &&
		    (f->owner_count == 0 || f->owners[f->owner_count - 1].pid != pid))
			add_owner(f, pid);
	}
}

/* Owners through the socket inode in /proc/PID/fd, where readable. */
static void find_owners(struct findings *selves, struct findings *exposed)
{
	DIR *proc = opendir("/proc");
	if (proc == NULL)
		return;
	struct dirent *p;
	while ((p = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		long pid = strtol(p->d_name, NULL, 10);
		char dir_path[64];
		snprintf(dir_path, sizeof(dir_path), "/proc/%ld/fd", pid);
		DIR *fds = opendir(dir_path);
		if (fds == NULL)
			continue;
		struct dirent *fd;
		while ((fd = readdir(fds)) != NULL) {
			char link_path[384], target[64];
			snprintf(link_path, sizeof(link_path), "%s/%s", dir_path, fd->d_name);
			ssize_t n = readlink(link_path, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			char *end;
			if (strncmp(target, "socket:[", 8) != 0)
				continue;
			unsigned long inode = strtoul(target + 8, &end, 10);
			if (strcmp(end, "]") == 0) {
				match_inode(selves, inode, pid);
				match_inode(exposed, inode, pid);
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_owners_text(const struct finding *f)
{
	if (f->owner_count == 0)
		printf("  (owner not visible)");
	for (int i = 0; i < f->owner_count; i++)
		printf("  pid %ld (%s)", f->owners[i].pid, f->owners[i].command);
	printf("\n");
}

static void print_findings_json(const char *name, const struct findings *list)
{
	printf("\"%s\":[", name);
	for (size_t i = 0; i < list->count; i++) {
		const struct finding *f = &list->items[i];
		char address[64];
		nsc_format_address(f->socket.family, f->socket.local, address, sizeof(address));
		printf("%s{\"address\":\"%s\",\"port\":%u,\"state\":\"%s\",\"owners\":[", i ? "," : "",
		       address, f->socket.local_port, nsc_tcp_state_name(f->socket.state));
		for (int j = 0; j < f->owner_count; j++) {
			printf("%s{\"pid\":%ld,\"command\":", j ? "," : "", f->owners[j].pid);
			print_json_string(f->owners[j].command);
			printf("}");
		}
		printf("]}");
	}
	printf("]");
}

static void print_findings_text(const struct findings *list)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct finding *f = &list->items[i];
		char address[64];
		nsc_format_address(f->socket.family, f->socket.local, address, sizeof(address));
		printf(f->socket.family == AF_INET6 ? "  [%s]:%u  %s" : "  %s:%u  %s", address,
		       f->socket.local_port, nsc_tcp_state_name(f->socket.state));
		print_owners_text(f);
	}
}

int nsc_audit(bool json)
{
	char text[65536];
	struct nsc_port_range range = NSC_DEFAULT_RANGE;
	nsc_read_port_range(NSC_PORT_RANGE_FILE, &range);

	static struct nsc_port_set reserved, suggested;
	read_small_file("/proc/sys/net/ipv4/ip_local_reserved_ports", text, sizeof(text));
	char reserved_text[sizeof(text)];
	memset(&reserved, 0, sizeof(reserved));
	nsc_port_set_parse(&reserved, text);
	nsc_port_set_format(&reserved, reserved_text, sizeof(reserved_text));

	struct findings selves = { 0 }, exposed = { 0 };
	scan_table("/proc/net/tcp", AF_INET, range, &reserved, &selves, &exposed);
	scan_table("/proc/net/tcp6", AF_INET6, range, &reserved, &selves, &exposed);
	find_owners(&selves, &exposed);

	suggested = reserved;
	for (size_t i = 0; i < exposed.count; i++)
		nsc_port_set_add(&suggested, exposed.items[i].socket.local_port);
	char suggested_text[sizeof(text)], sysctl[sizeof(text) + 64] = "";
	nsc_port_set_format(&suggested, suggested_text, sizeof(suggested_text));
	if (exposed.count > 0)
		snprintf(sysctl, sizeof(sysctl), "sysctl -w net.ipv4.ip_local_reserved_ports=%s",
			 suggested_text);

	char netns[64] = "?";
	ssize_t n = readlink("/proc/self/ns/net", netns, sizeof(netns) - 1);
	netns[n > 0 ? n : 1] = '\0';

	if (json) {
		printf("{\"netns\":");
		print_json_string(netns);
		printf(",\"ephemeral_range\":[%u,%u],", range.low, range.high);
		print_findings_json("self_connections", &selves);
		printf(",");
		print_findings_json("exposed_listeners", &exposed);
		printf(",\"reserved_ports\":\"%s\",\"suggested_reserved_ports\":\"%s\",\"sysctl\":",
		       reserved_text, exposed.count ? suggested_text : reserved_text);
		print_json_string(sysctl);
		printf("}\n");
	} else {
		printf("noselfconn audit of network namespace %s, ephemeral ports %u-%u\n\n", netns,
		       range.low, range.high);
		printf("Connected to itself: %zu\n", selves.count);
		print_findings_text(&selves);
		printf("\nListening inside the ephemeral range: %zu\n", exposed.count);
		if (exposed.count > 0)
			printf("(while one of these is down, a client on this host dialing it can connect to itself)\n");
		print_findings_text(&exposed);
		if (exposed.count > 0)
			printf("\nTo keep the kernel from choosing these ports for clients (as root; add the\n"
			       "same value to /etc/sysctl.d/ to keep it across reboots):\n  %s\n", sysctl);
	}
	free(selves.items);
	free(exposed.items);
	return selves.count > 0 ? 1 : 0;
}
