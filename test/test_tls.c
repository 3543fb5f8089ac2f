/* Suite "tls": the TLS listener's server side (lib/tls_server.c), the
 * target groups' client side (lib/tls_client.c) and the handshake
 * failure classes (lib/tls_error.c), with certificates made at run time
 * by `openssl req` and handshakes run in memory: each SSL gets memory
 * BIOs and the test moves the bytes between them, so no socket and no
 * peer process is involved.
 *
 * Checked: load errors name the file and the configuration line; what
 * nlb_tls_server_cert says of each certificate; SNI picks the exact
 * name, then the wildcard, else the default, and RSA beside ECDSA by the
 * client's signature algorithms; the policies' versions and TLS 1.2
 * suites; ALPN; session tickets resume on the same server, across two
 * servers sharing a ticket_keys file (also under its second key) and not
 * across two without one; a TLS 1.2 renegotiation attempt is seen, a TLS
 * 1.3 KeyUpdate is not; plain HTTP is not_tls; the client verifies the
 * name or the address against its CA, and without a CA accepts any
 * certificate. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_client.h"
#include "tls_error.h"
#include "tls_server.h"
#include "tls_ticket_keys.h"
#include "helpers.h"

TestSuite(tls, .timeout = 60);

/* ---- certificates and configurations in a temp directory ------------ */

#define FX_MAX 6

/* A temp directory, the certificates made in it, and a listener's
 * configuration listing them: certificate i on line 10 + i, tls itself
 * on line 5. */
struct fx {
	char dir[64];
	char cert[FX_MAX][256], key[FX_MAX][256];
	struct nlb_tls_cert_conf certs[FX_MAX];
	struct nlb_tls_listener_conf conf;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/nlb-test-tls-XXXXXX");
	T_ASSERT(mkdtemp(f->dir) != NULL, ": mkdtemp: %s", strerror(errno));
	f->conf.certs = f->certs;
	f->conf.line = 5;
	f->conf.session_tickets = 2;	/* the loader's default */
}

static void fx_remove(struct fx *f)
{
	DIR *d = opendir(f->dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char p[384];
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
}

/* f->dir/name into buf. */
static const char *fx_path(const struct fx *f, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", f->dir, name);
	return buf;
}

/* Makes name.pem and name.key in f->dir: a self-signed certificate for
 * CN=cn, valid 30 days, with subjectAltName san (NULL: none), its key
 * "ec" (P-256) or "rsa" (2048 bits). */
static void make_cert(const struct fx *f, const char *name, const char *key, const char *cn,
		      const char *san)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey %s -nodes -subj /CN=%s %s%s -days 30 "
		 "-keyout %s/%s.key -out %s/%s.pem 2>/dev/null",
		 strcmp(key, "ec") == 0 ? "ec -pkeyopt ec_paramgen_curve:P-256" : "rsa:2048", cn,
		 san != NULL ? "-addext subjectAltName=" : "", san != NULL ? san : "", f->dir, name,
		 f->dir, name);
	T_ASSERT(system(cmd) == 0, ": %s", cmd);
}

/* Lists name.pem and name.key as the next certificate. */
static void fx_list(struct fx *f, const char *name)
{
	size_t i = f->conf.n_certs;
	char file[128], path[sizeof(f->cert[i])];
	T_ASSERT(i < FX_MAX);
	/* Through a local buffer: gcc's -Wrestrict sees f->dir and
	 * f->cert[i] as one object. */
	snprintf(file, sizeof(file), "%s.pem", name);
	memcpy(f->cert[i], fx_path(f, file, path, sizeof(path)), sizeof(path));
	snprintf(file, sizeof(file), "%s.key", name);
	memcpy(f->key[i], fx_path(f, file, path, sizeof(path)), sizeof(path));
	f->certs[i] = (struct nlb_tls_cert_conf){ f->cert[i], f->key[i], 10 + (int)i };
	f->conf.n_certs = i + 1;
}

static void fx_cert(struct fx *f, const char *name, const char *key, const char *cn,
		    const char *san)
{
	make_cert(f, name, key, cn, san);
	fx_list(f, name);
}

#define SAN_A "DNS:a.test,DNS:*.w.test"

/* The usual three: the default (EC, default.test), then ECDSA and RSA
 * certificates for a.test and *.w.test, which share one SSL_CTX. */
static void fx_three(struct fx *f)
{
	fx_init(f);
	fx_cert(f, "dflt", "ec", "dflt", "DNS:default.test");
	fx_cert(f, "eca", "ec", "ec-a", SAN_A);
	fx_cert(f, "rsaa", "rsa", "rsa-a", SAN_A);
}

static struct nlb_tls_server *server_new(const struct nlb_tls_listener_conf *conf)
{
	struct nlb_tls_server *s = NULL;
	char err[512] = "";
	int line = -1;
	int r = nlb_tls_server_new(conf, &s, err, sizeof(err), &line);
	T_ASSERT(r == 0 && s != NULL, ": %d, %s (line %d)", r, err, line);
	return s;
}

/* nlb_tls_server_new's failure: its result, err and line. */
static int server_fails(const struct nlb_tls_listener_conf *conf, char *err, size_t errlen,
			int *line)
{
	struct nlb_tls_server *s = NULL;
	err[0] = '\0';
	*line = -1;
	int r = nlb_tls_server_new(conf, &s, err, errlen, line);
	cr_expect_null(s);
	nlb_tls_server_free(s);
	return r;
}

/* A ticket key file of n keys of len bytes (80 or 48), key i filled
 * from seeds[i] so that equal seeds make equal keys. */
