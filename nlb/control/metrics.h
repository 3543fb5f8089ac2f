/* The metrics endpoint: Prometheus text format (exposition format 0.0.4)
 * at GET /metrics on stats = { listen }, served by a minimal HTTP/1.1
 * responder on a thread of its own; it only reads the workers' counter
 * rows, the target slots and the health thread's counters. */
#ifndef NLB_METRICS_H
#define NLB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/control_thread.h"
#include "control/health.h"
#include "control/poll_server.h"
#include "core/runtime.h"
#include "strbuf.h"
#include "core/worker.h"

/* A target slot as a scrape saw it: copied under ctl_lock, because a
 * slot's address changes when another target takes it. */
struct metrics_target {
	uint8_t state;			/* enum target_state */
	uint8_t health;			/* enum nlb_hc_state */
	uint32_t weight;
	uint64_t active;		/* connections and UDP flows, all workers */
	char addr_text[NLB_ADDRSTRLEN];
};

/* Where each group's targets are in the snapshot. */
struct metrics_group {
	size_t at;			/* first entry in snap */
	uint32_t n;			/* slots copied by the last scrape */
};

struct metrics {
	struct nlb_runtime *rt;
	const struct worker *workers;
	unsigned n_workers;
	const struct health *health;
	int lfd;			/* the listening socket, or -1 */
	/* nlb -u beside an nlb still serving the address: lfd is bound by
	 * the thread once the old one lets the address go. */
	bool bind_pending;
	struct control_thread thread;	/* "nlb-metrics" */
	struct poll_server server;	/* NLB_METRICS_MAX_CLIENTS clients */
	int64_t start_time;		/* Unix seconds */
	struct nlb_strbuf body;		/* reused from scrape to scrape */
	struct metrics_target *snap;	/* every group's max_targets slots */
	size_t snap_cap;		/* entries; grows as reloads add groups */
	struct metrics_group *groups;	/* one per group slot (NLB_MAX_GROUPS) */
};

/* Binds and listens on cfg->stats_listen when stats is configured (else
 * sets nothing up and returns 0).  Called with the listeners' binds, so
 * a busy address stops nlb at start with "FILE:LINE: stats: cannot
 * listen on ADDR: reason" in err; but in a binary upgrade (nlb -u) the
 * old nlb holds it until it stops, and the thread binds it then.
 * 0 or -errno. */
int metrics_open(struct metrics *m, struct nlb_runtime *rt, char *err, size_t errlen);

/* Starts the thread once the workers run (nothing without stats).  The
 * workers' counter rows and h must outlive metrics_stop.  0 or -errno. */
int metrics_start(struct metrics *m, const struct worker *workers, unsigned n_workers,
		  const struct health *h);

/* Stops and joins the thread and closes every socket; safe after a
 * failed or skipped open or start, and twice. */
void metrics_stop(struct metrics *m);

/* Appends every metric family to b (the response body of a scrape).
 * 0, or -ENOMEM. */
int metrics_render(struct metrics *m, struct nlb_strbuf *b);

#endif
