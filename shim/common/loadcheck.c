/* Whether a preload path loads, asked of each loader in a child:
 * `LD_PRELOAD=PATH LOADER --list LIBC` maps the library the way every
 * program of that architecture would at start (a missing file, a wrong ELF
 * class, a truncated file that faults, a library it needs), and prints
 * where $LIB led: "\tPATH => FILE (0x...)". */
#define _GNU_SOURCE
#include "loadcheck.h"
#include "exec.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUTPUT_MAX 8192

/* The architecture's usual name, from the loader's ELF header. */
static void arch_name(const char *loader, char *name, size_t size)
{
	static const struct {
		unsigned machine;
		int class; /* 0: either */
		const char *name;
	} known[] = {
		{ EM_X86_64, ELFCLASS64, "x86-64" }, { EM_X86_64, ELFCLASS32, "x32" },
		{ EM_386, 0, "i386" },		     { EM_AARCH64, 0, "arm64" },
		{ EM_ARM, 0, "arm" },		     { EM_PPC64, 0, "ppc64" },
		{ EM_S390, 0, "s390x" },	     { EM_RISCV, 0, "riscv64" },
	};
	unsigned char header[EI_NIDENT + 4] = { 0 };
	int fd = open(loader, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, header, sizeof(header)) : -1;
	if (fd >= 0)
		close(fd);
	if (n < (ssize_t)sizeof(header) || memcmp(header, ELFMAG, SELFMAG) != 0) {
		snprintf(name, size, "unknown");
		return;
	}
	const unsigned char *field = header + EI_NIDENT + 2; /* e_machine */
	unsigned machine = header[EI_DATA] == ELFDATA2MSB ? (unsigned)field[0] << 8 | field[1]
							  : (unsigned)field[1] << 8 | field[0];
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i].machine == machine &&
		    (known[i].class == 0 || known[i].class == header[EI_CLASS])) {
			snprintf(name, size, "%s", known[i].name);
			return;
		}
	}
	snprintf(name, size, "ELF machine %u", machine);
}

/* Where the listing says path led ("\tPATH => FILE (0x..."), or NULL. */
static bool loaded_file(const char *out, const char *path, char *file, size_t size)
{
	size_t path_len = strlen(path);
	for (const char *line = out; *line != '\0';) {
		size_t len = strcspn(line, "\n");
		if (line[0] == '\t' && strncmp(line + 1, path, path_len) == 0 &&
		    strncmp(line + 1 + path_len, " => ", 4) == 0) {
			const char *start = line + 1 + path_len + 4;
			size_t file_len = strcspn(start, " \n");
			snprintf(file, size, "%.*s", (int)file_len, start);
			return true;
		}
		line += len + (line[len] == '\n');
	}
	return false;
}

/* What ld.so said about path, or how the child ended. */
static void failure(const char *out, const char *path, int status, char *detail, size_t size)
{
	const char *said = strstr(out, path);
	if (said != NULL) {
		const char *start = said;
		while (start > out && start[-1] != '\n')
			start--;
		snprintf(detail, size, "%.*s", (int)strcspn(start, "\n"), start);
	} else if (WIFSIGNALED(status)) {
		snprintf(detail, size, "the loader was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else {
		snprintf(detail, size, "the loader did not load it (status %d): %.*s",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, (int)strcspn(out, "\n"), out);
	}
}

static void check_one(const char *loader, const char *real, const char *path,
		      struct nsc_load_check *check)
{
	snprintf(check->loader, sizeof(check->loader), "%s", loader);
	arch_name(real, check->arch, sizeof(check->arch));
	char libc[PATH_MAX];
	const char *slash = strrchr(real, '/');
	snprintf(libc, sizeof(libc), "%.*s/libc.so.6", (int)(slash - real), real);
	if (access(libc, R_OK) != 0) {
		check->state = NSC_LOADER_UNUSABLE;
		snprintf(check->detail, sizeof(check->detail), "no libc.so.6 beside %s", real);
		return;
	}
	char preload[PATH_MAX + 16];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", path);
	char *argv[] = { check->loader, "--list", libc, NULL };
	char *envp[] = { preload, NULL };
	char out[OUTPUT_MAX];
	int status = nsc_run_capture(loader, argv, envp, out, sizeof(out));
	if (status == -1) {
		check->state = NSC_LOADER_UNUSABLE;
		snprintf(check->detail, sizeof(check->detail), "cannot run %s here: %s", loader,
			 strerror(errno));
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    loaded_file(out, path, check->detail, sizeof(check->detail))) {
		check->state = NSC_LOADS;
		return;
	}
	check->state = NSC_DOES_NOT_LOAD;
	failure(out, path, status, check->detail, sizeof(check->detail));
}

int nsc_check_loads(const char *path, struct nsc_load_check checks[NSC_MAX_LOADERS])
{
	glob_t found;
	int rc = glob("/lib*/ld-linux*.so.*", 0, NULL, &found);
	if (rc == 0 || rc == GLOB_NOMATCH)
		rc = glob("/lib*/ld64.so.*", GLOB_APPEND, NULL, &found);
	if (rc != 0 && rc != GLOB_NOMATCH) {
		errno = ENOMEM;
		return -1;
	}
	char reals[NSC_MAX_LOADERS][PATH_MAX];
	int count = 0;
	for (size_t i = 0; i < found.gl_pathc && count < NSC_MAX_LOADERS; i++) {
		char real[PATH_MAX];
		if (realpath(found.gl_pathv[i], real) == NULL)
			continue;
		bool seen = false;
		for (int j = 0; j < count && !seen; j++)
			seen = strcmp(reals[j], real) == 0;
		if (seen)
			continue;
		snprintf(reals[count], sizeof(reals[count]), "%s", real);
		check_one(found.gl_pathv[i], real, path, &checks[count]);
		count++;
	}
	globfree(&found);
	if (count == 0)
		errno = ENOENT;
	return count > 0 ? count : -1;
}