static void write_ticket_keys(const char *path, const int *seeds, size_t n, size_t len)
{
	FILE *fp = fopen(path, "w");
	T_ASSERT(fp != NULL, ": %s: %s", path, strerror(errno));
	fprintf(fp, "# test keys\n");
	for (size_t i = 0; i < n; i++) {
		unsigned char raw[80], b64[112];
		for (size_t k = 0; k < len; k++)
			raw[k] = (unsigned char)(seeds[i] * 31 + (int)k);
		EVP_EncodeBlock(b64, raw, (int)len);
		fprintf(fp, "%s\n", b64);
	}
	T_ASSERT(fclose(fp) == 0);
}

/* ---- in-memory handshakes ------------------------------------------ */

/* Gives ssl two memory BIOs; an empty one means "no bytes yet" (-1,
 * retry), not end of stream. */
static void set_bios(SSL *ssl)
{
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
	T_ASSERT(r != NULL && w != NULL);
	BIO_set_mem_eof_return(r, -1);
	BIO_set_mem_eof_return(w, -1);
	SSL_set_bio(ssl, r, w);
}

/* Moves what from has written into to's input; the bytes moved. */
static size_t move(SSL *from, SSL *to)
{
	char buf[4096];
	size_t total = 0;
	int n;
	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0) {
		T_ASSERT(BIO_write(SSL_get_rbio(to), buf, n) == n);
		total += (size_t)n;
	}
	return total;
}

struct hs {
	SSL *c, *s;
	int c_done, s_done;		/* 1 finished, -1 failed, 0 not yet */
	enum nlb_tls_fail c_fail, s_fail;	/* when failed */
};

static void hs_init(struct hs *h, SSL *c, SSL *s)
{
	T_ASSERT(c != NULL && s != NULL);
	memset(h, 0, sizeof(*h));
	h->c = c;
	h->s = s;
	set_bios(c);
	set_bios(s);
}

static void hs_free(struct hs *h)
{
	SSL_free(h->c);
	SSL_free(h->s);
}

/* One handshake call on one side.  A failure is classified at once:
 * both sides share this thread's error queue. */
static bool step(SSL *ssl, int *done, enum nlb_tls_fail *why)
{
	if (*done != 0)
		return false;
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	if (r == 1) {
		*done = 1;
		return true;
	}
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return false;
	*why = nlb_tls_fail_classify(ssl, e);
	*done = -1;
	return true;
}

/* Runs both sides until neither moves: both finished, or one failed
 * (and the other, given the alert, too or still waiting). */
static void pump(struct hs *h)
{
	for (int round = 0; round < 100; round++) {
		bool changed = step(h->c, &h->c_done, &h->c_fail);
		size_t moved = move(h->c, h->s);
		changed |= step(h->s, &h->s_done, &h->s_fail);
		moved += move(h->s, h->c);
		if (!changed && moved == 0)
			return;
	}
	T_ASSERT(0, ": the handshake never settled");
}

/* Lets the client read what the server sent after its handshake (TLS
 * 1.3 tickets); nothing of the application's is expected. */
static void client_reads(struct hs *h)
{
	char b;
	move(h->s, h->c);
	ERR_clear_error();
	int r = SSL_read(h->c, &b, 1);
	T_ASSERT(r <= 0 && SSL_get_error(h->c, r) == SSL_ERROR_WANT_READ);
}

static SSL_CTX *client_ctx(int max_version, const char *ciphers12)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	T_ASSERT(ctx != NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (max_version != 0)
		T_ASSERT(SSL_CTX_set_max_proto_version(ctx, max_version) == 1);
	if (ciphers12 != NULL)
		T_ASSERT(SSL_CTX_set_cipher_list(ctx, ciphers12) == 1);
	return ctx;
}

static SSL *client_ssl(SSL_CTX *ctx, const char *sni)
{
	SSL *c = SSL_new(ctx);
	T_ASSERT(c != NULL);
	SSL_set_connect_state(c);
	if (sni != NULL)
		T_ASSERT(SSL_set_tlsext_host_name(c, sni) == 1);
	return c;
}

/* The CN of the certificate the client was shown, "" for none. */
static void peer_cn(SSL *c, char *buf, int len)
{
	X509 *x = SSL_get0_peer_certificate(c);
	buf[0] = '\0';
	if (x != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, len);
}

/* ---- loading ------------------------------------------------------- */

