/* See settings.h. */
#include "settings.h"

#include <stddef.h>
#include <string.h>

static const struct nsc_choice modes[] = {
	{ "check", NSC_MODE_CHECK },
	{ "prebind", NSC_MODE_PREBIND },
	{ "off", NSC_MODE_OFF },
	{ NULL, 0 },
};

static const struct nsc_choice logs[] = {
	{ "0", NSC_LOG_OFF },	     { "off", NSC_LOG_OFF },	   { "1", NSC_LOG_STDERR },
	{ "on", NSC_LOG_STDERR },    { "stderr", NSC_LOG_STDERR }, { "syslog", NSC_LOG_SYSLOG },
	{ NULL, 0 },
};

static const struct nsc_choice fallbacks[] = {
	{ "preload", NSC_FALLBACK_PRELOAD },
	{ "none", NSC_FALLBACK_NONE },
	{ NULL, 0 },
};

const struct nsc_setting nsc_settings[] = {
	[NSC_SETTING_MODE] = { "NOSELFCONN_MODE", "--mode", modes, "check, prebind or off",
			       "check", NSC_MODE_CHECK },
	[NSC_SETTING_LOG] = { "NOSELFCONN_LOG", "--log", logs, "0, off, 1, on, stderr or syslog",
			      "off", NSC_LOG_OFF },
	[NSC_SETTING_FALLBACK] = { NULL, "--fallback", fallbacks, "preload or none", "preload",
				   NSC_FALLBACK_PRELOAD },
};

bool nsc_parse_setting(enum nsc_setting_id id, const char *text, int *out)
{
	const struct nsc_setting *s = &nsc_settings[id];
	if (text == NULL)
		return false;
	if (*text == '\0') {
		*out = s->default_value;
		return true;
	}
	for (const struct nsc_choice *c = s->choices; c->name != NULL; c++) {
		if (strcmp(text, c->name) == 0) {
			*out = c->value;
			return true;
		}
	}
	return false;
}
