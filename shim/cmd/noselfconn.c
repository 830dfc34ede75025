/* noselfconn: the options, and which job runs: the wrapper, --audit,
 * --supervise, --kernel, --enable-host/--disable-host or --status (a
 * folder each under shim/cmd/). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "escape.h"
#include "exec.h"
#include "host/host.h"
#include "kernel/kernel.h"
#include "settings.h"
#include "status/status.h"
#include "supervise/supervise.h"
#include "wrapper/wrapper.h"

#ifndef NOSELFCONN_VERSION
#define NOSELFCONN_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: noselfconn [OPTION]... [--] COMMAND [ARG]...\n"
		"       noselfconn --supervise [--fallback=preload|none] [--] COMMAND [ARG]...\n"
		"       noselfconn --audit [--all-namespaces] [--json|--prometheus]\n"
		"       noselfconn --audit --preloaded [--json]\n"
		"       noselfconn --kernel CGROUP | --kernel --check\n"
		"       noselfconn --kernel --pin DIR | --unpin DIR | --detach CGROUP\n"
		"       noselfconn --enable-host | --disable-host | --status\n"
		"Run COMMAND so that its TCP dials never connect to themselves.\n"
		"\n"
		"  -m, --mode=MODE   check (default), prebind or off (NOSELFCONN_MODE)\n"
		"  -l, --log[=DEST]  report each prevented self-connection to DEST: stderr\n"
		"                    (the default; also 1, on), syslog, or 0, off (none)\n"
		"                    (NOSELFCONN_LOG)\n"
		"  -s, --supervise   guard COMMAND with seccomp user notification instead\n"
		"                    of the preload: reaches static binaries and raw\n"
		"                    system calls, and every process COMMAND starts\n"
		"      --fallback=preload|none\n"
		"                    with --supervise, where seccomp user notification\n"
		"                    is unavailable: use the preload (default) or refuse\n"
		"  -k, --kernel CGROUP\n"
		"                    guard every process of the cgroup v2 directory\n"
		"                    CGROUP in the kernel (cgroup BPF connect hooks; root)\n"
		"                    until SIGTERM or SIGINT\n"
		"      --check       with --kernel: load the programs, say whether the\n"
		"                    kernel accepts them, attach nothing\n"
		"      --pin DIR     with --kernel: pin the programs in DIR (on bpffs)\n"
		"                    as DIR/connect4 and DIR/connect6, for systemd's\n"
		"                    BPFProgram=; --unpin DIR removes them\n"
		"      --detach CGROUP\n"
		"                    with --kernel: detach the guard from CGROUP\n"
		"  -a, --audit       report what in this network namespace is connected\n"
		"                    to itself (exit 1 if anything is), which servers\n"
		"                    listen inside the ephemeral range, and the sysctl\n"
		"                    line that would protect them\n"
		"                    (listeners of root and system accounts only: other\n"
		"                    users' are listed apart, never proposed)\n"
		"      --json        with --audit: one JSON object (valid UTF-8)\n"
		"      --prometheus  with --audit: metrics for node_exporter's textfile\n"
		"                    collector\n"
		"      --all-namespaces\n"
		"                    with --audit, as root: every network namespace on\n"
		"                    the host, each named by a process in it\n"
		"      --preloaded   with --audit: list the processes that carry\n"
		"                    libnoselfconn.so (exit 0)\n"
		"      --enable-host add the installed library to /etc/ld.so.preload, once\n"
		"                    it loads for each architecture here: every program\n"
		"                    started on this host from then on is guarded\n"
		"      --disable-host\n"
		"                    take it out of /etc/ld.so.preload again\n"
		"      --status      what this machine offers each guard, and what it uses\n"
		"  -h, --help        show this help and exit\n"
		"  -V, --version     show the version and exit\n"
		"\n"
		"The library is added to LD_PRELOAD, after what is already there.\n"
		"Exit status: COMMAND's, or 2 for a usage error, 125 if noselfconn\n"
		"itself fails, 126 if COMMAND cannot run, 127 if it is not found.\n"
		"With --audit: 0 when nothing is connected to itself, 1 when something\n"
		"is, 2 for a usage error, 125 when the audit failed (no partial report).\n");
}

struct options {
	bool audit, json, prometheus, all_namespaces, preloaded, supervise;
	bool enable_host, disable_host, status;
	bool kernel, check;
	const char *pin, *unpin, *detach; /* --kernel's other tasks */
	bool fallback_given, setting_given; /* for check_combination() */
	enum nsc_fallback fallback;
};