T_UNIT(tls, load_errors)
{
	struct fx f;
	char err[512], p[256], p2[256];
	int line, r;

	fx_init(&f);
	make_cert(&f, "dflt", "ec", "dflt", "DNS:default.test");
	make_cert(&f, "eca", "ec", "ec-a", SAN_A);
	make_cert(&f, "eca2", "ec", "ec-a2", "DNS:*.w.test,DNS:A.test");

	/* No certificate at all. */
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d", r);
	cr_expect_eq(line, 5);

	/* A missing certificate: its path and its entry's line. */
	fx_list(&f, "dflt");
	fx_list(&f, "nosuch");
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -ENOENT, "%d: %s", r, err);
	cr_expect_eq(line, 11);
	cr_expect(strstr(err, f.cert[1]) != NULL && strstr(err, "cannot read") != NULL, "%s", err);
	cr_expect(strncmp(err, "tls: certificate ", 17) == 0, "%s", err);

	/* A missing key. */
	snprintf(f.cert[1], sizeof(f.cert[1]), "%s", fx_path(&f, "eca.pem", p, sizeof(p)));
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -ENOENT, "%d: %s", r, err);
	cr_expect_eq(line, 11);
	cr_expect(strstr(err, f.key[1]) != NULL && strstr(err, "tls: key ") != NULL, "%s", err);

	/* A key of another certificate. */
	snprintf(f.key[1], sizeof(f.key[1]), "%s", fx_path(&f, "dflt.key", p, sizeof(p)));
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect_eq(line, 11);
	cr_expect(strstr(err, "does not match") != NULL, "%s", err);

	/* A key where the certificate should be. */
	snprintf(f.cert[1], sizeof(f.cert[1]), "%s", fx_path(&f, "eca.key", p, sizeof(p)));
	snprintf(f.key[1], sizeof(f.key[1]), "%s", fx_path(&f, "eca.key", p, sizeof(p)));
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect(strstr(err, "not a PEM certificate") != NULL, "%s", err);

	/* A certificate where the key should be. */
	snprintf(f.cert[1], sizeof(f.cert[1]), "%s", fx_path(&f, "eca.pem", p, sizeof(p)));
	snprintf(f.key[1], sizeof(f.key[1]), "%s", fx_path(&f, "eca.pem", p, sizeof(p)));
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect(strstr(err, "not a PEM private key") != NULL, "%s", err);

	/* A directory, and a FIFO (which must not hang the load). */
	snprintf(f.cert[1], sizeof(f.cert[1]), "%s", f.dir);
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EISDIR, "%d: %s", r, err);
	T_ASSERT(mkfifo(fx_path(&f, "fifo", p, sizeof(p)), 0600) == 0);
	snprintf(f.cert[1], sizeof(f.cert[1]), "%s", p);
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);

	/* The same names (in another order and case) and key type twice. */
	f.conf.n_certs = 1;
	fx_list(&f, "eca");
	fx_list(&f, "eca2");
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect_eq(line, 12);
	cr_expect(strstr(err, "line 11") != NULL, "%s", err);

	/* Ticket keys: errors on tls's own line. */
	f.conf.n_certs = 2;
	fx_path(&f, "nosuch.keys", p2, sizeof(p2));
	f.conf.ticket_keys = p2;
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -ENOENT, "%d: %s", r, err);
	cr_expect_eq(line, 5);
	cr_expect(strstr(err, p2) != NULL, "%s", err);

	FILE *fp = fopen(fx_path(&f, "bad.keys", p2, sizeof(p2)), "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "# one bad key\nnot base64\n");
	fclose(fp);
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect_eq(line, 5);
	cr_expect(strstr(err, "line 2") != NULL, "%s", err);

	fp = fopen(p2, "w");
	T_ASSERT(fp != NULL);
	fclose(fp);
	r = server_fails(&f.conf, err, sizeof(err), &line);
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect(strstr(err, "no key") != NULL, "%s", err);

	/* The queue is left empty for the next connection on this thread. */
	cr_expect_eq(ERR_peek_error(), 0ul);
	fx_remove(&f);
}

T_UNIT(tls, cert_info)
{
	struct fx f;
	fx_three(&f);
	fx_cert(&f, "nosan", "ec", "no-san", NULL);
	struct nlb_tls_server *s = server_new(&f.conf);
	time_t now = time(NULL);

	cr_assert_eq(nlb_tls_server_n_certs(s), 4);
	cr_expect_null(nlb_tls_server_cert(s, 4));
	const struct {
		const char *subject, *names, *key_type;
	} want[] = {
		{ "CN=dflt", "default.test", "EC-P-256" },
		{ "CN=ec-a", "a.test,*.w.test", "EC-P-256" },
		{ "CN=rsa-a", "a.test,*.w.test", "RSA-2048" },
		{ "CN=no-san", "", "EC-P-256" },
	};
	for (size_t i = 0; i < 4; i++) {
		const struct nlb_tls_cert_info *ci = nlb_tls_server_cert(s, i);
		cr_assert_not_null(ci);
		cr_expect_str_eq(ci->file, f.cert[i]);
		cr_expect_eq(ci->line, 10 + (int)i);
		cr_expect_str_eq(ci->subject, want[i].subject);
		cr_expect_str_eq(ci->names, want[i].names);
		cr_expect_str_eq(ci->key_type, want[i].key_type);
		int64_t days30 = (int64_t)now + 30 * 86400;
		cr_expect(ci->not_after > days30 - 86400 && ci->not_after < days30 + 86400,
			  "cert %zu: not_after %lld, now %lld", i, (long long)ci->not_after,
			  (long long)now);
	}
	nlb_tls_server_free(s);
	nlb_tls_server_free(NULL);
	fx_remove(&f);
}

/* ---- SNI --------------------------------------------------------------- */

/* The CN the client is shown for sni (NULL: none) with sigalgs (NULL:
 * OpenSSL's), and the server's failure class, -1 on success. */
static int shown_cn(struct nlb_tls_server *s, SSL_CTX *cctx, const char *sni,
		    const char *sigalgs, char *cn, int len)
{
	struct hs h;
	hs_init(&h, client_ssl(cctx, sni), nlb_tls_server_ssl(s));
	if (sigalgs != NULL)
		T_ASSERT(SSL_set1_sigalgs_list(h.c, sigalgs) == 1);
	pump(&h);
	int r = h.s_done == 1 && h.c_done == 1 ? -1 : (int)h.s_fail;
	peer_cn(h.c, cn, len);
	hs_free(&h);
	return r;
}

#define RSA_ONLY "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256"

