/* HTTP's types: a client connection of an http listener, a connection to
 * a target (busy with one request, or idle in its target's pool), and
 * what a worker and each of its listeners keep for HTTP. */
#ifndef NLB_HTTP_HTTP_CONN_T_H
#define NLB_HTTP_HTTP_CONN_T_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http1_chunked.h"
#include "http1_head.h"
#include "idle_list.h"
#include "slot_arena.h"
#include "core/proto-t.h"

/* HTTP's completions (its block of core/proto-t.h): CLIENT_* on client
 * slots, TARGET_* on target slots, ACCEPT on the listener's index. */
enum http_op {
	HTTP_OP_ACCEPT = NLB_OPS_HTTP,
	HTTP_OP_CLIENT_RECV,
	HTTP_OP_CLIENT_SEND,
	HTTP_OP_TARGET_CONNECT,
	HTTP_OP_TARGET_CONNECT_TIMEOUT,
	HTTP_OP_TARGET_RECV,
	HTTP_OP_TARGET_SEND,
	HTTP_OP_TARGET_POLL,		/* a pooled connection: closed or spoke? */
	HTTP_OP_CLIENT_TLS_RECV,	/* https: ciphertext from the client */
	HTTP_OP_CLIENT_TLS_SEND,	/* https: ciphertext to the client */
	HTTP_OP_CLIENT_TLS_WAKE,	/* https: a nop, to go on outside the call that armed it */
	HTTP_OP_TARGET_TLS_RECV,	/* tls to targets: the same three, after the client's */
	HTTP_OP_TARGET_TLS_SEND,
	HTTP_OP_TARGET_TLS_WAKE,
	HTTP_OP_END,
};

/* Bytes held for one direction: [0, len) are there, [0, off) are dealt
 * with (parsed as a head, or sent on), [off, off + pending) are in a
 * send that has not completed. */
struct http_buf {
	char *p;
	uint32_t len, cap, off, pending;
};

enum http_client_state {
	HC_FREE = 0,
	HC_HEAD,			/* reading a request head */
	HC_EXCHANGE,			/* a request forwarded, its response coming back */
	HC_ANSWER,			/* sending an answer of nlb's own */
	HC_TUNNEL,			/* after a 101: bytes both ways */
	HC_LINGER,			/* FIN sent after the last answer: reading to EOF */
	HC_CLOSING,
};

/* The timeout a client waits under: one list per kind per listener, so
 * each list is in deadline order. */
enum http_timer {
	HT_NONE = 0,
	HT_HANDSHAKE,			/* https: the listener's tls handshake_timeout_ms */
	HT_REQUEST,			/* request_timeout_ms: 408 */
	HT_KEEPALIVE,			/* keepalive_timeout_ms: FIN */
	HT_RESPONSE,			/* the group's response_timeout_ms: 504 */
	HT_IDLE,			/* idle_timeout_ms, bodies and tunnels: reset */
	HT_LINGER,			/* NLB_HTTP_LINGER_MS: close */
	HT_COUNT,
};

