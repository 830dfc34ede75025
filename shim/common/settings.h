/*
 * The settings, their accepted values and defaults: one table, read by the
 * library (NOSELFCONN_*), the wrapper (--mode, --log, --fallback) and the
 * messages of both. Pure: no system calls.
 */
#ifndef NOSELFCONN_SETTINGS_H
#define NOSELFCONN_SETTINGS_H

#include <stdbool.h>

enum nsc_mode {
	NSC_MODE_CHECK,   /* dial, then refuse a self-connection (default) */
	NSC_MODE_PREBIND, /* keep the target out of the kernel's choice first */
	NSC_MODE_OFF,     /* pass everything through */
};

enum nsc_log {
	NSC_LOG_OFF,
	NSC_LOG_STDERR,
	NSC_LOG_SYSLOG,
};

enum nsc_fallback {
	NSC_FALLBACK_PRELOAD, /* no seccomp user notification: use the preload */
	NSC_FALLBACK_NONE,    /* no seccomp user notification: refuse to run */
};

enum nsc_setting_id { NSC_SETTING_MODE, NSC_SETTING_LOG, NSC_SETTING_FALLBACK };

struct nsc_choice {
	const char *name;
	int value;
};

struct nsc_setting {
	const char *variable;		  /* environment variable, or NULL */
	const char *option;		  /* the wrapper's long option */
	const struct nsc_choice *choices; /* ends with a NULL name */
	const char *expected;		  /* the accepted values, for messages */
	const char *default_name;	  /* what an ignored value falls back to */
	int default_value;
};

extern const struct nsc_setting nsc_settings[];

/* Looks `text` up among the setting's values; an empty text is the default. */
bool nsc_parse_setting(enum nsc_setting_id id, const char *text, int *out);

#endif
