/* A TLS listener's server side (see tls_server.h): the SSL_CTXs built
 * from its certificates (one per set of names, RSA and ECDSA side by
 * side in one), the callbacks every one of them carries (SNI, ALPN,
 * session tickets, renegotiation watch), the ticket keys and their
 * rotation, and what `show certificates` says of each certificate. */
#include "tls_server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "tls_hello.h"
#include "tls_ticket_keys.h"

/* Without a ticket_keys file a new key starts encrypting once the
 * current one is this old, so that a key read out of a process's memory
 * opens at most two days of tickets; the one before still decrypts
 * until the next rotation, which outlasts every ticket issued under it
 * (they live 2 h: OpenSSL's default session timeout). */
#define TICKET_ROTATE_S (24u * 3600u)

/* Largest ticket_keys file read: 8 keys of 108 characters and comments
 * fit hundreds of times over. */
#define TICKET_FILE_MAX (64u << 10)

/* TLS 1.2's suites by policy: forward secret and AEAD only, or those
 * and then the CBC suites older clients need (SHA1, SHA256 and SHA384
 * MACs; "SHA256" and "SHA384" name the MAC, so no GCM suite twice).
 * AES-128 first, in both versions, as the AWS load balancers' policies
 * order them: the handshake's own strength is 128 bits (X25519, P-256),
 * so AES-256 adds none, and TLS 1.3's SHA-256 key schedule has CPU
 * instructions where SHA-384's has none (a full handshake costs 1.07x
 * less: doc/tls.md).  A client that puts ChaCha20 first (no AES in
 * hardware) gets it (SSL_OP_PRIORITIZE_CHACHA). */
static const char CIPHERS_AEAD[] = "ECDHE+AES128+AESGCM:ECDHE+AESGCM:ECDHE+CHACHA20";
static const char CIPHERS_COMPAT[] = "ECDHE+AES128+AESGCM:ECDHE+AESGCM:ECDHE+CHACHA20:"
				     "ECDHE+AES+SHA256:ECDHE+AES+SHA384:ECDHE+AES+SHA";
static const char CIPHERSUITES_13[] =
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/* Every CTX of every listener has the same session id context: tickets
 * are keyed by the ticket keys, and the CTX an SNI switch lands on must
 * accept a session its default issued. */
static const unsigned char SID_CTX[] = "nlb";

/* An SSL's ex_data slot (flags below, stored as the pointer's value)
 * and a CTX's (its struct nlb_tls_server), made once per process:
 * SSL_get_app_data is the caller's. */
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;
static int ssl_ex = -1, ctx_ex = -1;
/* The server an SSL was made from: each SSL holds a reference, dropped
 * when OpenSSL frees it, so a reload's retired server (its callbacks'
 * state, the contexts SNI switches to) lasts as long as its last
 * connection, which may still be in its handshake. */
static int srv_ex = -1;

#define FLAG_DONE 1u		/* a handshake finished */
#define FLAG_RENEG 2u		/* a ClientHello came after it */

/* One SSL_CTX and the names SNI finds it by. */
struct sni_ctx {
	SSL_CTX *ctx;
	char **names;		/* subjectAltName DNS names: lower case, sorted, unique */
	size_t n_names;
};

struct nlb_tls_server {
	_Atomic unsigned refs;		/* the configuration's, and one per SSL */
	struct sni_ctx *ctxs;		/* [0] is the default (the first certificate's) */
	size_t n_ctxs;
	struct nlb_tls_cert_info *certs;
	size_t n_certs;
	EVP_CIPHER *aes128, *aes256;	/* ticket encryption, by key size */
	/* Ticket keys: keys[0] encrypts, all decrypt.  Read-only with a
	 * ticket_keys file; else rotated by whichever worker's handshake
	 * finds keys[0] too old, and read under the lock: a ticket's
	 * encryption or decryption takes it, a handshake's work, never
	 * the data path's. */
	bool rotating, lock_init;
	pthread_mutex_t lock;
	uint64_t born_s;		/* CLOCK_MONOTONIC seconds keys[0] was made */
	struct nlb_tls_ticket_key keys[NLB_TLS_TICKET_KEYS_MAX];
	size_t n_keys;
};