struct http_client {
	struct nlb_slot slot;		/* index, generation, timer list links */
	int fd;
	uint16_t listener;
	uint8_t group;
	uint8_t state;			/* enum http_client_state */
	uint8_t timer;			/* enum http_timer: the list it is on */
	uint8_t inflight;		/* requests in the ring */
	uint8_t recv_armed, send_armed;
	uint8_t close_after;		/* close once this exchange or answer is done */
	uint8_t reset;			/* close with RST */
	uint8_t req_body;		/* enum nlb_http1_body of the request */
	uint8_t req_done;		/* all of the request is with the target */
	uint8_t resp_done;		/* all of the response is with the client */
	uint8_t counted;		/* in the target's outstanding requests */
	uint8_t attempts;		/* targets tried for this request */
	uint8_t head_sent;		/* the response head went out */
	uint32_t src_slot;		/* per-source limit handle */
	uint32_t target;		/* the request's target, in the group */
	uint32_t upstream;		/* its connection (struct http_target), or NO_IDX */
	uint64_t tried;			/* targets tried (first 64) */
	uint64_t hash;			/* the client's address and port: maglev's key */
	uint64_t deadline_ms;
	uint64_t last_active_ms;	/* the tick it last counted in w->active_now */
	uint64_t req_left;		/* LENGTH: request body bytes not yet taken */
	uint64_t resp_left;		/* LENGTH: response body bytes not yet taken */
	uint32_t out_len, out_sent;	/* out: an answer or a response head */
	uint8_t resp_body;		/* enum nlb_http1_body of the response */
	uint8_t method;			/* enum nlb_http1_method of the request */
	uint8_t minor;			/* HTTP/1.<minor> of the request */
	char *out;
	struct http_tls *tls;		/* https: the client's TLS (http_tls.c), else NULL */
	struct http_buf in;		/* request bytes: head, body, what is pipelined */
	struct nlb_http1_head *head;	/* the request's, while one is read or served */
	struct nlb_http1_chunked req_chunks, resp_chunks;
	struct msghdr msg;		/* the send to the client in flight */
	struct iovec iov[2];
	char addr[INET6_ADDRSTRLEN];	/* for X-Forwarded-For */
	union {				/* the same, for rules' source conditions */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} src;
	uint64_t sticky_cookie;		/* the NLBTG value to set, when sticky_s */
	uint32_t sticky_s;		/* the request's rule sets NLBTG for this long */
	uint16_t port;			/* the client's, for the access log */
	/* The request's access log line, when there is an access log
	 * (http_log.c): what it needs, gathered as the exchange goes. */
	uint8_t log_pending;		/* a request began and has no line yet */
	uint8_t pp_pending;		/* accept_proxy_protocol: its header is still to come */
	uint16_t elb_status;		/* what nlb answered itself, or 0 */
	uint16_t target_status;		/* the target's final status, or 0 */
	const char *reason;		/* why nlb answered or cut, or NULL */
	uint64_t t_req_ms, t_sent_ms, t_resp_ms;	/* head in, request out, response head in */
	uint64_t req_bytes, resp_bytes;	/* from and to the client, this request */
	char *log;			/* request line and user agent, escaped */
};

enum http_target_state {
	HU_FREE = 0,
	HU_CONNECTING,
	HU_BUSY,			/* serving a client's request */
	HU_IDLE,			/* in its target's pool */
	HU_CLOSING,
};

struct http_target {
	struct nlb_slot slot;		/* index, generation, pool list links */
	int fd;
	uint8_t state;			/* enum http_target_state */
	uint8_t inflight;
	uint8_t group;
	uint8_t recv_armed, send_armed, polling;
	uint8_t reused;			/* it served a request before this one */
	uint8_t reusable;		/* the response lets it serve another */
	uint8_t spoke;			/* a byte of this response came */
	uint8_t head_done;		/* the response's final head is parsed */
	uint8_t send_failed;
	uint32_t target;		/* index in the group */
	uint32_t target_gen;		/* the slot's generation when connected */
	uint32_t client, client_gen;	/* the client it serves */
	uint64_t idle_since_ms;
	uint32_t out_len, out_sent;	/* out: the request head as forwarded */
	char *out;
	struct http_tls *tls;		/* the group's tls: its TLS (http_tls.c), else NULL */
	struct http_buf in;		/* response bytes */
	struct nlb_http1_head *head;	/* the response's */
	struct msghdr msg;		/* the send to the target in flight */
	struct iovec iov[2];
};

/* A group's pools on one worker: idle connections per target, newest
 * last. */
struct http_pool {
	struct nlb_idle_list *idle;	/* per target slot */
	uint32_t *count;
	uint32_t n;			/* target slots covered */
};

/* A worker's HTTP side of one listener slot. */
struct http_listener {
	int fd;				/* this worker's listening socket, or -1 */
	bool accepting;
	bool paused;
	uint64_t resume_ms;
	struct nlb_idle_list timers[HT_COUNT];
};

struct http_worker {
	struct nlb_slot_arena clients;	/* struct http_client */
	struct nlb_slot_arena targets;	/* struct http_target */
	struct http_pool *pools;	/* NLB_MAX_GROUPS */
	char *path;			/* rules: a request's normalised path, scratch */
};

#endif
