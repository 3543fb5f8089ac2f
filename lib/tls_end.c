/* One end of a connection through OpenSSL's memory BIOs (tls_end.h), and
 * the pool of send buffers. */
#include "tls_end.h"

#include <errno.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "tls_error.h"
#include "tls_server.h"
#include "tunables.h"

/* Free send buffers a thread keeps: enough for the connections that send
 * at one moment, the rest go back to the allocator. */
#define TLS_POOL_KEEP 64u

static uint8_t *pool_get(struct nlb_tls_pool *p)
{
	if (p->n)
		return p->free[--p->n];
	return malloc(NLB_TLS_SEND_BUF);
}

static void pool_put(struct nlb_tls_pool *p, uint8_t *b)
{
	if (!p->free && !(p->free = calloc(TLS_POOL_KEEP, sizeof(*p->free)))) {
		free(b);
		return;
	}
	if (p->n < TLS_POOL_KEEP)
		p->free[p->n++] = b;
	else
		free(b);
}

void nlb_tls_pool_drain(struct nlb_tls_pool *p)
{
	while (p->n)
		free(p->free[--p->n]);
	free(p->free);
	p->free = NULL;
}

int nlb_tls_end_init(struct nlb_tls_end *e)
{
	*e = (struct nlb_tls_end){ 0 };
	return (e->out = BIO_new(BIO_s_mem())) ? 0 : -ENOMEM;
}

static void drop_send(struct nlb_tls_end *e, struct nlb_tls_pool *p)
{
	if (e->sbuf)
		pool_put(p, e->sbuf);
	e->sbuf = NULL;
	e->slen = e->soff = 0;
}

void nlb_tls_end_fini(struct nlb_tls_end *e, struct nlb_tls_pool *p)
{
	if (e->ssl)
		SSL_free(e->ssl);	/* and its BIOs, in and out */
	else
		BIO_free(e->out);
	drop_send(e, p);
	e->ssl = NULL;
	e->in = e->out = NULL;
}

int nlb_tls_end_attach(struct nlb_tls_end *e, SSL *ssl)
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
	if (e->ssl)
		SSL_free(e->ssl);
	else
		BIO_free(e->out);
	e->ssl = ssl;
	e->in = in;
	e->out = out;
	e->notified = e->eof = 0;
	return 0;
}

int nlb_tls_end_detach(struct nlb_tls_end *e, struct nlb_tls_pool *p)
{
	BIO *out = BIO_new(BIO_s_mem());
	if (!out)
		return -ENOMEM;
	nlb_tls_end_fini(e, p);
	e->out = out;
	e->notified = e->eof = 0;
	return 0;
}

int nlb_tls_end_feed(struct nlb_tls_end *e, const void *buf, uint32_t len)
{
	return BIO_write(e->in, buf, (int)len) == (int)len ? 0 : -ENOMEM;
}

uint32_t nlb_tls_end_fed(const struct nlb_tls_end *e)
{
	return e->in ? (uint32_t)BIO_ctrl_pending(e->in) : 0;
}

int nlb_tls_end_write(struct nlb_tls_end *e, const void *buf, uint32_t len)
{
	if (len == 0)
		return 0;
	if (e->ssl) {
		/* A memory BIO takes all: SSL_write writes whole or fails. */
		if (SSL_write(e->ssl, buf, (int)len) <= 0) {
			ERR_clear_error();
			return -EPIPE;
		}
		return 0;
	}
	return BIO_write(e->out, buf, (int)len) == (int)len ? 0 : -ENOMEM;
}

int nlb_tls_end_handshake(struct nlb_tls_end *e, uint8_t *fail)
{
	int r = SSL_do_handshake(e->ssl);
	if (r == 1)
		return 1;
	int err = SSL_get_error(e->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return 0;
	*fail = (uint8_t)nlb_tls_fail_classify(e->ssl, err);
	return -1;
}

int nlb_tls_end_read(struct nlb_tls_end *e, void *buf, uint32_t cap, uint8_t *fail)
{
	int n = SSL_read(e->ssl, buf, (int)cap);
	if (n > 0)
		return n;
	int err = SSL_get_error(e->ssl, n);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		if (nlb_tls_renegotiation_seen(e->ssl)) {
			*fail = NLB_TLS_FAIL_RENEGOTIATION;
			return -EPROTO;
		}
		return 0;
	}
	if (err == SSL_ERROR_ZERO_RETURN) {
		e->eof = 1;
		return -EPIPE;
	}
	/* A peer refused renegotiation may give up with an alert of its
	 * own, read in the same pass: the renegotiation is the cause. */
	*fail = nlb_tls_renegotiation_seen(e->ssl) ? NLB_TLS_FAIL_RENEGOTIATION :
		(uint8_t)nlb_tls_fail_classify(e->ssl, err);
	return -EPROTO;
}

bool nlb_tls_end_readable(const struct nlb_tls_end *e)
{
	return e->ssl && (SSL_pending(e->ssl) > 0 || BIO_ctrl_pending(e->in) > 0);
}

bool nlb_tls_end_notify(struct nlb_tls_end *e)
{
	if (!e->ssl || e->notified)
		return false;
	e->notified = 1;
	if (SSL_shutdown(e->ssl) < 0)
		ERR_clear_error();
	return BIO_ctrl_pending(e->out) > 0;
}

uint32_t nlb_tls_end_pending(const struct nlb_tls_end *e)
{
	return (uint32_t)BIO_ctrl_pending(e->out) + (e->slen - e->soff);
}

bool nlb_tls_end_next_send(struct nlb_tls_end *e, struct nlb_tls_pool *p, const uint8_t **buf,
			   uint32_t *n, bool *nomem)
{
	*nomem = false;
	if (e->soff == e->slen) {
		size_t q = BIO_ctrl_pending(e->out);
		if (q == 0)
			return false;
		if (!e->sbuf && !(e->sbuf = pool_get(p))) {
			*nomem = true;
			return false;
		}
		int got = BIO_read(e->out, e->sbuf, (int)(q < NLB_TLS_SEND_BUF ? q : NLB_TLS_SEND_BUF));
		if (got <= 0)
			return false;
		e->slen = (uint32_t)got;
		e->soff = 0;
	}
	*buf = e->sbuf + e->soff;
	*n = e->slen - e->soff;
	return true;
}

void nlb_tls_end_sent(struct nlb_tls_end *e, struct nlb_tls_pool *p, uint32_t n)
{
	e->soff += n;
	if (e->soff < e->slen)
		return;
	e->soff = e->slen = 0;
	/* Kept while more waits: the next send refills it at once. */
	if (BIO_ctrl_pending(e->out) == 0)
		drop_send(e, p);
}
