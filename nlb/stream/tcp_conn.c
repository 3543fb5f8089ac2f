/* A worker's TCP pools (stream/tcp_conn.h). */
#include "stream/tcp_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srclimit.h"

/* Connection slots come 2^10 at a time. */
_Static_assert(NLB_CONN_CHUNK == 1024u, "NLB_CONN_CHUNK is 2^10: the arena's chunk shift");
#define CONN_CHUNK_SHIFT 10

int tcp_pools_init(struct tcp_worker *t, struct io_uring *ring, bool copy)
{
	nlb_slot_arena_init(&t->conns, sizeof(struct conn), CONN_CHUNK_SHIFT);
	t->sctx_free = NO_IDX;
	t->pipes_free = NO_IDX;
	t->pipe_slots_free = NO_IDX;
	if (!copy)
		return 0;
	int ret = nlb_bufring_init(ring, &t->bufs, NLB_BUF_GROUP, NLB_BUF_COUNT, NLB_BUF_SIZE);
	if (ret < 0)
		return ret;
	t->buf_next = calloc(NLB_BUF_COUNT, sizeof(*t->buf_next));
	t->buf_len = calloc(NLB_BUF_COUNT, sizeof(*t->buf_len));
	t->buf_off = calloc(NLB_BUF_COUNT, sizeof(*t->buf_off));
	if (!t->buf_next || !t->buf_len || !t->buf_off)
		return -ENOMEM;
	return 0;
}

void tcp_pools_free(struct tcp_worker *t, struct io_uring *ring)
{
	for (uint32_t i = 0; i < t->conns.n_slots; i++)
		free(tcp_conn_at(t, i)->ext);	/* a worker that stopped early */
	nlb_slot_arena_free(&t->conns);
	while (t->ext_free) {
		struct conn_ext *x = t->ext_free;
		t->ext_free = x->next_free;
		free(x);
	}
	for (uint32_t i = 0; i < t->n_sctx; i++)
		free(t->sctx[i]);
	free(t->sctx);
	t->sctx = NULL;
	for (uint32_t i = 0; i < t->n_pipes; i++) {
		if (t->pipes[i].rfd >= 0) {
			close(t->pipes[i].rfd);
			close(t->pipes[i].wfd);
		}
	}
	free(t->pipes);
	t->pipes = NULL;
	free(t->starved);
	t->starved = NULL;
	free(t->buf_next);
	free(t->buf_len);
	free(t->buf_off);
	t->buf_next = NULL;
	t->buf_len = t->buf_off = NULL;
	if (t->bufs.br)
		nlb_bufring_free(ring, &t->bufs);
}

struct conn *tcp_conn_alloc(struct tcp_worker *t)
{
	struct conn *c = nlb_slot_alloc(&t->conns);
	if (!c)
		return NULL;
	c->cfd = c->tfd = -1;
	for (int d = 0; d < 2; d++) {
		c->half[d].head = c->half[d].tail = NO_BUF;
		c->half[d].pipe = NO_IDX;
		c->half[d].send_ctx = NO_IDX;
	}
	c->src_slot = NLB_SRCLIMIT_NO_SLOT;
	return c;
}

void tcp_conn_free(struct tcp_worker *t, struct conn *c)
{
	c->state = CONN_FREE;
	nlb_slot_free(&t->conns, c);
}

/* ---- the copy path's buffers and send contexts ----------------------- */

void tcp_buf_recycle(struct tcp_worker *t, uint16_t bid)
{
	nlb_bufring_recycle(&t->bufs, bid);
	t->bufs_returned = true;
}

void tcp_half_enqueue(struct tcp_worker *t, struct half *h, uint16_t bid, uint32_t len)
{
	t->buf_len[bid] = len;
	t->buf_off[bid] = 0;
	t->buf_next[bid] = NO_BUF;
	if (h->tail != NO_BUF)
		t->buf_next[h->tail] = bid;
	else
		h->head = bid;
	h->tail = bid;
	h->queued += len;
}

