/*
 * noselfconn --audit --preloaded: which processes carry libnoselfconn.so,
 * from the file mappings in /proc/PID/maps (what is loaded, whatever
 * LD_PRELOAD or /etc/ld.so.preload said).
 */
#define _GNU_SOURCE
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* 1 when /proc/PID/maps maps the library, 0 when not, -1 when unreadable. */
static int carries_library(long pid, char **line, size_t *size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	FILE *maps = fopen(path, "re");
	if (maps == NULL)
		return -1;
	int found = 0;
	while (!found && getline(line, size, maps) > 0)
		found = nsc_maps_line_is_library(*line);
	fclose(maps);
	return found;
}

static void print_user(unsigned long uid, bool json)
{
	const char *name = nsc_user_name(uid);
	if (json) {
		printf(",\"uid\":%lu,\"user\":", uid);
		if (name != NULL)
			nsc_print_json_string(name, strlen(name));
		else
			printf("null");
	} else if (name != NULL) {
		printf("  user ");
		nsc_print_text_escaped(name, strlen(name), 64);
		printf(" (uid %lu)", uid);
	} else {
		printf("  uid %lu", uid);
	}
}

static void print_process(long pid, bool json, size_t found)
{
	struct nsc_proc proc;
	if (!nsc_proc_read(&proc, pid))
		proc = (struct nsc_proc){ .pid = pid, .uid = (unsigned long)-1 };
	if (json) {
		printf("%s{\"pid\":%ld,\"command\":", found ? "," : "", pid);
		nsc_print_json_string(proc.comm, strlen(proc.comm));
		print_user(proc.uid, true);
		printf("}");
	} else {
		printf("  ");
		nsc_print_text_proc(&proc);
		print_user(proc.uid, false);
		printf("\n");
	}
	nsc_proc_free(&proc);
}

int nsc_audit_preloaded(bool json)
{
	DIR *proc = opendir("/proc");
	if (proc == NULL) {
		fprintf(stderr, "noselfconn: audit: /proc: %s\n", strerror(errno));
		return NSC_EXIT_FAILURE;
	}
	char *line = NULL;
	size_t size = 0, found = 0, without = 0, unreadable = 0;
	if (json)
		printf("{\"format_version\":%d,\"preloaded\":[", NSC_AUDIT_JSON_VERSION);
	else
		printf("Processes with libnoselfconn.so loaded:\n");
	long pid;
	while ((pid = nsc_next_pid(proc)) > 0) {
		int carries = carries_library(pid, &line, &size);
		if (carries > 0)
			print_process(pid, json, found++);
		else if (carries == 0)
			without++;
		else
			unreadable++;
	}
	closedir(proc);
	free(line);
	if (json)
		printf("],\"count\":%zu,\"without\":%zu,\"unreadable\":%zu}\n", found, without,
		       unreadable);
	else
		printf("%zu with it, %zu without%s", found, without, unreadable ? ", " : "\n");
	if (!json && unreadable)
		printf("%zu not readable (run as root to see every process)\n", unreadable);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "noselfconn: audit: cannot write the report\n");
		return NSC_EXIT_FAILURE;
	}
	return 0;
}
