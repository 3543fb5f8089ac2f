/* Listening sockets: one SO_REUSEPORT socket per listener per worker,
 * all bound before any worker starts so that a bind error stops nlb
 * with the address and the reason; and each listener's open-connection
 * count, kept per worker. */
#ifndef NLB_LISTENER_H
#define NLB_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "core/runtime.h"

/* Opens n_workers sockets for every listener into rt->listeners[].fds.
 * On error closes what it opened and writes the reason into err. */
int listeners_open(struct nlb_runtime *rt, char *err, size_t errlen);
void listeners_close(struct nlb_runtime *rt);

/* Binds listener lc's sockets (TCP, UDP or both, one per worker) into
 * the unused slot l: at start, or by a reload, when no worker reads the
 * slot until a configuration that has it is published.  On error
 * nothing stays open and err says why (FILE:LINE). */
int listener_bind(struct nlb_runtime *rt, size_t l, const struct nlb_listener_conf *lc,
		  char *err, size_t errlen);
void listener_unbind(struct nlb_runtime *rt, size_t l);
/* Frees what slot l keeps once every worker has closed its sockets and
 * let go of it (at exit, or when a removed listener is done). */
void listener_release(struct nlb_runtime *rt, size_t l);

#endif
