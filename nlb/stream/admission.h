/* Who may connect: a listener's allow and deny lists and its per-source
 * limits, decided per TCP connection and per new UDP flow on the worker
 * that received it, from the worker's own tables (no locks). */
#ifndef NLB_ADMISSION_H
#define NLB_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/worker.h"

/* Sets up the per-source tables of w's listeners; 0 or -ENOMEM. */
int admission_worker_init(struct worker *w);
/* The same for listener l alone (one added by a reload). */
int admission_listener_init(struct worker *w, uint32_t l);
void admission_worker_free(struct worker *w);

/* May client open a connection (udp false) or flow (udp true) on
 * listener lidx?  The allow and deny lists first (deny wins, no allow
 * list allows all), then the per-source limits.  Returns 0 with *slot to
 * pass to admission_release when it ends, or -EACCES (acl_denied),
 * -EMFILE (source_limit), -EAGAIN (source_rate) or -ENOSPC (source_limit:
 * every tracked source holds connections), each counted in the
 * listener's row (the udp_ counters for flows). */
int admission_check(struct worker *w, uint32_t lidx, const struct sockaddr *client, bool udp,
		    uint32_t *slot);
void admission_release(struct worker *w, uint32_t lidx, uint32_t slot);

/* A client fd just accepted on listener lidx (TCP, TLS or HTTP), before
 * anything is held for it: reset and counted while nlb is over
 * max_memory_mb (memory_refused) or the listener is at max_connections
 * (limit); else counted in the listener's active count when it has a
 * max_connections.  False when refused. */
bool admission_accept(struct worker *w, uint32_t lidx, int fd);

#endif
