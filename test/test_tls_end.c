/* Suite "tls_end": one end of a connection through OpenSSL's memory BIOs
 * (lib/tls_end.c), two of them joined in memory: a server end and a
 * client end whose sends are fed to each other, in pieces of any size,
 * as the ring would.  Checked: the handshake; plaintext both ways across
 * many send buffers, sent back short; close_notify seen as -EPIPE; bytes
 * owed counted until sent; a plain end queues what it is written; a
 * peer that is not TLS fails the handshake as not_tls. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tls_end.h"
#include "tls_error.h"
#include "tunables.h"
#include "helpers.h"

TestSuite(tls_end, .timeout = 60);

struct pair {
	struct t_tls certs;
	SSL_CTX *sctx, *cctx;
	struct nlb_tls_end srv, cli;
	struct nlb_tls_pool pool;
};

static void pair_init(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	char cert[256], key[256];
	T_ASSERT(t_tls_init(&p->certs) == 0);
	T_ASSERT(t_tls_leaf(&p->certs, "leaf", "a.test", "DNS:a.test", "ec") == 0);
	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	T_ASSERT(p->sctx && p->cctx);
	T_ASSERT(SSL_CTX_use_certificate_chain_file(
			 p->sctx, t_tls_path(&p->certs, "leaf.pem", cert, sizeof(cert))) == 1);
	T_ASSERT(SSL_CTX_use_PrivateKey_file(p->sctx, t_tls_path(&p->certs, "leaf.key", key,
								 sizeof(key)),
					     SSL_FILETYPE_PEM) == 1);
	T_ASSERT(nlb_tls_end_init(&p->srv) == 0 && nlb_tls_end_init(&p->cli) == 0);
	SSL *s = SSL_new(p->sctx), *c = SSL_new(p->cctx);
	T_ASSERT(s && c);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	T_ASSERT(nlb_tls_end_attach(&p->srv, s) == 0 && nlb_tls_end_attach(&p->cli, c) == 0);
}

static void pair_free(struct pair *p)
{
	nlb_tls_end_fini(&p->srv, &p->pool);
	nlb_tls_end_fini(&p->cli, &p->pool);
	nlb_tls_pool_drain(&p->pool);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	t_tls_free(&p->certs);
}

/* What from is owed goes to to, piece bytes per send at most (a send
 * that comes back short); the bytes moved. */
static uint64_t carry(struct pair *p, struct nlb_tls_end *from, struct nlb_tls_end *to,
		      uint32_t piece)
{
	const uint8_t *b;
	uint32_t n;
	bool nomem;
	uint64_t moved = 0;
	while (nlb_tls_end_next_send(from, &p->pool, &b, &n, &nomem)) {
		if (n > piece)
			n = piece;
		T_ASSERT(nlb_tls_end_feed(to, b, n) == 0);
		nlb_tls_end_sent(from, &p->pool, n);
		moved += n;
	}
	cr_assert(!nomem);
	return moved;
}

static void handshake(struct pair *p)
{
	uint8_t fail = 0;
	int s = 0, c = 0;
	for (int round = 0; round < 10 && (s != 1 || c != 1); round++) {
		if (c != 1)
			c = nlb_tls_end_handshake(&p->cli, &fail);
		carry(p, &p->cli, &p->srv, 1000);
		if (s != 1)
			s = nlb_tls_end_handshake(&p->srv, &fail);
		carry(p, &p->srv, &p->cli, 1000);
		cr_assert(s >= 0 && c >= 0, "failed: %s", nlb_tls_fail_name(fail));
	}
	cr_assert(s == 1 && c == 1);
}

/* Reads all the plaintext from can give into buf: the count. */
static size_t drain(struct nlb_tls_end *from, uint8_t *buf, size_t cap, int *last)
{
	uint8_t fail = 0;
	size_t got = 0;
	int r;
	while ((r = nlb_tls_end_read(from, buf + got, (uint32_t)(cap - got), &fail)) > 0)
		got += (size_t)r;
	*last = r;
	return got;
}

