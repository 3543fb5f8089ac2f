/* The TLS layer of a proxied TCP connection: OpenSSL on memory BIOs
 * between the ring's receives and sends, so it never touches a socket
 * and never blocks.  Either end of a connection may speak TLS (the
 * client, when its listener is tls; the target, when its group has
 * tls); a connection with either has a struct conn_tls, and all of its
 * bytes go through here (each end a lib/tls_end.h): received bytes are
 * fed in, plaintext moves from one end to the other, and what an end is
 * owed waits in its out queue until a send takes it.  No ring operation
 * and no counter here: the connection's life is stream/tcp_proxy.c's. */
#ifndef NLB_STREAM_TCP_TLS_H
#define NLB_STREAM_TCP_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "tls_end.h"
#include "tls_error.h"
#include "stream/tcp_conn-t.h"

/* A connection's two ends; direction dir reads from end dir (DIR_C2T
 * reads the client) and writes to the other. */
enum tls_end_idx {
	END_CLIENT = 0,
	END_TARGET = 1,
};

static inline int tls_src_end(int dir) { return dir == DIR_C2T ? END_CLIENT : END_TARGET; }
static inline int tls_dst_end(int dir) { return dir == DIR_C2T ? END_TARGET : END_CLIENT; }

struct conn_tls {
	struct nlb_tls_end end[2];	/* by enum tls_end_idx; plain until attached */
	uint64_t hs_start_ms;		/* the handshake in progress began */
	uint8_t fail;			/* enum nlb_tls_fail of a failed handshake */
	uint8_t close_when_sent;	/* a failed handshake: close once its alert is sent */
	uint8_t target_ops;		/* requests on the target's socket in flight */
	/* The target's handshake failed: once target_ops is 0, its socket
	 * is closed and another target tried. */
	uint8_t retry;
};

/* A connection's TLS state, both ends plain until tls_attach; NULL when
 * out of memory. */
struct conn_tls *tls_conn_new(void);
/* Frees x and what it holds; its send buffers back to the pool. */
void tls_conn_free(struct nlb_tls_pool *pool, struct conn_tls *x);

/* end now speaks TLS through ssl (which x then owns): 0 or -ENOMEM
 * (ssl freed). */
static inline int tls_attach(struct conn_tls *x, int end, SSL *ssl)
{
	return nlb_tls_end_attach(&x->end[end], ssl);
}

/* end is plain again, its TLS and what it was owed dropped (a target
 * about to be replaced): 0 or -ENOMEM. */
static inline int tls_detach(struct nlb_tls_pool *pool, struct conn_tls *x, int end)
{
	return nlb_tls_end_detach(&x->end[end], pool);
}

/* Bytes received from end: ciphertext into its SSL when end is TLS;
 * plaintext into the other end's TLS when end is plain.  0, or -ENOMEM. */
int tls_input(struct conn_tls *x, int end, const void *p, uint32_t len);

/* Advances end's handshake on what has been fed: 1 done, 0 more bytes
 * needed (what it answered waits to be sent), -1 failed (x->fail). */
static inline int tls_handshake(struct conn_tls *x, int end)
{
	return nlb_tls_end_handshake(&x->end[end], &x->fail);
}

/* Moves the plaintext end's TLS holds to the other end's out queue.
 * 0; 1 when end sent close_notify; -1 on a TLS error or a renegotiation
 * attempt (x->fail).  *moved: plaintext bytes. */
int tls_read(struct conn_tls *x, int end, uint64_t *moved);

/* Queues close_notify to end when it speaks TLS and has none queued:
 * true when bytes were queued. */
static inline bool tls_notify(struct conn_tls *x, int end)
{
	return nlb_tls_end_notify(&x->end[end]);
}

/* Bytes owed to end, in flight and queued. */
static inline uint32_t tls_pending(const struct conn_tls *x, int end)
{
	return nlb_tls_end_pending(&x->end[end]);
}

#endif