/* What the user typed, escaped: it goes back to their terminal. */
static const char *escaped(const char *text, char *out, size_t size)
{
	nsc_escape(out, size, text != NULL ? text : "", 200);
	return out;
}

/* An option's value, checked against the same table the library reads. */
static bool parse_value(enum nsc_setting_id id, const char *value, int *out)
{
	const struct nsc_setting *s = &nsc_settings[id];
	if (value != NULL && *value != '\0' && nsc_parse_setting(id, value, out))
		return true;
	char text[1024];
	fprintf(stderr, "noselfconn: %s: unknown value '%s' (expected %s)\n", s->option,
		escaped(value, text, sizeof(text)), s->expected);
	return false;
}

/* getopt_long's complaint, said as ours (opterr is 0: its own messages
 * would begin with however the command was invoked). */
static void bad_option(int opt, const char *arg)
{
	char text[1024];
	escaped(arg, text, sizeof(text));
	if (opt == ':')
		fprintf(stderr, "noselfconn: option '%s' needs a value\n", text);
	else if (optopt != 0 && strncmp(arg, "--", 2) == 0)
		fprintf(stderr, "noselfconn: option '%s' takes no value\n", text);
	else if (optopt != 0)
		fprintf(stderr, "noselfconn: unknown option -- '%c'\n", optopt);
	else
		fprintf(stderr, "noselfconn: unknown option '%s'\n", text);
}