Test(tls_end, plaintext_both_ways_across_many_send_buffers)
{
	struct pair p;
	pair_init(&p);
	handshake(&p);
	static uint8_t out[3 * NLB_TLS_SEND_BUF + 777], in[sizeof(out)];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	cr_assert(nlb_tls_end_write(&p.srv, out, sizeof(out)) == 0);
	cr_assert(nlb_tls_end_pending(&p.srv) > sizeof(out), "ciphertext owed counts");
	uint64_t moved = carry(&p, &p.srv, &p.cli, 5000);
	cr_assert(moved > sizeof(out));
	cr_assert_eq(nlb_tls_end_pending(&p.srv), 0);
	cr_assert(nlb_tls_end_readable(&p.cli));
	int last;
	size_t got = drain(&p.cli, in, sizeof(in), &last);
	cr_assert_eq(got, sizeof(out));
	cr_assert_eq(last, 0, "wants more, not an error");
	cr_assert(memcmp(in, out, sizeof(out)) == 0);
	cr_assert(!nlb_tls_end_readable(&p.cli));

	/* Back the other way, in one piece per record's worth. */
	cr_assert(nlb_tls_end_write(&p.cli, "ping", 4) == 0);
	carry(&p, &p.cli, &p.srv, UINT32_MAX);
	uint8_t small[16];
	cr_assert_eq(drain(&p.srv, small, sizeof(small), &last), 4);
	cr_assert(memcmp(small, "ping", 4) == 0);
	pair_free(&p);
}

Test(tls_end, close_notify_reads_as_epipe)
{
	struct pair p;
	pair_init(&p);
	handshake(&p);
	cr_assert(nlb_tls_end_write(&p.cli, "last", 4) == 0);
	cr_assert(nlb_tls_end_notify(&p.cli), "close_notify queued");
	cr_assert(!nlb_tls_end_notify(&p.cli), "only once");
	carry(&p, &p.cli, &p.srv, UINT32_MAX);
	uint8_t buf[16];
	int last;
	cr_assert_eq(drain(&p.srv, buf, sizeof(buf), &last), 4);
	cr_assert_eq(last, -EPIPE);
	cr_assert(p.srv.eof);
	pair_free(&p);
}

Test(tls_end, plain_end_queues_what_it_is_written)
{
	struct nlb_tls_end e;
	struct nlb_tls_pool pool = { 0 };
	cr_assert(nlb_tls_end_init(&e) == 0);
	cr_assert(nlb_tls_end_write(&e, "hello", 5) == 0);
	cr_assert_eq(nlb_tls_end_pending(&e), 5);
	cr_assert(!nlb_tls_end_notify(&e), "a plain end has no close_notify");
	const uint8_t *b;
	uint32_t n;
	bool nomem;
	cr_assert(nlb_tls_end_next_send(&e, &pool, &b, &n, &nomem));
	cr_assert_eq(n, 5);
	cr_assert(memcmp(b, "hello", 5) == 0);
	nlb_tls_end_sent(&e, &pool, 2);
	cr_assert_eq(nlb_tls_end_pending(&e), 3, "a short send leaves the rest owed");
	cr_assert(nlb_tls_end_next_send(&e, &pool, &b, &n, &nomem));
	cr_assert(n == 3 && memcmp(b, "llo", 3) == 0);
	nlb_tls_end_sent(&e, &pool, 3);
	cr_assert_eq(nlb_tls_end_pending(&e), 0);
	cr_assert_eq(pool.n, 1, "the send buffer went back to the pool");
	nlb_tls_end_fini(&e, &pool);
	nlb_tls_pool_drain(&pool);
}

Test(tls_end, plain_http_fails_the_handshake_as_not_tls)
{
	struct pair p;
	pair_init(&p);
	static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	cr_assert(nlb_tls_end_feed(&p.srv, get, sizeof(get) - 1) == 0);
	uint8_t fail = 0;
	cr_assert_eq(nlb_tls_end_handshake(&p.srv, &fail), -1);
	cr_assert_eq(fail, NLB_TLS_FAIL_NOT_TLS, "%s", nlb_tls_fail_name(fail));
	pair_free(&p);
}
