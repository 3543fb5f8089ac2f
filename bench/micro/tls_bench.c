/* Micro-benchmark of a tls listener's handshakes (lib/tls_server.c,
 * lib/tls_end.c): the server side's time per handshake on one thread,
 * as a worker runs it (nlb's server and its TLS end: bytes fed, the
 * handshake stepped, what it owes taken from the send queue), with the
 * client in the same thread on memory BIOs and its time left out.  No
 * socket and no system call: what is left is the library's own cost, the
 * floor for any balancer on this OpenSSL before the kernel moves a byte
 * (doc/performance.md, "What bounds the handshake goal").
 *
 * Cases: a full TLS 1.3 handshake with session_tickets = 0 and 2, one
 * resumed from a ticket, a full TLS 1.2 handshake, and a full TLS 1.3
 * handshake on an RSA-2048 certificate; the others on ECDSA P-256.  The
 * client is OpenSSL's default (X25519, AES-256 first: the server's order
 * gives AES-128).  Certificates come from `openssl req` in a temp dir.
 * Built by `make` as build/tls-bench; run it without arguments (or with
 * the handshakes per run, fewer under valgrind).  Each figure is the
 * median of several runs, in microseconds per handshake and handshakes
 * per second of the server's thread. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro.h"
#include "tls_end.h"
#include "tls_server.h"

#define WARMUP     50
#define REPEAT     5

/* Makes dir/name.pem and dir/name.key: self-signed, "ec" (P-256) or
 * "rsa" (2048 bits).  0 or -1. */
static int make_cert(const char *dir, const char *name, const char *key)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey %s -pkeyopt %s -nodes -days 2 -subj /CN=bench "
		 "-keyout %s/%s.key -out %s/%s.pem 2>/dev/null",
		 key, strcmp(key, "ec") == 0 ? "ec_paramgen_curve:P-256" : "rsa_keygen_bits:2048",
		 dir, name, dir, name);
	return system(cmd) == 0 ? 0 : -1;
}

struct tls_case {
	const char *name;
	const char *cert;		/* "ec" or "rsa" */
	uint32_t tickets;
	int client_max;			/* TLS1_3_VERSION or TLS1_2_VERSION */
	bool resume;			/* offer the session the warm-up got */
};

/* Moves everything the client's out BIO holds to the server's end. */
static int client_to_server(BIO *cout, struct nlb_tls_end *e)
{
	char buf[16384];
	int n;
	while ((n = BIO_read(cout, buf, sizeof(buf))) > 0)
		if (nlb_tls_end_feed(e, buf, (uint32_t)n) < 0)
			return -1;
	return 0;
}

/* Moves what the server's end owes to the client's in BIO, as the
 * worker's sends would. */
static int server_to_client(struct nlb_tls_end *e, struct nlb_tls_pool *pool, BIO *cin)
{
	const uint8_t *buf;
	uint32_t n;
	bool nomem = false;
	while (nlb_tls_end_next_send(e, pool, &buf, &n, &nomem)) {
		if (BIO_write(cin, buf, (int)n) != (int)n)
			return -1;
		nlb_tls_end_sent(e, pool, n);
	}
	return nomem ? -1 : 0;
}