static void server_unref(struct nlb_tls_server *s);

static void srv_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (ptr)
		server_unref(ptr);
}

static void ex_init(void)
{
	ssl_ex = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	srv_ex = SSL_get_ex_new_index(0, NULL, NULL, NULL, srv_ex_free);
	ctx_ex = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* ---- callbacks ------------------------------------------------------- */

/* Encrypted keys are refused rather than prompted for on a terminal
 * nlb may not have. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The CTX whose names hold sni: an exact name first (case-insensitive),
 * then a wildcard "*.parent" standing for one leftmost label; NULL for
 * none.  A walk: handshakes are far rarer than records, and listeners
 * hold at most NLB_TLS_CERTS_MAX certificates. */
static SSL_CTX *pick_ctx(const struct nlb_tls_server *s, const char *sni)
{
	SSL_CTX *wild = NULL;

	for (size_t g = 0; g < s->n_ctxs; g++) {
		const struct sni_ctx *c = &s->ctxs[g];
		for (size_t i = 0; i < c->n_names; i++) {
			enum nlb_sni_match m = nlb_sni_match(c->names[i], sni);
			if (m == NLB_SNI_EXACT)
				return c->ctx;
			if (wild == NULL && m == NLB_SNI_WILDCARD)
				wild = c->ctx;
		}
	}
	return wild;
}

/* SNI: switch to the matching CTX; no SNI, or an unknown name, keeps
 * the default, as a client that sends none must still be served. */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
	const struct nlb_tls_server *s = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (sni == NULL || s->n_ctxs < 2)
		return SSL_TLSEXT_ERR_OK;
	SSL_CTX *ctx = pick_ctx(s, sni);
	if (ctx != NULL && ctx != SSL_get_SSL_CTX(ssl))
		SSL_set_SSL_CTX(ssl, ctx);
	return SSL_TLSEXT_ERR_OK;
}

/* ALPN for http1-only: http/1.1 when offered, else http/1.0, wherever
 * they are in the client's list; neither: no ALPN in the answer (the
 * client then speaks what it would have without ALPN). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	return nlb_alpn_pick_http1(in, inlen, out, outlen) == 0 ? SSL_TLSEXT_ERR_OK :
								  SSL_TLSEXT_ERR_NOACK;
}

/* Watches for renegotiation.  OpenSSL refuses a TLS 1.2 ClientHello on
 * an established connection (SSL_OP_NO_RENEGOTIATION) with a
 * no_renegotiation warning alert, mostly without a HANDSHAKE_START (its
 * record layer drops the message), so the alert is the sign; a
 * HANDSHAKE_START after a finished handshake is the other.  TLS 1.3
 * post-handshake messages (tickets, KeyUpdate) are no renegotiation. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	uintptr_t flags = (uintptr_t)SSL_get_ex_data(ssl, ssl_ex);
	uintptr_t was = flags;

	if (where & SSL_CB_HANDSHAKE_DONE)
		flags |= FLAG_DONE;
	else if ((where & SSL_CB_HANDSHAKE_START) && (flags & FLAG_DONE) &&
		 SSL_version(ssl) < TLS1_3_VERSION)
		flags |= FLAG_RENEG;
	else if (where == SSL_CB_WRITE_ALERT && (ret & 0xff) == SSL_AD_NO_RENEGOTIATION)
		flags |= FLAG_RENEG;
	if (flags != was)
		SSL_set_ex_data((SSL *)ssl, ssl_ex, (void *)flags);
}

/* A fresh random key in the 80-byte form (AES-256, 32-byte HMAC). */
static int ticket_key_random(struct nlb_tls_ticket_key *k)
{
	memset(k, 0, sizeof(*k));
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->hmac, 32) != 1 ||
	    RAND_bytes(k->aes, 32) != 1)
		return -EIO;
	k->hmac_len = 32;
	k->aes_len = 32;
	return 0;
}

