/* TCP proxying's types: a proxied connection and its two directions, the
 * state a connection reading a PROXY header needs, pooled pipes and send
 * contexts, and what a worker and each of its listeners keep for TCP. */
#ifndef NLB_STREAM_TCP_CONN_T_H
#define NLB_STREAM_TCP_CONN_T_H

#include <linux/time_types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "flowtab.h"
#include "idle_list.h"
#include "proxyproto.h"
#include "ring.h"
#include "slot_arena.h"
#include "tunables.h"
#include "core/proto-t.h"

#define NO_IDX UINT32_MAX
#define NO_BUF UINT16_MAX

/* TCP's completions (its block of core/proto-t.h), on connection slots
 * but for accept (idx = listener).  Stream ops carry the direction. */
enum tcp_op {
	TCP_OP_ACCEPT = NLB_OPS_TCP,	/* multishot accept */
	TCP_OP_CONNECT,
	TCP_OP_CONNECT_TIMEOUT,		/* ... its linked timeout */
	TCP_OP_HEADER_POLL,		/* the client's PROXY header: more bytes readable */
	TCP_OP_HEADER_TIMEOUT,		/* ... linked timeout: proxy_protocol_timeout_ms */
	TCP_OP_RECV,			/* copy path, multishot recv */
	TCP_OP_SEND,
	TCP_OP_POLL_IN,			/* splice path readiness */
	TCP_OP_POLL_OUT,
	TCP_OP_SPLICE_MORE,		/* a NOP that resumes a splice pump */
	TCP_OP_END,
};

/* One direction of a proxied connection (enum stream_dir). */
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
	uint16_t head, tail;	/* queued buffer ids (copy), linked by tcp_worker.buf_next */
	uint8_t send_nbufs;	/* buffers in the in-flight send */
	uint8_t full_streak;	/* auto: receives in a row that filled a buffer */
	uint32_t queued;	/* bytes waiting (copy) or in the pipe (splice) */
	uint32_t pipe;		/* pipe pool index (splice) or NO_IDX */
	uint32_t send_ctx;	/* sendmsg context index or NO_IDX */
};

enum conn_state {
	CONN_FREE = 0,
	CONN_HEADER,			/* reading the client's PROXY header */
	CONN_HANDSHAKE,			/* TLS handshake with the client */
	CONN_CONNECTING,
	CONN_TARGET_HS,			/* TLS handshake with the target */
	CONN_OPEN,
	CONN_CLOSING,
};

/* Kept small on purpose: this, and nothing else, is what an idle
 * proxied connection costs in user space. */
struct conn {
	struct nlb_slot slot;		/* index, generation, idle-list links */
	int cfd, tfd;
	uint32_t target;		/* index in the group */
	uint64_t tried;			/* targets tried (first 64) */
	uint64_t last_active_ms;
	uint16_t listener;
	/* Its listener's group when it was accepted: a reload may point the
	 * listener at another group, and this connection stays with its own. */
	uint8_t group;
	uint8_t state;			/* enum conn_state */
	uint8_t attempts;
	uint8_t inflight;		/* io_uring requests not yet completed */
	uint8_t reset;			/* close with RST (SO_LINGER 0) */
	uint8_t counted;		/* counted in the target's connections */
	uint8_t target_spoke;		/* the target has sent bytes */
	uint32_t src_slot;		/* per-source limit handle (admission.c) */
	struct conn_ext *ext;		/* accept_proxy_protocol only, else NULL */
	struct conn_tls *tls;		/* TLS on either end (stream/tcp_tls.h), else NULL */
	struct half half[2];
};

_Static_assert(NLB_MAX_GROUPS <= 256, "a group index fits struct conn's group");

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

/* A worker's TCP side of one listener slot. */
struct tcp_listener {
	int fd;				/* this worker's listening socket, or -1 */
	bool accepting;			/* multishot accept armed */
	bool paused;			/* out of fds: resume at resume_ms */
	uint64_t resume_ms;
	struct nlb_idle_list idle;	/* connections, least recently active first */
	uint64_t idle_ms;		/* the listener's idle_timeout_ms */
	/* Connections in a TLS handshake, with the client (the listener's
	 * handshake_timeout_ms) and with a target (its group's
	 * connect_timeout_ms), oldest first: on these lists instead. */
	struct nlb_idle_list hs, target_hs;
};

/* A worker's TCP state. */
struct tcp_worker {
	struct nlb_slot_arena conns;	/* struct conn */
	struct conn_ext *ext_free;	/* PROXY header state, for reuse */
	/* A descriptor held back for the moment the limit is reached: freed
	 * so an accepted client still gets its target socket, while accept
	 * pauses; taken again once descriptors come back. */
	int reserve_fd;

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
};

#endif
