/* One end of a connection as the TLS layers of nlb's modules see it:
 * OpenSSL on memory BIOs between the ring's receives and sends, so it
 * never touches a socket and never blocks.  A TLS end takes ciphertext
 * in (feed), gives plaintext out (read), takes plaintext to send (write)
 * and queues the ciphertext it owes in its out BIO; a plain end only
 * queues what it is written.  What is owed goes out through a send
 * buffer from a pool, which stays put while the kernel reads it (a BIO
 * may move what it holds).  No ring operation and no counter here: the
 * connection's life is its module's (stream/tcp_tls.c, http/http_tls.c). */
#ifndef NLB_TLS_END_H
#define NLB_TLS_END_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

/* Free send buffers (NLB_TLS_SEND_BUF each), kept by one thread. */
struct nlb_tls_pool {
	uint8_t **free;
	uint32_t n;
};

/* Empties the pool (at the owner's exit). */
void nlb_tls_pool_drain(struct nlb_tls_pool *p);

struct nlb_tls_end {
	SSL *ssl;			/* NULL: the end is plain */
	BIO *in;			/* ciphertext received (ssl's rbio) */
	/* What the end is owed: ssl's wbio (ciphertext), or a plain end's
	 * own memory BIO (plaintext). */
	BIO *out;
	uint8_t *sbuf;			/* out's bytes in flight, NULL between sends */
	uint32_t slen, soff;
	uint8_t notified;		/* close_notify queued */
	uint8_t eof;			/* close_notify received */
};

/* A plain end: 0 or -ENOMEM. */
int nlb_tls_end_init(struct nlb_tls_end *e);
/* Frees what e holds; its send buffer back to p. */
void nlb_tls_end_fini(struct nlb_tls_end *e, struct nlb_tls_pool *p);

/* e now speaks TLS through ssl (which e then owns): 0 or -ENOMEM (ssl
 * freed).  What e was owed is dropped. */
int nlb_tls_end_attach(struct nlb_tls_end *e, SSL *ssl);
/* e is plain again, its TLS and what it was owed dropped: 0 or -ENOMEM. */
int nlb_tls_end_detach(struct nlb_tls_end *e, struct nlb_tls_pool *p);

/* Ciphertext received from a TLS end: 0 or -ENOMEM. */
int nlb_tls_end_feed(struct nlb_tls_end *e, const void *buf, uint32_t len);
/* Ciphertext fed and not yet taken by OpenSSL. */
uint32_t nlb_tls_end_fed(const struct nlb_tls_end *e);

/* Plaintext owed to e: encrypted when e is TLS.  0, -EPIPE when its TLS
 * refuses (after a failure), -ENOMEM. */
int nlb_tls_end_write(struct nlb_tls_end *e, const void *buf, uint32_t len);

/* Advances e's handshake on what was fed: 1 done, 0 more bytes needed
 * (what it answered is owed to e), -1 failed (*fail: enum nlb_tls_fail). */
int nlb_tls_end_handshake(struct nlb_tls_end *e, uint8_t *fail);

/* Plaintext e's TLS holds, up to cap bytes into buf: the count; 0 when
 * it needs more ciphertext; -EPIPE when e sent close_notify (e->eof);
 * -EPROTO on a TLS error or a renegotiation attempt (*fail). */
int nlb_tls_end_read(struct nlb_tls_end *e, void *buf, uint32_t cap, uint8_t *fail);
/* Plaintext e's TLS has decrypted and not yet given out. */
bool nlb_tls_end_readable(const struct nlb_tls_end *e);

/* Queues close_notify to a TLS end that has none queued: true when
 * bytes were queued. */
bool nlb_tls_end_notify(struct nlb_tls_end *e);

/* Bytes owed to e, in flight and queued. */
uint32_t nlb_tls_end_pending(const struct nlb_tls_end *e);

/* The next bytes to send to e (those of the send in flight, if it came
 * back short, else the queue's next): false when there are none, or no
 * buffer could be had (*nomem set). */
bool nlb_tls_end_next_send(struct nlb_tls_end *e, struct nlb_tls_pool *p, const uint8_t **buf,
			   uint32_t *n, bool *nomem);
/* n bytes of them went out. */
void nlb_tls_end_sent(struct nlb_tls_end *e, struct nlb_tls_pool *p, uint32_t n);

#endif