/* The encrypting key, copied out; rotated first when it is due.  A
 * failed rotation keeps the current key rather than failing handshakes. */
static void ticket_key_current(struct nlb_tls_server *s, struct nlb_tls_ticket_key *k)
{
	if (!s->rotating) {
		*k = s->keys[0];
		return;
	}
	pthread_mutex_lock(&s->lock);
	uint64_t now = nlb_clock_ns() / 1000000000u;
	if (now - s->born_s >= TICKET_ROTATE_S) {
		struct nlb_tls_ticket_key fresh;
		if (ticket_key_random(&fresh) == 0) {
			s->keys[1] = s->keys[0];
			s->keys[0] = fresh;
			s->n_keys = 2;
			s->born_s = now;
		}
		OPENSSL_cleanse(&fresh, sizeof(fresh));
	}
	*k = s->keys[0];
	pthread_mutex_unlock(&s->lock);
}

/* The key named name, copied out: its index, or -1. */
static int ticket_key_find(struct nlb_tls_server *s, const unsigned char *name,
			   struct nlb_tls_ticket_key *k)
{
	int found = -1;

	if (s->rotating)
		pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_keys; i++)
		if (memcmp(s->keys[i].name, name, sizeof(s->keys[i].name)) == 0) {
			*k = s->keys[i];
			found = (int)i;
			break;
		}
	if (s->rotating)
		pthread_mutex_unlock(&s->lock);
	return found;
}

/* Session tickets (RFC 5077's layout, which OpenSSL builds around this):
 * encrypt under keys[0]; decrypt under the key the ticket names, asking
 * for a fresh ticket (2) when that key no longer encrypts; 0 for a name
 * no key has (a full handshake), -1 on failure. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
		     EVP_MAC_CTX *hctx, int enc)
{
	static char digest[] = "SHA256";
	struct nlb_tls_server *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ex);
	struct nlb_tls_ticket_key k;
	int r = 1;

	if (s == NULL)
		return -1;
	if (enc) {
		/* CBC's IV: 16 bytes, within EVP_MAX_IV_LENGTH. */
		if (RAND_bytes(iv, 16) != 1)
			return -1;
		ticket_key_current(s, &k);
		memcpy(name, k.name, sizeof(k.name));
	} else {
		int i = ticket_key_find(s, name, &k);
		if (i < 0)
			return 0;
		r = i == 0 ? 1 : 2;
	}
	const EVP_CIPHER *cipher = k.aes_len == 32 ? s->aes256 : s->aes128;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	int ok = enc ? EVP_EncryptInit_ex2(cctx, cipher, k.aes, iv, NULL)
		     : EVP_DecryptInit_ex2(cctx, cipher, k.aes, iv, NULL);
	if (ok != 1 || EVP_MAC_init(hctx, k.hmac, k.hmac_len, params) != 1)
		r = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return r;
}

/* ---- loading --------------------------------------------------------- */

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* OpenSSL's reason for the oldest queued error, for a message. */
static const char *ssl_reason(void)
{
	const char *why = ERR_reason_error_string(ERR_peek_error());
	return why != NULL ? why : "OpenSSL gives no reason";
}

/* Opens path to read, "what path: ..." in err on failure: a regular file
 * only (a FIFO would hang the load, a directory reads as an OpenSSL
 * error that names no cause).  The errno is ours, not one OpenSSL's
 * file layer may have replaced. */
static int open_file(const char *what, const char *path, FILE **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		return fail(err, errlen, -e, "tls: %s %s: cannot read: %s", what, path, strerror(e));
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		r = fail(err, errlen, -EINVAL, "tls: %s %s: not a regular file", what, path);
	FILE *f = NULL;
	if (r == 0 && (f = fdopen(fd, "r")) == NULL)
		r = -errno;
	if (r < 0) {
		if (r != -EINVAL)
			fail(err, errlen, r, "tls: %s %s: cannot read: %s", what, path, strerror(-r));
		close(fd);
		return r;
	}
	*out = f;
	return 0;
}