T_UNIT(tls, sni_picks_certificate)
{
	static const struct {
		const char *sni, *sigalgs, *cn;
	} cases[] = {
		{ "a.test", NULL, "ec-a" },
		{ "A.Test", NULL, "ec-a" },		/* case-insensitive */
		{ "a.test", RSA_ONLY, "rsa-a" },	/* RSA beside ECDSA */
		{ "x.w.test", NULL, "ec-a" },		/* wildcard */
		{ "x.w.test", RSA_ONLY, "rsa-a" },
		{ "default.test", NULL, "dflt" },
		{ "y.x.w.test", NULL, "dflt" },		/* one label only */
		{ "w.test", NULL, "dflt" },
		{ "unknown.test", NULL, "dflt" },
		{ NULL, NULL, "dflt" },			/* no SNI */
	};
	struct fx f;
	fx_three(&f);
	struct nlb_tls_server *s = server_new(&f.conf);
	SSL_CTX *c13 = client_ctx(0, NULL), *c12 = client_ctx(TLS1_2_VERSION, NULL);

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		for (int v = 0; v < 2; v++) {
			const char *sni = cases[k].sni != NULL ? cases[k].sni : "(no SNI)";
			char cn[64];
			int r = shown_cn(s, v ? c12 : c13, cases[k].sni, cases[k].sigalgs, cn,
					 sizeof(cn));
			cr_expect_eq(r, -1, "%s, TLS 1.%d: failed (%s)", sni, v ? 2 : 3,
				     r >= 0 ? nlb_tls_fail_name((enum nlb_tls_fail)r) : "");
			cr_expect_str_eq(cn, cases[k].cn, "%s, TLS 1.%d", sni, v ? 2 : 3);
		}

	/* The default has no RSA certificate: nothing to sign with. */
	char cn[64];
	int r = shown_cn(s, c13, "unknown.test", RSA_ONLY, cn, sizeof(cn));
	cr_expect_eq(r, NLB_TLS_FAIL_CIPHER, "%d", r);

	SSL_CTX_free(c13);
	SSL_CTX_free(c12);
	nlb_tls_server_free(s);
	fx_remove(&f);
}

/* ---- policy ------------------------------------------------------------ */

/* A handshake of a client from cctx with s: the server's class, -1 on
 * success; the TLS version and cipher agreed in ver and cipher. */
static int handshake(struct nlb_tls_server *s, SSL_CTX *cctx, int *ver, char *cipher,
		     size_t len)
{
	struct hs h;
	hs_init(&h, client_ssl(cctx, NULL), nlb_tls_server_ssl(s));
	pump(&h);
	int r = h.s_done == 1 && h.c_done == 1 ? -1 : (int)h.s_fail;
	if (ver != NULL)
		*ver = SSL_version(h.s);
	if (cipher != NULL)
		snprintf(cipher, len, "%s", r == -1 ? SSL_get_cipher_name(h.s) : "");
	hs_free(&h);
	return r;
}

#define CBC_ONLY "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:" \
		 "ECDHE-RSA-AES256-SHA384"

