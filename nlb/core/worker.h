/* One worker: a pinned thread with its own io_uring, its own listening
 * sockets, connections, buffers and pipes.  Nothing here is touched by
 * another thread except the stop eventfd and the counter rows (read-only). */
#ifndef NLB_WORKER_H
#define NLB_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "proxyproto.h"
#include "ring.h"
#include "srclimit.h"
#include "tunables.h"
#include "core/runtime.h"
#include "core/counters-t.h"
#include "balance/pick-t.h"

/* Operations, packed into user_data with a slot index and generation so a
 * completion for a slot that was freed and reused is recognised. */
enum op {
	OP_NONE = 0,		/* cancels, closes: nothing to do on completion */
	OP_STOP,		/* read on the stop eventfd */
	OP_TICK,		/* housekeeping timer */
	OP_ACCEPT,		/* multishot accept; idx = listener */
	OP_CONNECT,
	OP_CONNECT_TIMEOUT,
	OP_HEADER_POLL,		/* the client's PROXY header: more bytes readable */
	OP_HEADER_TIMEOUT,	/* ... linked timeout: proxy_protocol_timeout_ms */
	OP_RECV,		/* copy path, multishot recv; dir in op */
	OP_RECV_T,
	OP_SEND,
	OP_SEND_T,
	OP_POLL_IN,		/* splice path readiness */
	OP_POLL_IN_T,
	OP_POLL_OUT,
	OP_POLL_OUT_T,
	OP_SPLICE_MORE,		/* a NOP that resumes a splice pump */
	OP_SPLICE_MORE_T,
	OP_UDP_RECV,		/* multishot recvmsg on a listener; idx = listener */
	OP_UDP_FLOW_RECV,	/* multishot recvmsg on a flow's target socket */
	OP_UDP_SEND_T,		/* a datagram to a target; idx = buffer id, gen = listener */
	OP_UDP_SENDMSG,		/* a datagram or GSO batch; idx = send context */
	OP__COUNT,
};

static inline uint64_t ud_pack(enum op op, uint32_t idx, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(gen & 0xffffff) << 32 | idx;
}
static inline enum op ud_op(uint64_t ud) { return (enum op)(ud >> 56); }
static inline uint32_t ud_gen(uint64_t ud) { return (uint32_t)(ud >> 32) & 0xffffff; }
static inline uint32_t ud_idx(uint64_t ud) { return (uint32_t)ud; }

#define NO_IDX UINT32_MAX
#define NO_BUF UINT16_MAX

/* One direction of a proxied connection: 0 client->target, 1 target->client. */
enum half_flag {
	HALF_RECV = 1 << 0,		/* multishot recv armed (copy) */
	HALF_RECV_CANCEL = 1 << 1,	/* ... and being cancelled (high water) */
	HALF_SEND = 1 << 2,		/* a send is in flight (copy) */
	HALF_EOF = 1 << 3,		/* the source sent FIN */
	HALF_SHUT = 1 << 4,		/* FIN passed on to the destination */
	HALF_STARVED = 1 << 5,		/* recv ended with -ENOBUFS */
	HALF_POLL_IN = 1 << 6,		/* multishot poll on the source (splice) */
	HALF_POLL_OUT = 1 << 7,		/* poll for room on the destination */
	HALF_MORE = 1 << 8,		/* a resume NOP is queued (splice) */
	HALF_SPLICE = 1 << 9,		/* auto: this direction moved to splice */
};

struct half {
	uint16_t flags;
	uint16_t head, tail;	/* queued buffer ids (copy), linked by worker->buf_next */
	uint8_t send_nbufs;	/* buffers in the in-flight send */
	uint8_t full_streak;	/* auto: receives in a row that filled a buffer */
	uint32_t queued;	/* bytes waiting (copy) or in the pipe (splice) */
	uint32_t pipe;		/* pipe pool index (splice) or NO_IDX */
	uint32_t send_ctx;	/* sendmsg context index or NO_IDX */
};

enum conn_state {
	CONN_FREE = 0,
	CONN_HEADER,			/* reading the client's PROXY header */
	CONN_CONNECTING,
	CONN_OPEN,
	CONN_CLOSING,
};

/* Kept small on purpose: this, and nothing else, is what an idle
 * proxied connection costs in user space. */
