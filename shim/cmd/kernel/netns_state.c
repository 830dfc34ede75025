/* The daemon's per-namespace values: see kernel.h. */
#define _GNU_SOURCE
#include "kernel.h"

#include <stdlib.h>

struct nsc_netns_state {
	struct nsc_guard_maps maps;
};

struct nsc_netns_state *nsc_netns_state_new(const struct nsc_guard_maps *maps)
{
	struct nsc_netns_state *s = calloc(1, sizeof(*s));
	if (s != NULL)
		s->maps = *maps;
	return s;
}

void nsc_netns_refresh(struct nsc_netns_state *state)
{
	(void)state;
}

void nsc_netns_state_free(struct nsc_netns_state *state)
{
	free(state);
}
