/* Target selection for a connection: which target of a group to try next. */
#ifndef NLB_BACKEND_H
#define NLB_BACKEND_H

#include <stdint.h>

#include "worker.h"

int backend_worker_init(struct worker *w);
void backend_worker_free(struct worker *w);

/* Picks a target of group by the group's algorithm, skipping those whose
 * bit is set in tried (indexes below 64).  Returns the index, or -ENOENT
 * when the group has no target left to try. */
int backend_pick(struct worker *w, size_t group, uint64_t tried);

#endif
