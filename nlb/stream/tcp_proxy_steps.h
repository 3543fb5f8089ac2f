/* The steps of a proxied TCP connection's life that its plain path
 * (stream/tcp_proxy.c) and its TLS path (stream/tcp_proxy_tls.c) share:
 * one module in two files, this its inside.  Nothing outside those two
 * includes it; the worker sees stream/tcp_proxy.h. */
#ifndef NLB_STREAM_TCP_PROXY_STEPS_H
#define NLB_STREAM_TCP_PROXY_STEPS_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "idle_list.h"
#include "balance/pick.h"
#include "core/worker.h"
#include "stream/tcp_conn-t.h"

struct nlb_tls_client;

/* The user_data of c's requests. */
static inline uint64_t conn_ud(const struct conn *c, unsigned op)
{
	return ud_pack(op, c->slot.idx, c->slot.gen);
}

static inline uint64_t conn_ud_dir(const struct conn *c, unsigned op, int dir)
{
	return ud_pack_dir(op, (unsigned)dir, c->slot.idx, c->slot.gen);
}

static inline bool in_handshake(const struct conn *c)
{
	return c->state == CONN_HANDSHAKE || c->state == CONN_TARGET_HS;
}

/* c's place in the idle order: its listener's list, or while a TLS
 * handshake lasts, the list that times handshakes out. */
static inline struct nlb_idle_list *conn_idle(struct worker *w, const struct conn *c)
{
	struct tcp_listener *tl = &w->listeners[c->listener].tcp;
	return c->state == CONN_HANDSHAKE ? &tl->hs :
	       c->state == CONN_TARGET_HS ? &tl->target_hs : &tl->idle;
}

/* c had traffic just now. */
static inline void conn_touch(struct worker *w, struct conn *c)
{
	/* The clock is coarse: most completions in a burst see the same
	 * millisecond and skip the list surgery.  A handshake keeps its
	 * start: its list times it out from there. */
	if (c->last_active_ms == w->now_ms || in_handshake(c))
		return;
	c->last_active_ms = w->now_ms;
	w->active_now++;
	nlb_idle_touch(&w->tcp.conns, conn_idle(w, c), &c->slot);
}

/* Bytes from the target: for passive health detection the target works
 * (a connect that succeeds and is then reset does not count as working). */
static inline void note_target_spoke(struct worker *w, struct conn *c, int dir)
{
	if (dir != DIR_T2C || c->target_spoke)
		return;
	c->target_spoke = 1;
	pick_live_result(w->rt, w->id, c->group, c->target, true);
}

/* n payload bytes moved in direction dir. */
static inline void count_bytes(struct worker *w, const struct conn *c, int dir, uint64_t n)
{
	if (dir == DIR_C2T)
		STAT_ADD(wstats(w, c->listener), bytes_in, n);
	else
		STAT_ADD(wstats(w, c->listener), bytes_out, n);
}

/* ---- tcp_proxy.c: the connection's life ---------------------------- */

/* c goes to state, and onto that state's list, as of now. */
void tcp_conn_move(struct worker *w, struct conn *c, enum conn_state state);
/* Starts closing (reset: with RST); the caller must not touch c again. */
void tcp_conn_close(struct worker *w, struct conn *c, bool reset);
/* Frees a closing c once no request refers to it. */
void tcp_conn_maybe_finalize(struct worker *w, struct conn *c);
/* A reset seen on dir's source (on_src) or destination, counted. */
void tcp_count_reset(struct worker *w, const struct conn *c, int dir, bool on_src);
/* dir's source is done and all it sent is out: FIN on, close when both are. */
void tcp_half_shutdown(struct worker *w, struct conn *c, int dir);
/* dir's receive ran out of buffers: re-armed when some come back. */
void tcp_half_starve(struct worker *w, struct conn *c, int dir);
/* dir's multishot receive: cancelled, armed. */
void tcp_cancel_recv(struct worker *w, struct conn *c, int dir);
void tcp_arm_recv(struct worker *w, struct conn *c, int dir);
/* A poll on dir's destination for room (out), or its source (splice). */
void tcp_arm_poll(struct worker *w, struct conn *c, int dir, bool out);
/* Picks a target and connects; the next one after a failure. */
void tcp_start_connect(struct worker *w, struct conn *c);
void tcp_next_target(struct worker *w, struct conn *c);
/* c no longer counts in its target's connections. */
void tcp_conn_uncount(struct worker *w, struct conn *c);

/* ---- tcp_proxy_tls.c: where an end speaks TLS ----------------------- */

/* Completions of a connection with c->tls. */
void tls_on_recv(struct worker *w, struct conn *c, int dir, const struct io_uring_cqe *cqe);
void tls_on_send(struct worker *w, struct conn *c, int dir, int res);
void tls_on_poll_out(struct worker *w, struct conn *c, int dir);
/* Receives on dir again where its state reads and the queue allows. */
void tls_maybe_rearm(struct worker *w, struct conn *c, int dir);
/* An admitted client of a tls listener: its handshake. */
void tls_start_client(struct worker *w, struct conn *c);
/* Connected to a target of a group with tls: its handshake. */
void tls_start_target(struct worker *w, struct conn *c, struct nlb_tls_client *client);
/* Both ends ready: forwarding. */
void tls_start_forwarding(struct worker *w, struct conn *c);
/* Handshakes past their time, on listener tl's lists. */
void tls_tick(struct worker *w, struct tcp_listener *tl);

#endif