struct conn {
	int cfd, tfd;
	uint32_t idx;			/* own slot index */
	uint32_t gen;
	uint32_t target;		/* index in the group */
	uint64_t tried;			/* targets tried (first 64) */
	uint64_t last_active_ms;
	uint32_t lru_prev, lru_next;	/* idle order in the listener's list; free-list link */
	uint16_t listener;
	/* Its listener's group when it was accepted: a reload may point the
	 * listener at another group, and this connection stays with its own. */
	uint8_t group;
	uint8_t state;
	uint8_t attempts;
	uint8_t inflight;		/* io_uring requests not yet completed */
	uint8_t reset;			/* close with RST (SO_LINGER 0) */
	uint8_t counted;		/* counted in the target's connections */
	uint8_t target_spoke;		/* the target has sent bytes */
	uint32_t src_slot;		/* per-source limit handle (admission.c) */
	struct conn_ext *ext;		/* accept_proxy_protocol only, else NULL */
	struct half half[2];
};

_Static_assert(NLB_MAX_GROUPS <= 256, "a group index fits struct conn's and udp_flow's group");

/* What a connection on an accept_proxy_protocol listener needs while it
 * reads the client's PROXY header, and the addresses the header gave,
 * which stand for the connection's own from then on.  From a per-worker
 * free list: other connections do not pay for it. */
struct conn_ext {
	struct sockaddr_storage client, local;
	bool has_addr;
	bool lowat;			/* SO_RCVLOWAT raised while waiting */
	uint64_t deadline_ms;
	struct __kernel_timespec left;	/* the linked timeout reads it */
	struct conn_ext *next_free;
	uint8_t buf[NLB_PROXYPROTO_V2_MAX];
};

struct pipe_pair {
	int rfd, wfd;
	uint32_t next_free;
};

/* A sendmsg in flight: the kernel reads msg and iov after submission,
 * so contexts are allocated one by one and never move. */
struct send_ctx {
	struct msghdr msg;
	struct iovec iov[NLB_SEND_IOV_MAX];
	uint32_t next_free;
};

/* A UDP flow: one client address and port on one listener, pinned to a
 * target through its own connected socket, so the kernel matches the
 * target's answers to it. */
struct udp_flow {
	int fd;				/* connected to the target */
	uint32_t idx, gen;
	uint32_t target;		/* slot in the group */
	uint32_t lru_prev, lru_next;	/* idle order per listener; free-list link */
	uint32_t src_slot;		/* per-source limit handle (admission.c) */
	uint64_t last_ms;
	uint64_t key_hash;
	uint16_t listener;
	uint8_t group;			/* as struct conn's */
	uint8_t state;			/* enum udp_flow_state */
	uint8_t inflight;		/* the recv, while armed */
	uint8_t target_spoke;		/* an answer came (passive health) */
	uint8_t starved;		/* recv ended for lack of buffers */
	uint8_t has_local;		/* local: the address the client wrote to */
	uint8_t split_to_target;	/* GSO refused on the way: send one by one */
	uint8_t split_to_client;
	struct sockaddr_storage client;	/* as received, for answers */
	socklen_t client_len;
	struct in6_addr local;		/* wildcard listeners (IPv4 mapped) */
	uint8_t pp_len;			/* proxy_protocol v2: this header before */
	uint8_t pp_hdr[NLB_PROXYPROTO_V2_MAX_OUT];	/* each datagram to the target */
};

/* A sendmsg in flight reads these until it completes: an answer to a
 * client (its address, IP_PKTINFO when the listener is a wildcard) or a
 * GRO batch to either side (UDP_SEGMENT).  flow and gen find the flow
 * again if the kernel refuses the batch and it must go one by one. */
struct udp_send_ctx {
	struct msghdr msg;
	struct iovec iov[2];		/* [0] the payload, or a PROXY header and [1] it */
	struct sockaddr_storage name;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	uint32_t flow, gen;
	uint16_t listener;		/* whose counter row a failure goes to */
	uint16_t bid;
	uint16_t gso;			/* segment size, 0: one datagram */
	bool to_client;
	uint32_t next_free;
};