static int read_cert(const char *path, X509 **out, char *err, size_t errlen)
{
	FILE *f;
	int r = open_file("certificate", path, &f, err, errlen);
	if (r < 0)
		return r;
	*out = PEM_read_X509(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (*out == NULL)
		return fail(err, errlen, -EINVAL, "tls: certificate %s: not a PEM certificate",
			    path);
	return 0;
}

static int read_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	FILE *f;
	int r = open_file("key", path, &f, err, errlen);
	if (r < 0)
		return r;
	*out = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (*out == NULL)
		return fail(err, errlen, -EINVAL, "tls: key %s: not a PEM private key without a "
			    "passphrase", path);
	return 0;
}

/* "RSA-2048", "EC-P-256", "ED25519", ... */
static void key_type(const EVP_PKEY *pk, char *buf, size_t len)
{
	int id = EVP_PKEY_get_base_id(pk);
	char group[64];
	size_t glen;

	switch (id) {
	case EVP_PKEY_RSA:
		snprintf(buf, len, "RSA-%d", EVP_PKEY_get_bits(pk));
		break;
	case EVP_PKEY_RSA_PSS:
		snprintf(buf, len, "RSA-PSS-%d", EVP_PKEY_get_bits(pk));
		break;
	case EVP_PKEY_EC: {
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1) {
			snprintf(buf, len, "EC");
			break;
		}
		/* OpenSSL's name ("prime256v1") to the NIST one when there is
		 * one; a long name is cut to what key_type holds. */
		const char *nist = EC_curve_nid2nist(OBJ_txt2nid(group));
		snprintf(buf, len, "EC-%.12s", nist != NULL ? nist : group);
		break;
	}
	default: {
		const char *sn = OBJ_nid2sn(id);
		snprintf(buf, len, "%s", sn != NULL ? sn : "unknown");
	}
	}
}

/* What the info says of x other than its names. */
static int cert_info(X509 *x, struct nlb_tls_cert_info *ci)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return -ENOMEM;
	int n = -1;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, ci->subject, (int)sizeof(ci->subject) - 1);
	ci->subject[n > 0 ? n : 0] = '\0';
	BIO_free(b);

	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		ci->not_after = (int64_t)timegm(&tm);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (pk != NULL)
		key_type(pk, ci->key_type, sizeof(ci->key_type));
	else
		snprintf(ci->key_type, sizeof(ci->key_type), "unknown");
	return 0;
}

/* A DNS name SNI can be compared with: printable, no comma (the list's
 * separator), no NUL hidden inside the ASN.1 string. */
static bool dns_name_ok(const unsigned char *d, int len)
{
	if (len <= 0 || len > 255)
		return false;
	for (int i = 0; i < len; i++)
		if (d[i] <= ' ' || d[i] >= 0x7f || d[i] == ',')
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* x's subjectAltName DNS names: joined with ',' into joined (as written,
 * whole names only while they fit), and lower case, sorted and unique
 * into *out (malloc'd; free_names). */
static int cert_names(X509 *x, char ***out, size_t *n_out, char *joined, size_t jlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int count = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	char **names = calloc(count > 0 ? (size_t)count : 1, sizeof(*names));
	size_t n = 0, used = 0;

	joined[0] = '\0';
	if (names == NULL) {
		GENERAL_NAMES_free(gens);
		return -ENOMEM;
	}
	for (int i = 0; i < count; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
		int len = ASN1_STRING_length(g->d.dNSName);
		if (!dns_name_ok(d, len))
			continue;
		if ((names[n] = malloc((size_t)len + 1)) == NULL) {
			free_names(names, n);
			GENERAL_NAMES_free(gens);
			return -ENOMEM;
		}
		for (int k = 0; k < len; k++)
			names[n][k] = (char)(d[k] >= 'A' && d[k] <= 'Z' ? d[k] - 'A' + 'a' : d[k]);
		names[n][len] = '\0';
		n++;
		size_t need = (used > 0) + (size_t)len;
		if (used + need < jlen) {
			if (used > 0)
				joined[used++] = ',';
			memcpy(joined + used, d, (size_t)len);
			used += (size_t)len;
			joined[used] = '\0';
		}
	}
	GENERAL_NAMES_free(gens);
	qsort(names, n, sizeof(*names), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u > 0 && strcmp(names[u - 1], names[i]) == 0)
			free(names[i]);
		else
			names[u++] = names[i];
	}
	*out = names;
	*n_out = u;
	return 0;
}

