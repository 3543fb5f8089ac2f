/* An nlb runtime without workers (see nlb_runtime.h). */
#include "nlb_runtime.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "balance/target_set.h"
#include "config_files.h"
#include "registry.h"
#include "tunables.h"

void t_runtime_start(struct nlb_runtime *rt, unsigned n_workers, const char *text)
{
	char *path = t_write_config("%s", text);
	T_ASSERT(path);
	struct nlb_config *cfg = NULL;
	char err[512];
	int ret = nlb_config_load(path, &cfg, err, sizeof(err));
	t_file_remove(path);
	T_ASSERT(ret == 0, ": %s", err);
	memset(rt, 0, sizeof(*rt));
	rt->cfg = cfg;
	rt->n_workers = n_workers;
	rt->listeners = calloc(NLB_MAX_LISTENERS, sizeof(*rt->listeners));
	rt->groups = calloc(NLB_MAX_GROUPS, sizeof(*rt->groups));
	T_ASSERT(rt->listeners && rt->groups);
	T_ASSERT(targets_init(rt) == 0);
}

void t_runtime_stop(struct nlb_runtime *rt)
{
	targets_free(rt);
	free(rt->listeners);
	free(rt->groups);
	nlb_config_free((struct nlb_config *)rt->cfg);
}