struct worker_listener {
	int fd;				/* tcp, or -1 */
	int ufd;			/* udp, or -1 */
	bool udp_armed;			/* multishot recvmsg armed */
	bool udp_starved;		/* ... ended for lack of buffers */
	struct msghdr udp_msg;		/* recvmsg layout: name and control room */
	uint32_t ulru_head, ulru_tail;	/* flows, least recently active first */
	uint64_t udp_idle_ms;
	bool accepting;		/* multishot accept armed */
	bool paused;		/* out of fds: resume at resume_ms */
	uint64_t resume_ms;
	uint32_t lru_head, lru_tail;	/* least recently active first */
	uint64_t idle_ms;
	struct nlb_srclimit srclimit;	/* per-source limits (admission.c) */
	bool started;			/* this worker serves the slot */
	bool released;			/* ... and, removed, let go of it */
};

struct worker {
	unsigned id;
	int cpu;
	pthread_t thread;
	const struct nlb_runtime *rt;
	struct io_uring ring;
	struct nlb_ring_features feat;
	bool ring_ready;
	int stop_fd;
	uint64_t stop_val;
	int init_error;		/* set before the start barrier */
	pthread_barrier_t *barrier;

	uint64_t now_ms;
	const struct nlb_config *cfg_seen;	/* cached from (config_cache) */
	bool listeners_closing;		/* a removed listener is not let go yet */
	bool stopping;
	bool done;
	uint64_t stop_deadline_ms;
	struct __kernel_timespec tick_ts;

	struct worker_listener *listeners;
	/* A descriptor held back for the moment the limit is reached: freed
	 * so an accepted client still gets its target socket, while accept
	 * pauses; taken again once descriptors come back. */
	int reserve_fd;

	/* connection slots, in chunks that never move */
	struct conn **chunks;
	uint32_t n_chunks, n_slots, free_head, live;
	struct conn_ext *ext_free;	/* PROXY header state, for reuse */

	/* copy path */
	struct nlb_bufring bufs;
	uint16_t *buf_next;
	uint32_t *buf_len;
	uint32_t *buf_off;
	uint64_t *starved;		/* gen << 33 | idx << 1 | dir, waiting for buffers */
	uint32_t n_starved, cap_starved;
	struct send_ctx **sctx;
	uint32_t n_sctx, sctx_free;
	bool bufs_returned;		/* buffers recycled this iteration */

	/* splice path */
	struct pipe_pair *pipes;
	uint32_t n_pipes, pipes_free, pipes_cached, pipe_slots_free;

	/* maglev: flow key -> target, so a flow (a client, with
	 * hash_fields = source_ip) stays on the target it was given */
	struct nlb_flowtab *flows;
	uint64_t flow_idle_ms;

	/* udp */
	struct nlb_bufring ubufs;
	uint32_t udp_max_datagram;	/* the configuration's */
	struct udp_flow **uchunks;
	uint32_t n_uchunks, n_uslots, ufree_head;
	struct nlb_flowtab *uflows;	/* tuple -> flow slot */
	struct msghdr uflow_msg;	/* recvmsg layout on target sockets */
	struct udp_send_ctx **uctx;
	uint32_t n_uctx, uctx_free;
	uint32_t *ustarved;		/* flows waiting for buffers */
	uint32_t n_ustarved, cap_ustarved;
	bool ubufs_returned;

	struct pick_state pick;		/* round robin, least_conn and random2 state */
	uint32_t drain_close_seen;	/* rt->drain_close_seq last acted on */

	/* Counters, one row per listener (index into cfg->listeners),
	 * allocated by worker_start and freed by worker_free_stats once
	 * nobody reads them; other threads only load them. */
	struct worker_stats *stats;
	size_t n_stats;
};

int worker_start(struct worker *w);
void worker_pause_accept(struct worker *w);
/* Queues the cancel of every request on fd (close(2) would not cancel
 * them); the fd must stay open until the cancel is submitted. */
void worker_cancel_fd(struct worker *w, int fd);
void worker_stop(struct worker *w);	/* from another thread */
void worker_free_stats(struct worker *w);	/* after the join and the last reader */

/* This worker's counter row for listener lidx. */
static inline struct worker_stats *wstats(struct worker *w, uint32_t lidx)
{
	return &w->stats[lidx];
}

static inline struct conn *conn_at(struct worker *w, uint32_t idx)
{
	return &w->chunks[idx / NLB_CONN_CHUNK][idx % NLB_CONN_CHUNK];
}

#endif