static bool same_names(const struct sni_ctx *c, char *const *names, size_t n)
{
	if (c->n_names != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(c->names[i], names[i]) != 0)
			return false;
	return true;
}

/* A CTX with the listener's policy and every callback, no certificate. */
static SSL_CTX *ctx_new(struct nlb_tls_server *s, const struct nlb_tls_listener_conf *conf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return NULL;
	int min = conf->policy == NLB_TLS_POLICY_13_ONLY ? TLS1_3_VERSION : TLS1_2_VERSION;
	const char *ciphers = conf->policy == NLB_TLS_POLICY_COMPAT ? CIPHERS_COMPAT : CIPHERS_AEAD;
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, CIPHERSUITES_13) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, SID_CTX, sizeof(SID_CTX) - 1) != 1 ||
	    SSL_CTX_set_max_early_data(ctx, 0) != 1 ||
	    SSL_CTX_set_ex_data(ctx, ctx_ex, s) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_COMPRESSION);
	/* An idle connection keeps no record buffers (~34 KiB each way). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Tickets only: a session resumes on any worker and any host that
	 * holds the keys, and no cache grows with the clients.  None at
	 * all with session_tickets = 0 (TLS 1.2's ticket too). */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, conf->session_tickets) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (conf->session_tickets == 0)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_info_callback(ctx, info_cb);
	SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, s);
	if (conf->alpn == NLB_TLS_ALPN_HTTP1_ONLY)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
}

/* Certificate entry i: read and checked, described in s->certs[i], then
 * loaded into the CTX of its names (made if it is the first with them).
 * group_of[] and kind_of[] say, for the entries before, which CTX and
 * which key type (OpenSSL keeps one certificate per key type in a CTX). */
static int load_entry(struct nlb_tls_server *s, const struct nlb_tls_listener_conf *conf,
		      size_t i, size_t *group_of, int *kind_of, char *err, size_t errlen)
{
	const struct nlb_tls_cert_conf *cc = &conf->certs[i];
	struct nlb_tls_cert_info *ci = &s->certs[i];
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	char **names = NULL;
	size_t n_names = 0, g;
	int r;

	ci->line = cc->line;
	if ((ci->file = strdup(cc->cert)) == NULL) {
		r = fail(err, errlen, -ENOMEM, "tls: out of memory");
		goto out;
	}
	if ((r = read_cert(cc->cert, &x, err, errlen)) < 0 ||
	    (r = read_key(cc->key, &pk, err, errlen)) < 0)
		goto out;
	if (X509_check_private_key(x, pk) != 1) {
		r = fail(err, errlen, -EINVAL, "tls: key %s does not match the certificate %s",
			 cc->key, cc->cert);
		goto out;
	}
	if (cert_info(x, ci) < 0 ||
	    cert_names(x, &names, &n_names, ci->names, sizeof(ci->names)) < 0) {
		r = fail(err, errlen, -ENOMEM, "tls: out of memory");
		goto out;
	}
	kind_of[i] = EVP_PKEY_get_base_id(pk);
	for (g = 0; g < s->n_ctxs; g++)
		if (same_names(&s->ctxs[g], names, n_names))
			break;
	if (g < s->n_ctxs) {
		for (size_t j = 0; j < i; j++)
			if (group_of[j] == g && kind_of[j] == kind_of[i]) {
				r = fail(err, errlen, -EINVAL, "tls: certificate %s: the same names "
					 "and key type as the certificate of line %d; one of each "
					 "key type per set of names", cc->cert, conf->certs[j].line);
				goto out;
			}
	} else {
		SSL_CTX *ctx = ctx_new(s, conf);
		if (ctx == NULL) {
			r = fail(err, errlen, -ENOMEM, "tls: cannot make an SSL_CTX: %s",
				 ssl_reason());
			goto out;
		}
		s->ctxs[g] = (struct sni_ctx){ ctx, names, n_names };
		s->n_ctxs++;
		names = NULL;
		n_names = 0;
	}
	group_of[i] = g;
	/* The files again, through OpenSSL: the chain after the leaf, and
	 * the checks of this CTX (security level, key type). */
	SSL_CTX *ctx = s->ctxs[g].ctx;
	if (SSL_CTX_use_certificate_chain_file(ctx, cc->cert) != 1) {
		r = fail(err, errlen, -EINVAL, "tls: certificate %s: refused by OpenSSL: %s",
			 cc->cert, ssl_reason());
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cc->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		r = fail(err, errlen, -EINVAL, "tls: key %s does not match the certificate %s",
			 cc->key, cc->cert);
		goto out;
	}
	r = 0;
out:
	free_names(names, n_names);
	X509_free(x);
	EVP_PKEY_free(pk);
	return r;
}

