/* What a protocol module gives the worker loop: its completion operations
 * (a name and a handler each, dispatched from one table indexed by op)
 * and its hooks into the worker's life (start, reload, tick, stop).  The
 * loop knows protocols only through these descriptors, listed once by
 * main (core/main.c), so a new kind of listener plugs in as a module of
 * its own with no switch to edit.
 *
 * A completion's user_data: op (7 bits), the direction of a two-way
 * stream (1 bit: 0 client->target, 1 target->client), the generation of
 * the slot it concerns (24 bits) and the slot's index (32 bits), so a
 * completion for a slot freed and taken again is recognised. */
#ifndef NLB_CORE_PROTO_T_H
#define NLB_CORE_PROTO_T_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct worker;
struct nlb_listener_conf;

/* The op space: a block of 16 per module.  The block is the module's
 * only mark outside its own files. */
#define NLB_OPS 128u
#define NLB_OP_BLOCK 16u
enum nlb_op_block {
	NLB_OPS_CORE = 0,
	NLB_OPS_TCP = 16,
	NLB_OPS_UDP = 32,
	NLB_OPS_HTTP = 48,
	NLB_OPS_GATEWAY = 64,
};

/* The loop's own. */
enum core_op {
	OP_NONE = NLB_OPS_CORE,	/* cancels, closes: nothing to do */
	OP_STOP,		/* read on the stop eventfd */
	OP_TICK,		/* housekeeping timer */
};

enum stream_dir {
	DIR_C2T = 0,		/* client to target */
	DIR_T2C = 1,		/* target to client */
};

static inline uint64_t ud_pack_dir(unsigned op, unsigned dir, uint32_t idx, uint32_t gen)
{
	return (uint64_t)(op | dir << 7) << 56 | (uint64_t)(gen & 0xffffff) << 32 | idx;
}
static inline uint64_t ud_pack(unsigned op, uint32_t idx, uint32_t gen)
{
	return ud_pack_dir(op, 0, idx, gen);
}
static inline unsigned ud_op(uint64_t ud) { return (unsigned)(ud >> 56) & 0x7f; }
static inline unsigned ud_dir(uint64_t ud) { return (unsigned)(ud >> 63); }
static inline uint32_t ud_gen(uint64_t ud) { return (uint32_t)(ud >> 32) & 0xffffff; }
static inline uint32_t ud_idx(uint64_t ud) { return (uint32_t)ud; }

typedef void worker_op_fn(struct worker *w, const struct io_uring_cqe *cqe);

struct worker_op {
	const char *name;	/* in logs: "tcp_recv" */
	worker_op_fn *handler;	/* NULL: nothing to do */
};

/* A protocol module.  Every hook is optional (NULL) but the op table.
 * Hooks run on the worker's own thread. */
struct stream_proto {
	const char *name;
	unsigned op_base;		/* its block (enum nlb_op_block) */
	const struct worker_op *ops;	/* ops[i] is op op_base + i */
	unsigned n_ops;			/* at most NLB_OP_BLOCK */
	/* Start: after the ring and the listener slots exist. */
	int (*worker_init)(struct worker *w);
	/* After a reload replaced the configuration: take up its settings
	 * and allocate what it now needs.  0 or -errno (logged by the
	 * loop; the worker goes on with what it had). */
	int (*worker_sync)(struct worker *w);
	/* At exit, with the ring still there: closes and frees. */
	void (*worker_free)(struct worker *w);
	/* Listener slot l's sockets become this worker's (at start, or a
	 * reload added it) ... */
	void (*listener_take)(struct worker *w, uint32_t l);
	/* ... and are armed, unless the worker is stopping. */
	void (*listener_arm)(struct worker *w, uint32_t l);
	/* A reload removed listener l: stop taking new clients on it; true
	 * once nothing of it is left here (called each tick until then). */
	bool (*listener_close)(struct worker *w, uint32_t l);
	/* SIGTERM: stop accepting, let open connections finish. */
	void (*stop)(struct worker *w);
	/* What a stopping worker waits for: connections open (logged), and
	 * whether anything at all is still pending (an accept's last
	 * completion counts). */
	uint32_t (*open_count)(const struct worker *w);
	bool (*busy)(const struct worker *w);
	void (*tick)(struct worker *w);
	/* Targets past their deregistration delay: end what they hold. */
	void (*reset_drained)(struct worker *w);
	/* The shutdown deadline passed: reset what is left. */
	void (*reset_all)(struct worker *w);
	/* After each batch of completions: give buffers back, re-arm what
	 * ran out of them. */
	void (*after_batch)(struct worker *w);
};

#endif