T_UNIT(tls, policies)
{
	struct fx f;
	fx_init(&f);
	fx_cert(&f, "eca", "ec", "ec-a", SAN_A);
	SSL_CTX *c13 = client_ctx(0, NULL), *c12 = client_ctx(TLS1_2_VERSION, NULL);
	SSL_CTX *cbc = client_ctx(TLS1_2_VERSION, CBC_ONLY);
	/* TLS 1.0 and 1.1 need security level 0 in OpenSSL 3. */
	SSL_CTX *c11 = client_ctx(TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0");
	T_ASSERT(SSL_CTX_set_min_proto_version(c11, TLS1_VERSION) == 1);
	char cipher[64];
	int ver, r;

	/* tls13-12: 1.3, or 1.2 with AEAD; no CBC, no 1.1. */
	f.conf.policy = NLB_TLS_POLICY_13_12;
	struct nlb_tls_server *s = server_new(&f.conf);
	cr_expect_eq(handshake(s, c13, &ver, NULL, 0), -1);
	cr_expect_eq(ver, TLS1_3_VERSION);
	cr_expect_eq(handshake(s, c12, &ver, cipher, sizeof(cipher)), -1);
	cr_expect_eq(ver, TLS1_2_VERSION);
	cr_expect(strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA") != NULL, "%s", cipher);
	r = handshake(s, cbc, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_CIPHER, "%s", r >= 0 ? nlb_tls_fail_name(r) : "passed");
	r = handshake(s, c11, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERSION, "%s", r >= 0 ? nlb_tls_fail_name(r) : "passed");
	nlb_tls_server_free(s);

	/* tls13-only: 1.2 is refused. */
	f.conf.policy = NLB_TLS_POLICY_13_ONLY;
	s = server_new(&f.conf);
	cr_expect_eq(handshake(s, c13, &ver, NULL, 0), -1);
	r = handshake(s, c12, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERSION, "%s", r >= 0 ? nlb_tls_fail_name(r) : "passed");
	nlb_tls_server_free(s);

	/* compat: CBC suites too, and still not 1.1. */
	f.conf.policy = NLB_TLS_POLICY_COMPAT;
	s = server_new(&f.conf);
	cr_expect_eq(handshake(s, cbc, &ver, cipher, sizeof(cipher)), -1);
	cr_expect_eq(ver, TLS1_2_VERSION);
	cr_expect(strstr(cipher, "GCM") == NULL && strstr(cipher, "AES") != NULL, "%s", cipher);
	cr_expect_eq(handshake(s, c12, &ver, cipher, sizeof(cipher)), -1);
	cr_expect(strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA") != NULL, "%s", cipher);
	r = handshake(s, c11, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERSION, "%s", r >= 0 ? nlb_tls_fail_name(r) : "passed");
	nlb_tls_server_free(s);

	SSL_CTX_free(c13);
	SSL_CTX_free(c12);
	SSL_CTX_free(cbc);
	SSL_CTX_free(c11);
	fx_remove(&f);
}

/* The server's order: AES-128-GCM first in TLS 1.3 and 1.2, whatever the
 * client prefers (OpenSSL's own clients put AES-256 first), but ChaCha20
 * for a client that puts it first. */
T_UNIT(tls, cipher_order)
{
	struct fx f;
	fx_init(&f);
	fx_cert(&f, "eca", "ec", "ec-a", SAN_A);
	SSL_CTX *c13 = client_ctx(0, NULL), *c12 = client_ctx(TLS1_2_VERSION, NULL);
	SSL_CTX *cha13 = client_ctx(0, NULL);
	SSL_CTX *cha12 = client_ctx(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305:"
				    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256");
	T_ASSERT(SSL_CTX_set_ciphersuites(cha13, "TLS_CHACHA20_POLY1305_SHA256:"
					  "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256") == 1);
	const enum nlb_tls_policy policies[] = { NLB_TLS_POLICY_13_12, NLB_TLS_POLICY_COMPAT };
	char cipher[64];
	for (size_t i = 0; i < 2; i++) {
		f.conf.policy = policies[i];
		struct nlb_tls_server *s = server_new(&f.conf);
		cr_expect_eq(handshake(s, c13, NULL, cipher, sizeof(cipher)), -1);
		cr_expect_str_eq(cipher, "TLS_AES_128_GCM_SHA256", "policy %zu", i);
		cr_expect_eq(handshake(s, c12, NULL, cipher, sizeof(cipher)), -1);
		cr_expect_str_eq(cipher, "ECDHE-ECDSA-AES128-GCM-SHA256", "policy %zu", i);
		cr_expect_eq(handshake(s, cha13, NULL, cipher, sizeof(cipher)), -1);
		cr_expect_str_eq(cipher, "TLS_CHACHA20_POLY1305_SHA256", "policy %zu", i);
		cr_expect_eq(handshake(s, cha12, NULL, cipher, sizeof(cipher)), -1);
		cr_expect_str_eq(cipher, "ECDHE-ECDSA-CHACHA20-POLY1305", "policy %zu", i);
		nlb_tls_server_free(s);
	}
	SSL_CTX_free(c13);
	SSL_CTX_free(c12);
	SSL_CTX_free(cha13);
	SSL_CTX_free(cha12);
	fx_remove(&f);
}

/* ---- ALPN ------------------------------------------------------------- */

/* The protocol the server picked from the client's list (wire form),
 * "" for none. */
static void alpn_of(struct nlb_tls_server *s, SSL_CTX *cctx, const char *offer, size_t len,
		    char *out, size_t outlen)
{
	struct hs h;
	hs_init(&h, client_ssl(cctx, NULL), nlb_tls_server_ssl(s));
	T_ASSERT(SSL_set_alpn_protos(h.c, (const unsigned char *)offer, (unsigned)len) == 0);
	pump(&h);
	T_ASSERT(h.c_done == 1 && h.s_done == 1);
	const unsigned char *p;
	unsigned n;
	SSL_get0_alpn_selected(h.c, &p, &n);
	snprintf(out, outlen, "%.*s", (int)n, n ? (const char *)p : "");
	hs_free(&h);
}

#define OFFER(lit) lit, sizeof(lit) - 1

T_UNIT(tls, alpn)
{
	struct fx f;
	fx_init(&f);
	fx_cert(&f, "eca", "ec", "ec-a", SAN_A);
	SSL_CTX *cctx = client_ctx(0, NULL);
	char got[32];

	f.conf.alpn = NLB_TLS_ALPN_HTTP1_ONLY;
	struct nlb_tls_server *s = server_new(&f.conf);
	alpn_of(s, cctx, OFFER("\x02h2\x08http/1.1"), got, sizeof(got));
	cr_expect_str_eq(got, "http/1.1");
	alpn_of(s, cctx, OFFER("\x08http/1.0\x02h2\x08http/1.1"), got, sizeof(got));
	cr_expect_str_eq(got, "http/1.1");
	alpn_of(s, cctx, OFFER("\x08http/1.0\x02h2"), got, sizeof(got));
	cr_expect_str_eq(got, "http/1.0");
	alpn_of(s, cctx, OFFER("\x02h2"), got, sizeof(got));
	cr_expect_str_eq(got, "");
	nlb_tls_server_free(s);

	f.conf.alpn = NLB_TLS_ALPN_NONE;
	s = server_new(&f.conf);
	alpn_of(s, cctx, OFFER("\x02h2\x08http/1.1"), got, sizeof(got));
	cr_expect_str_eq(got, "");
	nlb_tls_server_free(s);

	SSL_CTX_free(cctx);
	fx_remove(&f);
}

/* ---- session tickets ----------------------------------------------------- */

/* A handshake with s offering resume (NULL: none): whether it resumed,
 * and the session to resume next time. */
static SSL_SESSION *session_with(struct nlb_tls_server *s, SSL_CTX *cctx, SSL_SESSION *resume,
				 bool *reused)
{
	struct hs h;
	hs_init(&h, client_ssl(cctx, "a.test"), nlb_tls_server_ssl(s));
	if (resume != NULL)
		T_ASSERT(SSL_set_session(h.c, resume) == 1);
	pump(&h);
	T_ASSERT(h.c_done == 1 && h.s_done == 1, ": server %s, client %s",
		 h.s_done < 0 ? nlb_tls_fail_name(h.s_fail) : "-",
		 h.c_done < 0 ? nlb_tls_fail_name(h.c_fail) : "-");
	*reused = SSL_session_reused(h.c) == 1;
	client_reads(&h);
	/* Closed properly: OpenSSL marks the session of an SSL freed
	 * without a shutdown as not resumable. */
	T_ASSERT(SSL_shutdown(h.c) >= 0);
	SSL_SESSION *sess = SSL_get1_session(h.c);
	hs_free(&h);
	T_ASSERT(sess != NULL && SSL_SESSION_is_resumable(sess));
	return sess;
}

/* Whether a session from a resumes on b. */
static bool resumes(struct nlb_tls_server *a, struct nlb_tls_server *b, SSL_CTX *cctx)
{
	bool reused;
	SSL_SESSION *first = session_with(a, cctx, NULL, &reused);
	cr_expect(!reused);
	SSL_SESSION *second = session_with(b, cctx, first, &reused);
	SSL_SESSION_free(first);
	SSL_SESSION_free(second);
	return reused;
}

T_UNIT(tls, tickets_resume)
{
	struct fx f;
	char k1[256], k21[256], k12[256], k3[256], k48[256];
	fx_three(&f);
	SSL_CTX *cctx[2] = { client_ctx(0, NULL), client_ctx(TLS1_2_VERSION, NULL) };

	write_ticket_keys(fx_path(&f, "k1", k1, sizeof(k1)), (const int[]){ 1 }, 1, 80);
	write_ticket_keys(fx_path(&f, "k12", k12, sizeof(k12)), (const int[]){ 1, 2 }, 2, 80);
	write_ticket_keys(fx_path(&f, "k21", k21, sizeof(k21)), (const int[]){ 2, 1 }, 2, 80);
	write_ticket_keys(fx_path(&f, "k3", k3, sizeof(k3)), (const int[]){ 3 }, 1, 80);
	write_ticket_keys(fx_path(&f, "k48", k48, sizeof(k48)), (const int[]){ 4, 5 }, 2, 48);

	for (int v = 0; v < 2; v++) {
		const char *ver = v ? "TLS 1.2" : "TLS 1.3";
		/* Keys of this process: the same server resumes, another not. */
		f.conf.ticket_keys = NULL;
		struct nlb_tls_server *a = server_new(&f.conf), *b = server_new(&f.conf);
		cr_expect(resumes(a, a, cctx[v]), "%s: same server", ver);
		cr_expect(!resumes(a, b, cctx[v]), "%s: servers with keys of their own", ver);
		nlb_tls_server_free(a);
		nlb_tls_server_free(b);

		/* One file, two servers (two hosts, or a reload). */
		f.conf.ticket_keys = k1;
		a = server_new(&f.conf);
		b = server_new(&f.conf);
		cr_expect(resumes(a, b, cctx[v]), "%s: one ticket_keys file", ver);
		nlb_tls_server_free(b);
		/* A rotation: k1 second in b's file still decrypts; k3 alone not. */
		f.conf.ticket_keys = k21;
		b = server_new(&f.conf);
		cr_expect(resumes(a, b, cctx[v]), "%s: the ticket's key second", ver);
		nlb_tls_server_free(b);
		f.conf.ticket_keys = k12;
		b = server_new(&f.conf);
		cr_expect(resumes(a, b, cctx[v]), "%s: the ticket's key first of two", ver);
		nlb_tls_server_free(b);
		f.conf.ticket_keys = k3;
		b = server_new(&f.conf);
		cr_expect(!resumes(a, b, cctx[v]), "%s: another key", ver);
		nlb_tls_server_free(b);
		nlb_tls_server_free(a);

		/* 48-byte keys: AES-128 and a 16-byte HMAC secret. */
		f.conf.ticket_keys = k48;
		a = server_new(&f.conf);
		b = server_new(&f.conf);
		cr_expect(resumes(a, b, cctx[v]), "%s: 48-byte keys", ver);
		nlb_tls_server_free(a);
		nlb_tls_server_free(b);
	}
	SSL_CTX_free(cctx[0]);
	SSL_CTX_free(cctx[1]);
	fx_remove(&f);
}

/* ---- renegotiation and other failures -------------------------------- */

/* The server reads what the client sent after the handshake. */
static int server_reads(struct hs *h)
{
	char buf[64];
	move(h->c, h->s);
	ERR_clear_error();
	int r = SSL_read(h->s, buf, sizeof(buf));
	if (r <= 0) {
		int e = SSL_get_error(h->s, r);
		ERR_clear_error();
		return e == SSL_ERROR_WANT_READ ? 0 : -1;
	}
	return r;
}

T_UNIT(tls, renegotiation_seen)
{
	struct fx f;
	fx_init(&f);
	fx_cert(&f, "eca", "ec", "ec-a", SAN_A);
	struct nlb_tls_server *s = server_new(&f.conf);
	SSL_CTX *c12 = client_ctx(TLS1_2_VERSION, NULL), *c13 = client_ctx(0, NULL);
	struct hs h;

	/* TLS 1.2: data, then the client's new ClientHello. */
	hs_init(&h, client_ssl(c12, NULL), nlb_tls_server_ssl(s));
	pump(&h);
	T_ASSERT(h.c_done == 1 && h.s_done == 1);
	T_ASSERT(SSL_write(h.c, "ping", 4) == 4);
	cr_expect_eq(server_reads(&h), 4);
	cr_expect(!nlb_tls_renegotiation_seen(h.s));
	T_ASSERT(SSL_renegotiate(h.c) == 1);
	ERR_clear_error();
	SSL_do_handshake(h.c);
	ERR_clear_error();
	server_reads(&h);
	cr_expect(nlb_tls_renegotiation_seen(h.s));
	hs_free(&h);

	/* TLS 1.3: tickets and a KeyUpdate are no renegotiation. */
	hs_init(&h, client_ssl(c13, NULL), nlb_tls_server_ssl(s));
	pump(&h);
	T_ASSERT(h.c_done == 1 && h.s_done == 1);
	client_reads(&h);
	T_ASSERT(SSL_key_update(h.c, SSL_KEY_UPDATE_REQUESTED) == 1);
	T_ASSERT(SSL_write(h.c, "ping", 4) == 4);
	cr_expect_eq(server_reads(&h), 4);
	client_reads(&h);
	cr_expect(!nlb_tls_renegotiation_seen(h.s));
	hs_free(&h);

	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	nlb_tls_server_free(s);
	fx_remove(&f);
}

/* The server's class after reading bytes (then end of stream if eof). */
static enum nlb_tls_fail server_given(struct nlb_tls_server *s, const void *bytes, size_t len,
				      bool eof)
{
	SSL *ssl = nlb_tls_server_ssl(s);
	T_ASSERT(ssl != NULL);
	set_bios(ssl);
	if (len > 0)
		T_ASSERT(BIO_write(SSL_get_rbio(ssl), bytes, (int)len) == (int)len);
	if (eof)
		BIO_set_mem_eof_return(SSL_get_rbio(ssl), 0);
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	int e = SSL_get_error(ssl, r);
	enum nlb_tls_fail why = NLB_TLS_FAIL_N;
	if (r != 1 && e != SSL_ERROR_WANT_READ)
		why = nlb_tls_fail_classify(ssl, e);
	cr_expect_eq(ERR_peek_error(), 0ul, "the queue is drained");
	SSL_free(ssl);
	return why;
}

T_UNIT(tls, failure_classes)
{
	struct fx f;
	fx_init(&f);
	fx_cert(&f, "eca", "ec", "ec-a", SAN_A);
	struct nlb_tls_server *s = server_new(&f.conf);
	static const char http[] = "GET / HTTP/1.1\r\n\r\n";
	static const char connect[] = "CONNECT a.test:443 HTTP/1.1\r\n\r\n";
	/* A TLS record header, then the end of the stream. */
	static const char part[] = "\x16\x03\x01\x00\x80\x01\x00\x00";

	cr_expect_eq(server_given(s, http, sizeof(http) - 1, false), NLB_TLS_FAIL_NOT_TLS);
	cr_expect_eq(server_given(s, connect, sizeof(connect) - 1, false), NLB_TLS_FAIL_NOT_TLS);
	cr_expect_eq(server_given(s, part, sizeof(part) - 1, true), NLB_TLS_FAIL_EOF);
	cr_expect_eq(server_given(s, "", 0, true), NLB_TLS_FAIL_EOF);

	/* A system call's failure with nothing queued: the peer is gone. */
	ERR_clear_error();
	cr_expect_eq(nlb_tls_fail_classify(NULL, SSL_ERROR_SYSCALL), NLB_TLS_FAIL_EOF);
	cr_expect_eq(nlb_tls_fail_classify(NULL, SSL_ERROR_SSL), NLB_TLS_FAIL_PROTOCOL);
	/* The oldest specific reason wins over a generic one after it. */
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER);
	ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_MESSAGE);
	ERR_raise(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED);
	cr_expect_eq(nlb_tls_fail_classify(NULL, SSL_ERROR_SSL), NLB_TLS_FAIL_CIPHER);
	cr_expect_eq(ERR_peek_error(), 0ul);
	ERR_raise(ERR_LIB_SSL, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
	cr_expect_eq(nlb_tls_fail_classify(NULL, SSL_ERROR_SSL), NLB_TLS_FAIL_ALERT);

	nlb_tls_server_free(s);
	fx_remove(&f);
}

T_UNIT(tls, fail_names)
{
	static const char *const want[NLB_TLS_FAIL_N] = {
		"not_tls", "version", "cipher", "alert", "eof", "timeout", "verify",
		"renegotiation", "protocol",
	};
	for (int i = 0; i < NLB_TLS_FAIL_N; i++)
		cr_expect_str_eq(nlb_tls_fail_name((enum nlb_tls_fail)i), want[i]);
	cr_expect_str_eq(nlb_tls_fail_name(NLB_TLS_FAIL_N), "unknown");
}

/* ---- the client side ------------------------------------------------- */

/* A handshake of nlb's client (for target_ip) with s: -1 on success,
 * else the client's class, the server's in *s_fail. */
static int client_handshake(struct nlb_tls_client *c, const char *target_ip,
			    struct nlb_tls_server *s, int *s_fail, char *cn, int len)
{
	struct hs h;
	hs_init(&h, nlb_tls_client_ssl(c, target_ip), nlb_tls_server_ssl(s));
	pump(&h);
	int r = h.c_done == 1 && h.s_done == 1 ? -1 : h.c_done < 0 ? (int)h.c_fail : -2;
	if (s_fail != NULL)
		*s_fail = h.s_done < 0 ? (int)h.s_fail : -1;
	if (cn != NULL)
		peer_cn(h.c, cn, len);
	hs_free(&h);
	return r;
}

static struct nlb_tls_client *client_new(char *ca, char *server_name)
{
	struct nlb_tls_group_conf conf = { .enabled = 1, .ca = ca, .server_name = server_name };
	struct nlb_tls_client *c = NULL;
	char err[512] = "";
	int r = nlb_tls_client_new(&conf, &c, err, sizeof(err));
	T_ASSERT(r == 0 && c != NULL, ": %d %s", r, err);
	return c;
}

T_UNIT(tls, client_verifies)
{
	struct fx f;
	char ca[256], other[256], cn[64];
	int s_fail, r;
	fx_init(&f);
	fx_cert(&f, "dflt", "ec", "dflt", "DNS:default.test");
	fx_cert(&f, "ipa", "ec", "ip-a", "DNS:a.test,IP:127.0.0.1");
	make_cert(&f, "other", "ec", "other", "DNS:a.test");
	fx_path(&f, "ipa.pem", ca, sizeof(ca));
	fx_path(&f, "other.pem", other, sizeof(other));
	struct nlb_tls_server *s = server_new(&f.conf);
	/* ipa.pem alone: the default, whatever the SNI. */
	struct nlb_tls_listener_conf conf_ip = f.conf;
	conf_ip.certs = &f.certs[1];
	conf_ip.n_certs = 1;
	struct nlb_tls_server *s_ip = server_new(&conf_ip);

	/* The right CA and name (SNI picks the certificate). */
	struct nlb_tls_client *c = client_new(ca, "a.test");
	cr_expect(nlb_tls_client_verifies(c));
	r = client_handshake(c, "127.0.0.1", s, NULL, cn, sizeof(cn));
	cr_expect_eq(r, -1, "%d", r);
	cr_expect_str_eq(cn, "ip-a");
	nlb_tls_client_free(c);

	/* A name the certificate does not carry: verify here, an alert there. */
	c = client_new(ca, "b.test");
	r = client_handshake(c, "127.0.0.1", s_ip, &s_fail, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERIFY, "%d", r);
	cr_expect_eq(s_fail, NLB_TLS_FAIL_ALERT, "%d", s_fail);
	nlb_tls_client_free(c);

	/* No server_name: the target's address, and no SNI (so s shows its
	 * default, which the CA did not sign). */
	c = client_new(ca, NULL);
	r = client_handshake(c, "127.0.0.1", s, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERIFY, "%d", r);
	cr_expect_eq(client_handshake(c, "127.0.0.1", s_ip, NULL, NULL, 0), -1);
	r = client_handshake(c, "127.0.0.2", s_ip, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERIFY, "%d", r);
	nlb_tls_client_free(c);
	/* An address as server_name: verified as one, never sent as SNI. */
	c = client_new(ca, "127.0.0.1");
	cr_expect_eq(client_handshake(c, "127.0.0.2", s_ip, NULL, NULL, 0), -1);
	SSL *ssl = nlb_tls_client_ssl(c, "127.0.0.2");
	T_ASSERT(ssl != NULL);
	cr_expect_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	SSL_free(ssl);
	nlb_tls_client_free(c);
	c = client_new(NULL, "a.test");
	ssl = nlb_tls_client_ssl(c, "127.0.0.2");
	T_ASSERT(ssl != NULL);
	cr_expect_str_eq(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "a.test");
	SSL_free(ssl);
	nlb_tls_client_free(c);

	/* Another CA. */
	c = client_new(other, "a.test");
	r = client_handshake(c, "127.0.0.1", s, NULL, NULL, 0);
	cr_expect_eq(r, NLB_TLS_FAIL_VERIFY, "%d", r);
	nlb_tls_client_free(c);

	/* No CA: any certificate, SNI still sent. */
	c = client_new(NULL, "a.test");
	cr_expect(!nlb_tls_client_verifies(c));
	cr_expect_eq(client_handshake(c, "127.0.0.1", s, NULL, cn, sizeof(cn)), -1);
	cr_expect_str_eq(cn, "ip-a");
	nlb_tls_client_free(c);
	c = client_new(NULL, NULL);
	cr_expect_eq(client_handshake(c, "127.0.0.1", s, NULL, cn, sizeof(cn)), -1);
	cr_expect_str_eq(cn, "dflt");
	nlb_tls_client_free(c);

	nlb_tls_server_free(s);
	nlb_tls_server_free(s_ip);
	fx_remove(&f);
}

T_UNIT(tls, client_ca_errors)
{
	struct fx f;
	char p[256], err[512];
	fx_init(&f);
	struct nlb_tls_group_conf conf = { .enabled = 1 };
	struct nlb_tls_client *c = NULL;

	fx_path(&f, "nosuch.pem", p, sizeof(p));
	conf.ca = p;
	int r = nlb_tls_client_new(&conf, &c, err, sizeof(err));
	cr_expect_eq(r, -ENOENT, "%d: %s", r, err);
	cr_expect(strstr(err, "tls: ca ") != NULL && strstr(err, p) != NULL &&
		  strstr(err, "cannot read") != NULL, "%s", err);
	cr_expect_null(c);

	FILE *fp = fopen(p, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "no certificate here\n");
	fclose(fp);
	r = nlb_tls_client_new(&conf, &c, err, sizeof(err));
	cr_expect_eq(r, -EINVAL, "%d: %s", r, err);
	cr_expect(strstr(err, "no certificate in it") != NULL, "%s", err);
	cr_expect_null(c);
	cr_expect_eq(ERR_peek_error(), 0ul);
	fx_remove(&f);
}