/* The ticket keys: the file's, or one random key that rotates. */
static int load_ticket_keys(struct nlb_tls_server *s, const char *path, char *err,
			    size_t errlen)
{
	if (path == NULL) {
		s->rotating = true;
		s->born_s = nlb_clock_ns() / 1000000000u;
		s->n_keys = 1;
		if (ticket_key_random(&s->keys[0]) < 0)
			return fail(err, errlen, -EIO, "tls: no random bytes for a ticket key: %s",
				    ssl_reason());
		return 0;
	}
	FILE *f;
	int r = open_file("ticket_keys", path, &f, err, errlen);
	if (r < 0)
		return r;
	char *buf = malloc(TICKET_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return fail(err, errlen, -ENOMEM, "tls: out of memory");
	}
	size_t n = fread(buf, 1, TICKET_FILE_MAX + 1, f);
	int e = ferror(f) ? (errno ? errno : EIO) : 0;
	fclose(f);
	int bad = 0;
	if (e != 0)
		r = fail(err, errlen, -e, "tls: ticket_keys %s: cannot read: %s", path, strerror(e));
	else if (n > TICKET_FILE_MAX)
		r = fail(err, errlen, -EFBIG, "tls: ticket_keys %s: larger than %u KiB", path,
			 TICKET_FILE_MAX >> 10);
	else
		r = nlb_tls_ticket_keys_parse(buf, n, s->keys, NLB_TLS_TICKET_KEYS_MAX, &bad);
	OPENSSL_cleanse(buf, n);
	free(buf);
	if (r == -E2BIG)
		return fail(err, errlen, r, "tls: ticket_keys %s: more than %d keys (line %d)",
			    path, NLB_TLS_TICKET_KEYS_MAX, bad);
	if (r == -EINVAL && bad == 0)
		return fail(err, errlen, r, "tls: ticket_keys %s: no key in it", path);
	if (r == -EINVAL)
		return fail(err, errlen, r, "tls: ticket_keys %s: line %d: not the base64 of a "
			    "48- or 80-byte key as long as the first", path, bad);
	if (r < 0)
		return r;
	s->n_keys = (size_t)r;
	return 0;
}

