/* The TLS layer of a proxied TCP connection (stream/tcp_tls.h): memory
 * BIOs in and out of OpenSSL, plaintext moved from one end to the other,
 * and the worker's pool of send buffers. */
#include "stream/tcp_tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "tls_server.h"
#include "tunables.h"

/* Free send buffers a worker keeps: enough for the connections that
 * send at one moment, the rest go back to the allocator. */
#define TLS_POOL_KEEP 64u

static uint8_t *pool_get(struct tcp_worker *t)
{
	if (t->n_tls_pool)
		return t->tls_pool[--t->n_tls_pool];
	return malloc(NLB_TLS_SEND_BUF);
}

static void pool_put(struct tcp_worker *t, uint8_t *b)
{
	if (!t->tls_pool && !(t->tls_pool = calloc(TLS_POOL_KEEP, sizeof(*t->tls_pool)))) {
		free(b);
		return;
	}
	if (t->n_tls_pool < TLS_POOL_KEEP)
		t->tls_pool[t->n_tls_pool++] = b;
	else
		free(b);
}

void tls_pool_free(struct tcp_worker *t)
{
	while (t->n_tls_pool)
		free(t->tls_pool[--t->n_tls_pool]);
	free(t->tls_pool);
	t->tls_pool = NULL;
}

struct conn_tls *tls_conn_new(void)
{
	struct conn_tls *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	for (int e = 0; e < 2; e++) {
		if (!(x->out[e] = BIO_new(BIO_s_mem()))) {
			BIO_free(x->out[0]);
			free(x);
			return NULL;
		}
	}
	return x;
}

void tls_conn_free(struct tcp_worker *t, struct conn_tls *x)
{
	if (!x)
		return;
	for (int e = 0; e < 2; e++) {
		if (x->ssl[e])
			SSL_free(x->ssl[e]);	/* and its BIOs, in[e] and out[e] */
		else
			BIO_free(x->out[e]);
		if (x->sbuf[e])
			pool_put(t, x->sbuf[e]);
	}
	free(x);
}

int tls_attach(struct conn_tls *x, int end, SSL *ssl)
{
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	if (!in || !out) {
		BIO_free(in);
		BIO_free(out);
		SSL_free(ssl);
		return -ENOMEM;
	}
	/* An empty BIO is "try again", not end of file: the ring brings
	 * more. */
	BIO_set_mem_eof_return(in, -1);
	BIO_set_mem_eof_return(out, -1);
	SSL_set_bio(ssl, in, out);
	if (x->ssl[end])
		SSL_free(x->ssl[end]);
	else
		BIO_free(x->out[end]);
	x->ssl[end] = ssl;
	x->in[end] = in;
	x->out[end] = out;
	x->notified[end] = x->eof[end] = 0;
	return 0;
}

int tls_detach(struct tcp_worker *t, struct conn_tls *x, int end)
{
	BIO *out = BIO_new(BIO_s_mem());
	if (!out)
		return -ENOMEM;
	if (x->ssl[end])
		SSL_free(x->ssl[end]);
	else
		BIO_free(x->out[end]);
	x->ssl[end] = NULL;
	x->in[end] = NULL;
	x->out[end] = out;
	if (x->sbuf[end])
		pool_put(t, x->sbuf[end]);
	x->sbuf[end] = NULL;
	x->slen[end] = x->soff[end] = 0;
	x->notified[end] = x->eof[end] = 0;
	return 0;
}

/* Plaintext for end: through its TLS, or straight into its queue. */
static int put_plain(struct conn_tls *x, int end, const void *p, uint32_t len)
{
	if (x->ssl[end]) {
		/* A memory BIO takes all: SSL_write writes whole or fails. */
		if (SSL_write(x->ssl[end], p, (int)len) <= 0) {
			ERR_clear_error();
			return -EPIPE;
		}
		return 0;
	}
	return BIO_write(x->out[end], p, (int)len) == (int)len ? 0 : -ENOMEM;
}

int tls_input(struct conn_tls *x, int end, const void *p, uint32_t len)
{
	if (x->ssl[end])
		return BIO_write(x->in[end], p, (int)len) == (int)len ? 0 : -ENOMEM;
	return put_plain(x, !end, p, len);
}

int tls_handshake(struct conn_tls *x, int end)
{
	SSL *ssl = x->ssl[end];
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	x->fail = (uint8_t)nlb_tls_fail_classify(ssl, e);
	return -1;
}

int tls_read(struct conn_tls *x, int end, uint64_t *moved)
{
	SSL *ssl = x->ssl[end];
	uint8_t chunk[NLB_TLS_READ_CHUNK];
	*moved = 0;
	for (;;) {
		int n = SSL_read(ssl, chunk, sizeof(chunk));
		if (n > 0) {
			if (put_plain(x, !end, chunk, (uint32_t)n) < 0)
				return -1;
			*moved += (uint64_t)n;
			continue;
		}
		int e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (nlb_tls_renegotiation_seen(ssl)) {
				x->fail = NLB_TLS_FAIL_RENEGOTIATION;
				return -1;
			}
			return 0;
		}
		if (e == SSL_ERROR_ZERO_RETURN) {
			x->eof[end] = 1;
			return 1;
		}
		x->fail = (uint8_t)nlb_tls_fail_classify(ssl, e);
		return -1;
	}
}

bool tls_notify(struct conn_tls *x, int end)
{
	if (!x->ssl[end] || x->notified[end])
		return false;
	x->notified[end] = 1;
	if (SSL_shutdown(x->ssl[end]) < 0)
		ERR_clear_error();
	return BIO_ctrl_pending(x->out[end]) > 0;
}

uint32_t tls_pending(const struct conn_tls *x, int end)
{
	return (uint32_t)BIO_ctrl_pending(x->out[end]) + (x->slen[end] - x->soff[end]);
}

bool tls_next_send(struct tcp_worker *t, struct conn_tls *x, int end, const uint8_t **p,
		   uint32_t *n, bool *nomem)
{
	*nomem = false;
	if (x->soff[end] == x->slen[end]) {
		size_t q = BIO_ctrl_pending(x->out[end]);
		if (q == 0)
			return false;
		if (!x->sbuf[end] && !(x->sbuf[end] = pool_get(t))) {
			*nomem = true;
			return false;
		}
		int got = BIO_read(x->out[end], x->sbuf[end],
				   (int)(q < NLB_TLS_SEND_BUF ? q : NLB_TLS_SEND_BUF));
		if (got <= 0)
			return false;
		x->slen[end] = (uint32_t)got;
		x->soff[end] = 0;
	}
	*p = x->sbuf[end] + x->soff[end];
	*n = x->slen[end] - x->soff[end];
	return true;
}

void tls_sent(struct tcp_worker *t, struct conn_tls *x, int end, uint32_t n)
{
	x->soff[end] += n;
	if (x->soff[end] < x->slen[end])
		return;
	x->soff[end] = x->slen[end] = 0;
	/* Kept while more waits: the next send refills it at once. */
	if (BIO_ctrl_pending(x->out[end]) == 0) {
		pool_put(t, x->sbuf[end]);
		x->sbuf[end] = NULL;
	}
}