/* One handshake; its server-side nanoseconds into *ns.  0 or -1. */
static int handshake(struct nlb_tls_server *srv, SSL_CTX *cctx, SSL_SESSION *offer,
		     SSL_SESSION **got, struct nlb_tls_pool *pool, uint64_t *ns)
{
	SSL *cs = SSL_new(cctx);
	BIO *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
	if (!cs || !cin || !cout) {
		SSL_free(cs);
		BIO_free(cin);
		BIO_free(cout);
		return -1;
	}
	SSL_set_bio(cs, cin, cout);
	SSL_set_connect_state(cs);
	if (offer)
		SSL_set_session(cs, offer);

	uint64_t t0 = now_ns();
	struct nlb_tls_end e;
	int ret = -1, sr = 0;
	if (nlb_tls_end_init(&e) < 0)
		goto out_client;
	SSL *ss = nlb_tls_server_ssl(srv);
	if (!ss || nlb_tls_end_attach(&e, ss) < 0)
		goto out;
	*ns += now_ns() - t0;
	for (int step = 0; step < 8; step++) {
		int cr = SSL_do_handshake(cs);
		if (cr != 1 && SSL_get_error(cs, cr) != SSL_ERROR_WANT_READ)
			break;
		t0 = now_ns();
		uint8_t fail = 0;
		if (client_to_server(cout, &e) < 0)
			break;
		sr = nlb_tls_end_handshake(&e, &fail);
		int moved = server_to_client(&e, pool, cin);
		*ns += now_ns() - t0;
		if (sr < 0 || moved < 0)
			break;
		/* The client reads the server's last flight (and a TLS 1.3
		 * ticket, which comes after the handshake). */
		if (sr == 1 && SSL_is_init_finished(cs)) {
			char b;
			SSL_read(cs, &b, 1);
			ret = 0;
			break;
		}
	}
out:
	t0 = now_ns();
	nlb_tls_end_fini(&e, pool);
	*ns += now_ns() - t0;
out_client:
	if (ret == 0 && offer && !SSL_session_reused(cs))
		ret = -1;	/* the resumed case must resume */
	if (ret == 0 && got) {
		SSL_SESSION_free(*got);
		*got = SSL_get1_session(cs);
	}
	/* Freed as closed: OpenSSL marks the session of a connection freed
	 * mid-way unresumable. */
	SSL_set_shutdown(cs, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(cs);
	return ret;
}

static int run_case(const char *dir, const struct tls_case *tc, int handshakes)
{
	char cert[256], key[256];
	snprintf(cert, sizeof(cert), "%s/%s.pem", dir, tc->cert);
	snprintf(key, sizeof(key), "%s/%s.key", dir, tc->cert);
	struct nlb_tls_cert_conf cc = { .cert = cert, .key = key, .line = 1 };
	struct nlb_tls_listener_conf conf = {
		.certs = &cc, .n_certs = 1, .policy = NLB_TLS_POLICY_13_12,
		.session_tickets = tc->tickets, .line = 1,
	};
	struct nlb_tls_server *srv = NULL;
	char err[512] = "";
	int line = 0;
	if (nlb_tls_server_new(&conf, &srv, err, sizeof(err), &line) < 0) {
		fprintf(stderr, "tls-bench: %s\n", err);
		return -1;
	}
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	if (!cctx) {
		nlb_tls_server_free(srv);
		return -1;
	}
	SSL_CTX_set_max_proto_version(cctx, tc->client_max);
	struct nlb_tls_pool pool = { 0 };
	SSL_SESSION *sess = NULL;
	double us[REPEAT];
	const char *why = NULL;
	uint64_t ns = 0;
	for (int i = 0; i < WARMUP && !why; i++)
		if (handshake(srv, cctx, NULL, &sess, &pool, &ns) < 0)
			why = "a handshake failed";
	/* The case is what it says: a ticket exactly when tickets are sent. */
	if (!why && (SSL_SESSION_is_resumable(sess) == 1) != (tc->tickets > 0))
		why = tc->tickets > 0 ? "the client got no ticket" : "the client got a ticket";
	for (int r = 0; r < REPEAT && !why; r++) {
		ns = 0;
		for (int i = 0; i < handshakes && !why; i++)
			if (handshake(srv, cctx, tc->resume ? sess : NULL, NULL, &pool, &ns) < 0)
				why = tc->resume ? "a handshake failed or did not resume"
						 : "a handshake failed";
		us[r] = (double)ns / handshakes / 1000.0;
	}
	if (!why) {
		double m = micro_median(us, REPEAT);
		printf("%-34s %9.1f %12.0f\n", tc->name, m, 1e6 / m);
	} else {
		fprintf(stderr, "tls-bench: %s: %s\n", tc->name, why);
		ERR_print_errors_fp(stderr);
	}
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	nlb_tls_server_free(srv);
	nlb_tls_pool_drain(&pool);
	return why ? -1 : 0;
}

int main(int argc, char **argv)
{
	int handshakes = argc > 1 ? atoi(argv[1]) : 1000;
	if (handshakes <= 0) {
		fprintf(stderr, "usage: tls-bench [handshakes per run]\n");
		return 2;
	}
	char dir[] = "/tmp/nlb-tls-bench-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("tls-bench: mkdtemp");
		return 1;
	}
	int ret = 0;
	if (make_cert(dir, "ec", "ec") < 0 || make_cert(dir, "rsa", "rsa") < 0) {
		fprintf(stderr, "tls-bench: openssl req failed\n");
		ret = 1;
	}
	static const struct tls_case cases[] = {
		{ "TLS 1.3 full, no tickets", "ec", 0, TLS1_3_VERSION, false },
		{ "TLS 1.3 full, 2 tickets", "ec", 2, TLS1_3_VERSION, false },
		{ "TLS 1.3 resumed (ticket)", "ec", 2, TLS1_3_VERSION, true },
		{ "TLS 1.2 full, no tickets", "ec", 0, TLS1_2_VERSION, false },
		{ "TLS 1.3 full, RSA-2048, no tickets", "rsa", 0, TLS1_3_VERSION, false },
	};
	if (ret == 0) {
		printf("%s: server side, %d handshakes x %d, median\n", OpenSSL_version(OPENSSL_VERSION),
		       handshakes, REPEAT);
		printf("%-34s %9s %12s\n", "case", "us/hs", "hs/s");
	}
	for (size_t i = 0; ret == 0 && i < sizeof(cases) / sizeof(cases[0]); i++)
		if (run_case(dir, &cases[i], handshakes) < 0)
			ret = 1;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