int nlb_tls_server_new(const struct nlb_tls_listener_conf *conf, struct nlb_tls_server **out,
		       char *err, size_t errlen, int *err_line)
{
	struct nlb_tls_server *s = NULL;
	size_t *group_of = NULL;
	int *kind_of = NULL;
	int r;

	if (pthread_once(&ex_once, ex_init) != 0 || ssl_ex < 0 || ctx_ex < 0 || srv_ex < 0) {
		r = fail(err, errlen, -ENOMEM, "tls: out of memory");
		goto fail;
	}
	if (conf->n_certs == 0) {
		r = fail(err, errlen, -EINVAL, "tls: no certificate");
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s != NULL)
		atomic_init(&s->refs, 1);
	group_of = calloc(conf->n_certs, sizeof(*group_of));
	kind_of = calloc(conf->n_certs, sizeof(*kind_of));
	if (s == NULL || group_of == NULL || kind_of == NULL ||
	    (s->certs = calloc(conf->n_certs, sizeof(*s->certs))) == NULL ||
	    (s->ctxs = calloc(conf->n_certs, sizeof(*s->ctxs))) == NULL) {
		r = fail(err, errlen, -ENOMEM, "tls: out of memory");
		goto fail;
	}
	s->n_certs = conf->n_certs;
	if ((r = -pthread_mutex_init(&s->lock, NULL)) < 0) {
		fail(err, errlen, r, "tls: pthread_mutex_init: %s", strerror(-r));
		goto fail;
	}
	s->lock_init = true;
	s->aes128 = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	s->aes256 = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	if (s->aes128 == NULL || s->aes256 == NULL) {
		r = fail(err, errlen, -ENOTSUP, "tls: OpenSSL has no AES-CBC for session tickets: "
			 "%s", ssl_reason());
		goto fail;
	}
	for (size_t i = 0; i < conf->n_certs; i++)
		if ((r = load_entry(s, conf, i, group_of, kind_of, err, errlen)) < 0) {
			*err_line = conf->certs[i].line;
			goto fail_line_set;
		}
	if ((r = load_ticket_keys(s, conf->ticket_keys, err, errlen)) < 0)
		goto fail;
	free(group_of);
	free(kind_of);
	ERR_clear_error();
	*out = s;
	return 0;
fail:
	*err_line = conf->line;
fail_line_set:
	free(group_of);
	free(kind_of);
	nlb_tls_server_free(s);
	ERR_clear_error();
	return r;
}

static void server_unref(struct nlb_tls_server *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t g = 0; g < s->n_ctxs; g++) {
		SSL_CTX_free(s->ctxs[g].ctx);
		free_names(s->ctxs[g].names, s->ctxs[g].n_names);
	}
	free(s->ctxs);
	if (s->certs != NULL)
		for (size_t i = 0; i < s->n_certs; i++)
			free((char *)s->certs[i].file);
	free(s->certs);
	EVP_CIPHER_free(s->aes128);
	EVP_CIPHER_free(s->aes256);
	if (s->lock_init)
		pthread_mutex_destroy(&s->lock);
	OPENSSL_cleanse(s->keys, sizeof(s->keys));
	free(s);
}

void nlb_tls_server_free(struct nlb_tls_server *s)
{
	if (s != NULL)
		server_unref(s);
}

SSL *nlb_tls_server_ssl(struct nlb_tls_server *s)
{
	SSL *ssl = SSL_new(s->ctxs[0].ctx);
	if (ssl == NULL)
		return NULL;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	if (SSL_set_ex_data(ssl, srv_ex, s) != 1) {
		server_unref(s);
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

size_t nlb_tls_server_n_certs(const struct nlb_tls_server *s)
{
	return s->n_certs;
}

const struct nlb_tls_cert_info *nlb_tls_server_cert(const struct nlb_tls_server *s, size_t i)
{
	return i < s->n_certs ? &s->certs[i] : NULL;
}

bool nlb_tls_renegotiation_seen(const SSL *ssl)
{
	/* The index is made by the first nlb_tls_server_new; an SSL from
	 * anywhere else has seen nothing. */
	if (pthread_once(&ex_once, ex_init) != 0 || ssl_ex < 0)
		return false;
	return ((uintptr_t)SSL_get_ex_data(ssl, ssl_ex) & FLAG_RENEG) != 0;
}
