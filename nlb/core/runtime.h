/* What all workers share: the configuration, each listener's sockets and
 * connection limit, each target group's target slots and table.  Workers
 * write only their own counter rows (and the listener's connection count
 * when max_connections asks for it); the control plane (health thread,
 * reload, draining) changes targets under ctl_lock and publishes tables. */
#ifndef NLB_RUNTIME_H
#define NLB_RUNTIME_H

#include <linux/time_types.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "lb_table.h"
#include "qsbr.h"

struct stream_proto;
struct nlb_spsc_ring;

/* QSBR readers after the workers' (reader i for worker i): the threads
 * that read configurations besides them. */
enum {
	NLB_QSBR_HEALTH = 0,
	NLB_QSBR_METRICS,
	NLB_QSBR_ADMIN,
	NLB_QSBR_ACCESS_LOG,
	NLB_QSBR_THREADS,
};

/* A thread other than a worker: reader n_workers + which. */
#define NLB_QSBR_READER(rt, which) ((rt)->n_workers + (which))

/* A listener slot's life: bound at start or by a reload (ACTIVE),
 * removed by a reload (CLOSING: no new clients, open connections and
 * flows go on), done once every worker has let go of it (CLOSED).  A
 * slot is never taken again. */
enum listener_state {
	LISTENER_ACTIVE = 0,
	LISTENER_CLOSING,
	LISTENER_CLOSED,
};

struct listener_rt {
	/* Replaced by a reload that changes the listener's settings; read
	 * within one QSBR period (see cfg). */
	_Atomic(const struct nlb_listener_conf *) conf;
	_Atomic uint8_t state;		/* enum listener_state */
	/* CLOSING: workers that still hold the slot (a socket, a
	 * connection or a flow on it). */
	_Atomic uint32_t holders;
	int *fds;			/* tcp: one SO_REUSEPORT socket per worker */
	int *udp_fds;			/* udp: the same; a gateway's GENEVE sockets */
	int *tun_fds;			/* a gateway: its TUN device's queue per worker */
	bool wildcard;			/* bound to 0.0.0.0 or [::]: answers need IP_PKTINFO */
	_Atomic uint32_t active;	/* counted only when conf->max_connections */
	_Atomic uint32_t udp_flows;	/* flows open on all workers (max_flows) */
	/* A gateway with several workers: returns that reach a worker but
	 * belong to another's flow (in a GRO batch, say) are handed to it
	 * through ring [from * n_workers + to], made by its writer at first
	 * use (gateway/gw_worker.c); NULL with one worker. */
	_Atomic(struct nlb_spsc_ring *) *gw_handoff;
};

/* A target slot's life: taken by a target (ACTIVE), left by it on
 * removal or drain (DRAINING: no new flows, open connections go on;
 * a drained target has no deadline and keeps the slot), told to
 * reset what is left once deregistration_delay_ms has passed
 * (DRAIN_CLOSING), and FREE again once no connection and no table a
 * worker may still read refers to it. */
enum target_state {
	TARGET_FREE = 0,
	TARGET_ACTIVE,
	TARGET_DRAINING,
	TARGET_DRAIN_CLOSING,
};

/* Workers read addr of a target they picked from a table: a slot's
 * address is written only while it is FREE, which no table offers. */
struct target_rt {
	struct nlb_addr addr;
	char addr_text[NLB_ADDRSTRLEN];
	_Atomic uint8_t state;		/* enum target_state */
	_Atomic uint32_t gen;		/* bumped whenever the slot is (re)taken */
	/* control plane only, under ctl_lock */
	uint32_t weight;		/* as configured */
	uint64_t drain_start_ms, drain_until_ms, drain_epoch;	/* until: TARGET_NO_DEADLINE */
};

struct group_rt {
	_Atomic(const struct nlb_group_conf *) conf;	/* replaced by reloads, as cfg */
	/* max_targets slots that never move; the first n_slots have been
	 * used (tables cover those).  Changed under ctl_lock only. */
	struct target_rt *targets;
	uint32_t n_slots;
	uint32_t max_targets;
	uint64_t drain_ms;		/* deregistration_delay_ms, control plane */
	bool stale;			/* the table could not be rebuilt: retry */
	_Atomic(struct nlb_lb_table *) table;
	/* Tables built and put in force, the first included: written under
	 * ctl_lock, read by the metrics thread and the stats (relaxed). */
	_Atomic uint64_t table_builds;
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
	/* The configuration in force.  A reload that changes settings
	 * publishes a new one (and new listener and group confs into it);
	 * the old is freed once every reader has passed a quiescent point:
	 * the workers, the health, metrics and admin threads (QSBR readers
	 * n_workers + NLB_QSBR_*).  Hold nothing from it across one. */
	_Atomic(const struct nlb_config *) cfg;
	/* The protocol modules the workers run (core/main.c lists them). */
	const struct stream_proto *const *protocols;
	unsigned n_protocols;
	enum nlb_forwarding forwarding;	/* auto = copy, moving bulk directions to splice */
	unsigned n_workers;
	bool upgrade;			/* nlb -u: beside a running nlb, taking over its admin socket */
	/* The access log (control/access_log.c): a ring per worker, written
	 * by that worker, read by the log's thread; NULL until it is set up.
	 * access_log_reopen is bumped by SIGHUP and "nlbctl reopen". */
	struct nlb_spsc_ring *access_rings;
	_Atomic uint32_t access_log_reopen;
	/* Each worker's io_uring descriptor, for a message from another
	 * (IORING_OP_MSG_RING); -1 while it has none. */
	_Atomic int *ring_fds;
	/* announce = { }: whether each prefix's route is in the table now
	 * (control/announce.c writes, the admin and metrics threads read);
	 * cfg->n_announce entries, fixed until a restart.  NULL without. */
	_Atomic uint8_t *announced;
	/* max_memory_mb (control/memory_budget.c): nlb's resident bytes as
	 * last sampled, and whether they are over the budget, when workers
	 * refuse new connections and flows.  Written by the main thread. */
	_Atomic uint64_t resident_bytes;
	_Atomic bool memory_over;
	bool udp_gro;			/* UDP sockets receive GRO batches, forwarded with GSO */
	bool gw_gro;			/* gateways' GENEVE sockets receive GRO batches */
	/* NLB_MAX_LISTENERS and NLB_MAX_GROUPS slots: the first n of the
	 * configuration in force are in use, reloads add after them. */
	struct listener_rt *listeners;
	struct group_rt *groups;
	struct nlb_qsbr qsbr;		/* one reader per worker */

	/* The control plane: the health thread, reload and draining change
	 * target slots and publish tables under this lock; replaced tables
	 * and configurations wait on retired until every reader has passed
	 * them. */
	pthread_mutex_t ctl_lock;
	/* Held through a whole reload (reload.c), SIGHUP's or the admin
	 * socket's: two reloads never interleave. */
	pthread_mutex_t reload_lock;
	struct retired *retired;
	unsigned n_draining;
	_Atomic uint64_t targets_version;	/* bumped on any slot change */
	_Atomic uint32_t drain_close_seq;	/* bumped when slots turn DRAIN_CLOSING */
};

#endif
