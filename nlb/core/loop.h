/* Starting and stopping the workers (core/loop.c runs them). */
#ifndef NLB_CORE_LOOP_H
#define NLB_CORE_LOOP_H

#include "core/worker-t.h"

/* Allocates w's counter rows and starts its thread, which sets up its
 * ring and protocols, waits on w->barrier, then runs until stopped. */
int worker_start(struct worker *w);
void worker_stop(struct worker *w);	/* from another thread */
void worker_free_stats(struct worker *w);	/* after the join and the last reader */

#endif
