/* Listening sockets: one SO_REUSEPORT socket per listener per worker,
 * all bound before any worker starts so that a bind error stops nlb
 * with the address and the reason; and each listener's open-connection
 * count, kept per worker. */
#ifndef NLB_LISTENER_H
#define NLB_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* Opens n_workers sockets for every listener into rt->listeners[].fds.
 * On error closes what it opened and writes the reason into err. */
int listeners_open(struct nlb_runtime *rt, char *err, size_t errlen);
void listeners_close(struct nlb_runtime *rt);

/* A TCP connection on listener l begins (+1) or ends (-1) on worker id:
 * a relaxed store into the worker's own row, no shared cache line. */
static inline void listener_conn_add(const struct nlb_runtime *rt, unsigned id, size_t l,
				     int delta)
{
	_Atomic uint32_t *n = &rt->listener_conns[id * rt->listener_stride + l];
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + (uint32_t)delta,
			      memory_order_relaxed);
}

/* Sum over workers of TCP connections open on listener l. */
uint64_t listener_conns(const struct nlb_runtime *rt, size_t l);

#endif
