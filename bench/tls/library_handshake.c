/* bench/tls/library_handshake.c: the server side's time per full TLS 1.3
 * handshake in a TLS library alone, so that libraries can be compared on
 * the work nlb cannot avoid.  Client and server in one thread on memory
 * BIOs; only the server's calls are timed (SSL_new, each handshake step,
 * SSL_free).  ECDSA P-256 certificate (given), X25519, AES-128-GCM, no
 * tickets: what bench/compare's tls_close asks of a balancer.  It speaks
 * the API OpenSSL 3 and BoringSSL share; bench/tls/library-compare builds
 * it against each (it is not part of nlb-bench, which the Makefile builds
 * from the .c files at the top of bench/ only).
 *
 *   library_handshake HANDSHAKES CERT KEY
 * prints the library, what was negotiated, and microseconds per handshake.
 * The server's steps are functions of their own (server_*), so that
 * `valgrind --tool=callgrind --toggle-collect='server_*'` counts them. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static SSL_CTX *server_ctx;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pump(BIO *from, BIO *to)
{
	char buf[16384];
	int n;
	while ((n = BIO_read(from, buf, sizeof(buf))) > 0)
		BIO_write(to, buf, n);
}

__attribute__((noinline)) static SSL *server_new(void)
{
	SSL *s = SSL_new(server_ctx);
	if (s == NULL)
		return NULL;
	SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_accept_state(s);
	return s;
}

__attribute__((noinline)) static int server_step(SSL *s)
{
	return SSL_do_handshake(s);
}

__attribute__((noinline)) static void server_free(SSL *s)
{
	SSL_free(s);
}

static int group_of(const SSL *s)
{
#ifdef OPENSSL_IS_BORINGSSL
	return SSL_get_curve_id(s);
#else
	return SSL_get_negotiated_group((SSL *)s);
#endif
}

int main(int argc, char **argv)
{
	int n = argc == 4 ? atoi(argv[1]) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: library_handshake HANDSHAKES CERT KEY\n");
		return 2;
	}
	server_ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *client_ctx = SSL_CTX_new(TLS_client_method());
	if (server_ctx == NULL || client_ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(server_ctx, argv[2]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(server_ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_min_proto_version(server_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(server_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(server_ctx, SSL_MODE_RELEASE_BUFFERS);	/* as nlb, HAProxy, NGINX */
#ifndef OPENSSL_IS_BORINGSSL
	/* BoringSSL sends no TLS 1.3 ticket under SSL_OP_NO_TICKET and
	 * picks AES-128-GCM first on its own. */
	SSL_CTX_set_num_tickets(server_ctx, 0);
	SSL_CTX_set_ciphersuites(server_ctx, "TLS_AES_128_GCM_SHA256");
#endif
	double server_s = 0;
	int warmup = 50, with_ticket = 0;
	for (int i = 0; i < warmup + n; i++) {
		if (i == warmup)
			server_s = 0;
		SSL *c = SSL_new(client_ctx);
		if (c == NULL)
			return 1;
		SSL_set_bio(c, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
		SSL_set_connect_state(c);
		double t = now_s();
		SSL *s = server_new();
		server_s += now_s() - t;
		if (s == NULL)
			return 1;
		int done = 0;
		for (int step = 0; step < 8 && !done; step++) {
			SSL_do_handshake(c);
			pump(SSL_get_wbio(c), SSL_get_rbio(s));
			t = now_s();
			int r = server_step(s);
			server_s += now_s() - t;
			pump(SSL_get_wbio(s), SSL_get_rbio(c));
			if (r == 1 && SSL_is_init_finished(c)) {
				char b;
				SSL_read(c, &b, 1);	/* a ticket, were one sent */
				done = 1;
			}
		}
		if (!done) {
			fprintf(stderr, "library_handshake: a handshake failed\n");
			ERR_print_errors_fp(stderr);
			return 1;
		}
		with_ticket += SSL_SESSION_is_resumable(SSL_get_session(c));
		if (i == 0)
			printf("%s: %s %s group %d; ", OpenSSL_version(OPENSSL_VERSION),
			       SSL_get_version(s), SSL_CIPHER_get_name(SSL_get_current_cipher(s)),
			       group_of(s));
		t = now_s();
		server_free(s);
		server_s += now_s() - t;
		SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c);
	}
	printf("tickets %d; server %.1f us/handshake\n", with_ticket, server_s / n * 1e6);
	SSL_CTX_free(client_ctx);
	SSL_CTX_free(server_ctx);
	return with_ticket == 0 ? 0 : 1;
}
