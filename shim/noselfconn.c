/* noselfconn: run a command with libnoselfconn.so preloaded. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "supervise.h"
#include "verdict.h"

#ifndef NOSELFCONN_VERSION
#define NOSELFCONN_VERSION "unknown"
#endif
#ifndef NOSELFCONN_LIBDIR
#define NOSELFCONN_LIBDIR "/usr/local/lib"
#endif

#define LIBRARY_NAME "libnoselfconn.so"

/* Exit statuses of our own failures, as env(1) and timeout(1) use them. */
enum { EXIT_USAGE = 2, EXIT_OWN_FAILURE = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: noselfconn [OPTION]... [--] COMMAND [ARG]...\n"
		"       noselfconn --supervise [--fallback=preload|none] [--] COMMAND [ARG]...\n"
		"       noselfconn --audit [--json]\n"
		"Run COMMAND so that its TCP dials never connect to themselves.\n"
		"\n"
		"  -m, --mode=MODE   check (default), prebind or off (NOSELFCONN_MODE)\n"
		"  -l, --log[=DEST]  report each prevented self-connection to DEST:\n"
		"                    stderr (default) or syslog (NOSELFCONN_LOG)\n"
		"  -s, --supervise   guard COMMAND with seccomp user notification instead\n"
		"                    of the preload: reaches static binaries and raw\n"
		"                    system calls, and every process COMMAND starts\n"
		"      --fallback=preload|none\n"
		"                    with --supervise, where seccomp user notification\n"
		"                    is unavailable: use the preload (default) or refuse\n"
		"  -a, --audit       report what in this network namespace is connected\n"
		"                    to itself (exit 1 if anything is), which servers\n"
		"                    listen inside the ephemeral range, and the sysctl\n"
		"                    line that would protect them\n"
		"      --json        with --audit: one JSON object\n"
		"  -h, --help        show this help and exit\n"
		"  -V, --version     show the version and exit\n"
		"\n"
		"The library is added to LD_PRELOAD, after what is already there.\n"
		"Exit status: COMMAND's, or 2 for a usage error, 125 if noselfconn\n"
		"itself fails, 126 if COMMAND cannot run, 127 if it is not found.\n");
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
			if ((size_t)snprintf(path, size, "%s/%s", self, LIBRARY_NAME) < size &&
			    access(path, R_OK) == 0)
				return 0;
		}
	}
	if ((size_t)snprintf(path, size, "%s/%s", NOSELFCONN_LIBDIR, LIBRARY_NAME) < size &&
	    access(path, R_OK) == 0)
		return 0;
	fprintf(stderr, "noselfconn: cannot find %s beside %s or in %s\n", LIBRARY_NAME,
		n > 0 ? self : "this program", NOSELFCONN_LIBDIR);
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
		fprintf(stderr, "noselfconn: LD_PRELOAD cannot name %s (a colon or blank in the path)\n",
			library);
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

/* The plain way: COMMAND with the library preloaded. Returns only on failure. */
static int run_preloaded(char **argv)
{
	char library[PATH_MAX];
	if (find_library(library, sizeof(library)) != 0 || add_to_preload(library) != 0)
		return EXIT_OWN_FAILURE;

	execvp(argv[0], argv);
	int err = errno;
	fprintf(stderr, "noselfconn: cannot run '%s': %s\n", argv[0], strerror(err));
	return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}

struct options {
	bool audit, json, supervise;
	enum nsc_fallback fallback;
};

/* -m and -l: checked here, handed to the library through its variables. */
static bool export_setting(int opt, const char *value)
{
	enum nsc_mode mode;
	enum nsc_log log;
	if (opt == 'm') {
		if (value == NULL || !nsc_parse_mode(value, &mode)) {
			fprintf(stderr, "noselfconn: unknown mode '%s' (expected check, prebind or off)\n",
				value != NULL ? value : "");
			return false;
		}
		return setenv("NOSELFCONN_MODE", value, 1) == 0;
	}
	const char *dest = value != NULL ? value : "stderr";
	if (!nsc_parse_log(dest, &log)) {
		fprintf(stderr, "noselfconn: unknown log destination '%s' (expected stderr or syslog)\n", dest);
		return false;
	}
	return setenv("NOSELFCONN_LOG", dest, 1) == 0;
}

static bool parse_fallback(const char *value, enum nsc_fallback *fallback)
{
	if (value != NULL && strcmp(value, "preload") == 0)
		*fallback = NSC_FALLBACK_PRELOAD;
	else if (value != NULL && strcmp(value, "none") == 0)
		*fallback = NSC_FALLBACK_NONE;
	else {
		fprintf(stderr, "noselfconn: unknown fallback '%s' (expected preload or none)\n",
			value != NULL ? value : "");
		return false;
	}
	return true;
}

/* Returns -1 to go on, else the status to exit with. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option options[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "log", optional_argument, NULL, 'l' },
		{ "supervise", no_argument, NULL, 's' },
		{ "fallback", required_argument, NULL, 'f' },
		{ "audit", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	/* '+': options end at COMMAND, whose own options are left alone. */
	while ((opt = getopt_long(argc, argv, "+m:l::sahV", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
		case 'l':
			if (!export_setting(opt, optarg))
				return EXIT_USAGE;
			break;
		case 'f':
			if (!parse_fallback(optarg, &o->fallback))
				return EXIT_USAGE;
			break;
		case 's': o->supervise = true; break;
		case 'a': o->audit = true; break;
		case 'j': o->json = true; break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("noselfconn %s\n", NOSELFCONN_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct options o = { .fallback = NSC_FALLBACK_PRELOAD };
	int status = parse_options(argc, argv, &o);
	if (status >= 0)
		return status;
	if (o.audit) {
		if (optind < argc) {
			fprintf(stderr, "noselfconn: --audit takes no command\n");
			return EXIT_USAGE;
		}
		return nsc_audit(o.json);
	}
	if (o.json) {
		fprintf(stderr, "noselfconn: --json goes with --audit\n");
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "noselfconn: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.supervise)
		return nsc_supervise(&argv[optind], o.fallback, run_preloaded);
	return run_preloaded(&argv[optind]);
}