/* -m and -l reach the library through its variables, checked here first. */
static bool export_setting(enum nsc_setting_id id, const char *value)
{
	int ignored;
	return parse_value(id, value, &ignored) &&
	       setenv(nsc_settings[id].variable, value, 1) == 0;
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
		{ "prometheus", no_argument, NULL, 'P' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "preloaded", no_argument, NULL, 'p' },
		{ "kernel", no_argument, NULL, 'k' },
		{ "check", no_argument, NULL, 'C' },
		{ "pin", required_argument, NULL, 'I' },
		{ "unpin", required_argument, NULL, 'U' },
		{ "detach", required_argument, NULL, 'T' },
		{ "enable-host", no_argument, NULL, 'E' },
		{ "disable-host", no_argument, NULL, 'D' },
		{ "status", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, fallback;
	opterr = 0;
	/* '+': options end at COMMAND, whose own options are left alone;
	 * ':': a missing value is told apart from an unknown option. */
	while ((opt = getopt_long(argc, argv, "+:m:l::sakhV", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (!export_setting(NSC_SETTING_MODE, optarg))
				return NSC_EXIT_USAGE;
			o->setting_given = true;
			break;
		case 'l':
			if (!export_setting(NSC_SETTING_LOG, optarg != NULL ? optarg : "stderr"))
				return NSC_EXIT_USAGE;
			o->setting_given = true;
			break;
		case 'f':
			if (!parse_value(NSC_SETTING_FALLBACK, optarg, &fallback))
				return NSC_EXIT_USAGE;
			o->fallback = (enum nsc_fallback)fallback;
			o->fallback_given = true;
			break;
		case 's': o->supervise = true; break;
		case 'a': o->audit = true; break;
		case 'j': o->json = true; break;
		case 'P': o->prometheus = true; break;
		case 'A': o->all_namespaces = true; break;
		case 'p': o->preloaded = true; break;
		case 'k': o->kernel = true; break;
		case 'C': o->check = true; break;
		case 'I': o->pin = optarg; break;
		case 'U': o->unpin = optarg; break;
		case 'T': o->detach = optarg; break;
		case 'E': o->enable_host = true; break;
		case 'D': o->disable_host = true; break;
		case 'S': o->status = true; break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("noselfconn %s\n", NOSELFCONN_VERSION);
			return 0;
		default:
			bad_option(opt, argv[optind - 1]);
			return NSC_EXIT_USAGE;
		}
	}
	return -1;
}

/* An option that only means something with another: one check, one message. */
static bool goes_with(bool given, bool context, const char *option, const char *context_name)
{
	if (given && !context) {
		fprintf(stderr, "noselfconn: %s goes with %s\n", option, context_name);
		return false;
	}
	return true;
}

/* --kernel: CGROUP, or exactly one of its other tasks; false after the one
 * line that says why not. */
static bool kernel_options_fit(const struct options *o, int operands)
{
	int tasks = o->check + (o->pin != NULL) + (o->unpin != NULL) + (o->detach != NULL);
	if (!goes_with(tasks > 0, o->kernel, "--check, --pin, --unpin and --detach", "--kernel") ||
	    !goes_with(tasks > 1, false, "--check, --pin, --unpin and --detach", "none of the others"))
		return false;
	if (o->kernel && operands != (tasks == 0)) {
		fprintf(stderr, "noselfconn: --kernel takes one cgroup, or one of --check, --pin, "
				"--unpin, --detach\n");
		return false;
	}
	return true;
}

/* Returns -1 when the options make sense together, else NSC_EXIT_USAGE. */
static int check_combination(const struct options *o, int operands)
{
	bool has_command = operands > 0;
	int jobs = o->audit + o->kernel + o->enable_host + o->disable_host + o->status;
	bool running = jobs == 0;
	if (!kernel_options_fit(o, operands))
		return NSC_EXIT_USAGE;
	if (o->kernel)
		has_command = false; /* CGROUP, checked above */
	bool alone = !o->json && !o->prometheus && !o->all_namespaces && !o->preloaded &&
		     !o->supervise && !o->fallback_given && !o->setting_given && !has_command &&
		     jobs == 1;
	if (!goes_with(o->enable_host, alone, "--enable-host", "no other option or command") ||
	    !goes_with(o->disable_host, alone, "--disable-host", "no other option or command") ||
	    !goes_with(o->status, alone, "--status", "no other option or command") ||
	    !goes_with(o->json, o->audit, "--json", "--audit") ||
	    !goes_with(o->prometheus, o->audit, "--prometheus", "--audit") ||
	    !goes_with(o->all_namespaces, o->audit, "--all-namespaces", "--audit") ||
	    !goes_with(o->preloaded, o->audit, "--preloaded", "--audit") ||
	    !goes_with(o->prometheus, !o->json, "--prometheus", "--audit, not --json") ||
	    !goes_with(o->preloaded, !o->prometheus && !o->all_namespaces, "--preloaded",
		       "--audit [--json], not --prometheus or --all-namespaces") ||
	    !goes_with(o->fallback_given, o->supervise, "--fallback", "--supervise") ||
	    !goes_with(o->supervise, running, "--supervise", "a command, not --audit or --kernel") ||
	    !goes_with(o->setting_given, running, "--mode and --log",
		       "a command, not --audit or --kernel") ||
	    !goes_with(o->audit && o->kernel, false, "--audit", "no --kernel") ||
	    !goes_with(has_command, running, "a command", "no --audit"))
		return NSC_EXIT_USAGE;
	if (running && !has_command) {
		fprintf(stderr, "noselfconn: no command given\n");
		return NSC_EXIT_USAGE;
	}
	return -1;
}

/* --kernel: one of its tasks, or guarding CGROUP. */
static int run_kernel(const struct options *o, const char *cgroup)
{
	if (o->check)
		return nsc_kernel_check();
	if (o->pin != NULL)
		return nsc_kernel_pin(o->pin);
	if (o->unpin != NULL)
		return nsc_kernel_unpin(o->unpin);
	if (o->detach != NULL)
		return nsc_kernel_detach(o->detach);
	return nsc_kernel_guard(cgroup);
}

int main(int argc, char **argv)
{
	struct options o = { .fallback = NSC_FALLBACK_PRELOAD };
	int status = parse_options(argc, argv, &o);
	if (status < 0)
		status = check_combination(&o, argc - optind);
	if (status == NSC_EXIT_USAGE) /* after the one line that says why */
		fprintf(stderr, "Try 'noselfconn --help'.\n");
	if (status >= 0)
		return status;
	if (o.enable_host || o.disable_host)
		return nsc_host(o.enable_host);
	if (o.status)
		return nsc_status();
	if (o.kernel)
		return run_kernel(&o, argv[optind]);
	if (o.audit) {
		struct nsc_audit_options audit = {
			.format = o.json ? NSC_AUDIT_JSON
				: o.prometheus ? NSC_AUDIT_PROMETHEUS : NSC_AUDIT_TEXT,
			.all_namespaces = o.all_namespaces,
			.preloaded = o.preloaded,
		};
		return nsc_audit(&audit);
	}
	if (o.supervise) {
		status = nsc_supervise(&argv[optind], o.fallback);
		if (status != NSC_SUPERVISE_UNAVAILABLE)
			return status;
	}
	return nsc_run_preloaded(&argv[optind]);
}