void tcp_take_received(struct tcp_worker *t, struct half *h, uint16_t bid, uint32_t len)
{
	do {
		uint32_t n = len < NLB_BUF_SIZE ? len : NLB_BUF_SIZE;
		/* Read before bid goes back: its entry may then be reused. */
		uint16_t next = len > NLB_BUF_SIZE ? (uint16_t)nlb_bufring_next(&t->bufs, bid) : NO_BUF;
		if (h && n)
			tcp_half_enqueue(t, h, bid, n);
		else
			tcp_buf_recycle(t, bid);
		len -= n;
		bid = next;
	} while (len);
}

void tcp_half_drop_queue(struct tcp_worker *t, struct half *h)
{
	while (h->head != NO_BUF) {
		uint16_t bid = h->head;
		h->head = t->buf_next[bid];
		tcp_buf_recycle(t, bid);
	}
	h->tail = NO_BUF;
	h->queued = 0;
}

struct send_ctx *tcp_sctx_get(struct tcp_worker *t, uint32_t *idx)
{
	if (t->sctx_free == NO_IDX) {
		struct send_ctx **arr = realloc(t->sctx, (t->n_sctx + 1) * sizeof(*arr));
		if (!arr)
			return NULL;
		t->sctx = arr;
		struct send_ctx *s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->next_free = NO_IDX;
		arr[t->n_sctx] = s;
		t->sctx_free = t->n_sctx++;
	}
	*idx = t->sctx_free;
	struct send_ctx *s = t->sctx[*idx];
	t->sctx_free = s->next_free;
	return s;
}

void tcp_sctx_put(struct tcp_worker *t, uint32_t idx)
{
	t->sctx[idx]->next_free = t->sctx_free;
	t->sctx_free = idx;
}

/* ---- the splice path's pipes ----------------------------------------- */

static uint32_t pipe_get(struct tcp_worker *t)
{
	if (t->pipes_free != NO_IDX) {
		uint32_t idx = t->pipes_free;
		t->pipes_free = t->pipes[idx].next_free;
		t->pipes_cached--;
		return idx;
	}
	int fds[2];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return NO_IDX;
	/* Larger pipes move more per splice; when the per-user pipe budget
	 * (pipe-user-pages-soft) is spent the kernel refuses and the pipe
	 * keeps its default size, which still works. */
	fcntl(fds[1], F_SETPIPE_SZ, (int)NLB_PIPE_SIZE);
	uint32_t idx;
	if (t->pipe_slots_free != NO_IDX) {
		idx = t->pipe_slots_free;
		t->pipe_slots_free = t->pipes[idx].next_free;
	} else {
		struct pipe_pair *arr = realloc(t->pipes, (t->n_pipes + 1) * sizeof(*arr));
		if (!arr) {
			close(fds[0]);
			close(fds[1]);
			return NO_IDX;
		}
		t->pipes = arr;
		idx = t->n_pipes++;
	}
	t->pipes[idx].rfd = fds[0];
	t->pipes[idx].wfd = fds[1];
	return idx;
}

/* A pipe that still holds bytes is closed, never reused. */
static void pipe_put(struct tcp_worker *t, uint32_t idx, bool dirty)
{
	struct pipe_pair *p = &t->pipes[idx];
	if (!dirty && t->pipes_cached < NLB_PIPE_POOL_KEEP) {
		p->next_free = t->pipes_free;
		t->pipes_free = idx;
		t->pipes_cached++;
		return;
	}
	close(p->rfd);
	close(p->wfd);
	p->rfd = p->wfd = -1;
	p->next_free = t->pipe_slots_free;
	t->pipe_slots_free = idx;
}

int tcp_half_take_pipe(struct tcp_worker *t, struct half *h)
{
	if (h->pipe == NO_IDX)
		h->pipe = pipe_get(t);
	return h->pipe == NO_IDX ? -ENOMEM : 0;
}

void tcp_half_release_pipe(struct tcp_worker *t, struct half *h)
{
	if (h->pipe == NO_IDX)
		return;
	pipe_put(t, h->pipe, h->queued != 0);
	h->pipe = NO_IDX;
	h->queued = 0;
}
