/* What all workers share, read-only once they run: the configuration,
 * each listener's sockets and connection limit, each target group's
 * targets.  The only writes are the listener's connection count, and
 * only when max_connections asks for it. */
#ifndef NLB_RUNTIME_H
#define NLB_RUNTIME_H

#include <linux/time_types.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "lb_table.h"
#include "qsbr.h"

struct listener_rt {
	const struct nlb_listener_conf *conf;
	int *fds;			/* one SO_REUSEPORT socket per worker */
	_Atomic uint32_t active;	/* counted only when conf->max_connections */
};

struct group_rt {
	const struct nlb_group_conf *conf;
	struct __kernel_timespec connect_timeout;
	_Atomic(struct nlb_lb_table *) table;
	/* Connections per target, one row per worker written only by its
	 * worker; least_conn and random2 sum the rows.  Rows are padded to
	 * cache lines so workers never write the same line. */
	_Atomic uint32_t *active;
	size_t active_stride;
	/* Health, written by the probe thread only (enum nlb_hc_state). */
	_Atomic uint8_t *health;
	/* Consecutive failed connects per target, one row per worker (same
	 * stride as active): passive detection, read by the probe thread. */
	_Atomic uint32_t *live_fail;
};

struct nlb_runtime {
	const struct nlb_config *cfg;
	enum nlb_forwarding forwarding;	/* auto = copy, moving bulk directions to splice */
	unsigned n_workers;
	struct listener_rt *listeners;
	struct group_rt *groups;
	struct nlb_qsbr qsbr;		/* one reader per worker */
};

#endif
