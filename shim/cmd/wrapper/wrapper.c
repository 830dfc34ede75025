/* The wrapper: find the library, add it to LD_PRELOAD, run COMMAND. */
#define _GNU_SOURCE
#include "wrapper.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "exec.h"

/*
 * The libraries live at ROOT/$LIB/noselfconn/libnoselfconn.so, one per
 * loader: ld.so expands $LIB to its own directory (lib/x86_64-linux-gnu,
 * lib/i386-linux-gnu, lib32), so one LD_PRELOAD entry serves a 64-bit and
 * an i386 program alike. A build tree beside this program is such a ROOT
 * when it holds the native library; else the installed one,
 * NOSELFCONN_LIBDIR, preloaded as NOSELFCONN_PRELOAD_PATH (the Makefile's
 * LIBDIR and PRELOAD_PATH). musl's loader expands no $LIB: there, the
 * native path.
 */
#ifndef NOSELFCONN_NATIVE_LIB
#define NOSELFCONN_NATIVE_LIB "lib/x86_64-linux-gnu"
#endif
#ifndef NOSELFCONN_LIBDIR
#define NOSELFCONN_LIBDIR "/usr/local/" NOSELFCONN_NATIVE_LIB "/noselfconn"
#endif
#ifndef NOSELFCONN_PRELOAD_PATH
#define NOSELFCONN_PRELOAD_PATH "/usr/local/$LIB/noselfconn/libnoselfconn.so"
#endif
#define LIB_IN_ROOT "noselfconn/libnoselfconn.so"
#ifdef __GLIBC__
#define EVERY_LOADERS_LIB "$LIB"
#define INSTALLED_PRELOAD NOSELFCONN_PRELOAD_PATH
#else
#define EVERY_LOADERS_LIB NOSELFCONN_NATIVE_LIB
#define INSTALLED_PRELOAD NOSELFCONN_LIBDIR "/libnoselfconn.so"
#endif

/* Whether the build tree `root` holds the native library; if so, the path
 * to preload. */
static int library_in_build_tree(const char *root, char *path, size_t size)
{
	if ((size_t)snprintf(path, size, "%s/%s/%s", root, NOSELFCONN_NATIVE_LIB, LIB_IN_ROOT) >=
		    size ||
	    access(path, R_OK) != 0)
		return -1;
	if ((size_t)snprintf(path, size, "%s/%s/%s", root, EVERY_LOADERS_LIB, LIB_IN_ROOT) >= size)
		return -1;
	return 0;
}

/* The library beside this executable (a build tree), else the installed one. */
static int find_library(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (library_in_build_tree(self, path, size) == 0)
				return 0;
		}
	}
	if (access(NOSELFCONN_LIBDIR "/libnoselfconn.so", R_OK) == 0 &&
	    (size_t)snprintf(path, size, "%s", INSTALLED_PRELOAD) < size)
		return 0;
	char shown[4 * PATH_MAX];
	nsc_escape(shown, sizeof(shown), n > 0 ? self : "this program", PATH_MAX);
	fprintf(stderr, "noselfconn: cannot find %s/%s beside %s or %s/libnoselfconn.so\n",
		NOSELFCONN_NATIVE_LIB, LIB_IN_ROOT, shown, NOSELFCONN_LIBDIR);
	return -1;
}

/* Whether `list` (LD_PRELOAD: separated by colons or blanks) names `path`. */
static int preload_has(const char *list, const char *path)
{
	size_t len = strlen(path);
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ": \t");
		if (n == len && strncmp(p, path, len) == 0)
			return 1;
		p += n;
		p += strspn(p, ": \t");
	}
	return 0;
}

static int add_to_preload(const char *library)
{
	if (strpbrk(library, ": \t") != NULL) {
		char shown[4 * PATH_MAX];
		nsc_escape(shown, sizeof(shown), library, PATH_MAX);
		fprintf(stderr, "noselfconn: LD_PRELOAD cannot name %s (a colon or blank in the path)\n",
			shown);
		return -1;
	}
	const char *current = getenv("LD_PRELOAD");
	if (current == NULL || *current == '\0')
		return setenv("LD_PRELOAD", library, 1);
	if (preload_has(current, library))
		return 0;
	size_t size = strlen(current) + 1 + strlen(library) + 1;
	char *joined = malloc(size);
	if (joined == NULL)
		return -1;
	snprintf(joined, size, "%s:%s", current, library);
	int rc = setenv("LD_PRELOAD", joined, 1);
	free(joined);
	return rc;
}

int nsc_run_preloaded(char **argv)
{
	char library[PATH_MAX];
	if (find_library(library, sizeof(library)) != 0 || add_to_preload(library) != 0)
		return NSC_EXIT_FAILURE;

	return nsc_exec(argv);
}
