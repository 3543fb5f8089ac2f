/* Which target a TCP connection tries: by its group's algorithm, and for
 * maglev through the worker's flow table, so a flow keeps its target. */
#ifndef NLB_STREAM_TCP_PICK_H
#define NLB_STREAM_TCP_PICK_H

#include "core/worker-t.h"

/* The target slot for c's next attempt (c->attempts, c->tried), or
 * -ENOENT when none is left. */
int tcp_pick(struct worker *w, struct conn *c);

#endif
