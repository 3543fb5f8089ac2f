/* TLS for integration tests: certificates from the openssl command and
 * a blocking OpenSSL client (tls_peers.h). */
#include "tls_peers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clients.h"
#include "nlb_process.h"
#include "pattern.h"
#include "time_ms.h"

const char *t_tls_path(const struct t_tls *t, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", t->dir, file);
	return out;
}

int t_tls_init(struct t_tls *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/nlb-tls-XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	char key[128], pem[128];
	const char *argv[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-keyout",
			       t_tls_path(t, "ca.key", key, sizeof(key)), "-out",
			       t_tls_path(t, "ca.pem", pem, sizeof(pem)), "-subj", "/CN=nlb-test-ca",
			       "-days", "2", NULL };
	return t_run(argv, 30000, NULL) == 0 ? 0 : -EIO;
}

int t_tls_leaf(struct t_tls *t, const char *file, const char *cn, const char *sans,
	       const char *key)
{
	char kpath[160], ppath[160], ca[128], cakey[128], subj[128], ext[256], name[96];
	snprintf(name, sizeof(name), "%s.key", file);
	t_tls_path(t, name, kpath, sizeof(kpath));
	snprintf(name, sizeof(name), "%s.pem", file);
	t_tls_path(t, name, ppath, sizeof(ppath));
	snprintf(subj, sizeof(subj), "/CN=%s", cn);
	snprintf(ext, sizeof(ext), "subjectAltName=%s", sans);
	bool rsa = strcmp(key, "rsa") == 0;
	const char *argv[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", rsa ? "rsa:2048" : "ec",
			       "-pkeyopt", rsa ? "rsa_keygen_bits:2048" : "ec_paramgen_curve:P-256",
			       "-nodes", "-keyout", kpath, "-out", ppath, "-subj", subj, "-addext",
			       ext, "-CA", t_tls_path(t, "ca.pem", ca, sizeof(ca)), "-CAkey",
			       t_tls_path(t, "ca.key", cakey, sizeof(cakey)), "-days", "2", NULL };
	return t_run(argv, 30000, NULL) == 0 ? 0 : -1;
}

void t_tls_free(struct t_tls *t)
{
	if (!t->dir[0])
		return;
	const char *argv[] = { "/bin/rm", "-rf", t->dir, NULL };
	t_run(argv, 10000, NULL);
	t->dir[0] = '\0';
}

/* A session the server sent (a TLS 1.3 ticket, or the TLS 1.2 session):
 * counted in the int the SSL's app data points at; not kept. */
static int count_ticket(SSL *ssl, SSL_SESSION *sess)
{
	int *n = SSL_get_app_data(ssl);
	if (n && SSL_SESSION_is_resumable(sess))
		(*n)++;
	return 0;
}

SSL *t_tls_connect(uint16_t port, const struct t_tls_client_opts *o, int *fd)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	*fd = -1;
	if (!ctx)
		goto fail;
	if (o->max_version)
		SSL_CTX_set_max_proto_version(ctx, o->max_version);
	if (o->ca) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*fd = t_connect_raw(port);
	if (*fd < 0)
		goto fail;
	if (o->before && write(*fd, o->before, strlen(o->before)) != (ssize_t)strlen(o->before))
		goto fail;
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, *fd) != 1)
		goto fail;
	if (o->sni) {
		SSL_set_tlsext_host_name(ssl, o->sni);
		if (o->ca)
			SSL_set1_host(ssl, o->sni);
	}
	if (o->session)
		SSL_set_session(ssl, o->session);
	if (o->tickets) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, count_ticket);
		SSL_set_app_data(ssl, o->tickets);
	}
	if (o->alpn) {
		unsigned char wire[256];
		size_t n = 0;
		for (const char *a = o->alpn; *a && n < sizeof(wire) - 1;) {
			size_t l = strcspn(a, ",");
			if (l > 255 || n + 1 + l > sizeof(wire))
				break;
			wire[n++] = (unsigned char)l;
			memcpy(wire + n, a, l);
			n += l;
			a += l + (a[l] == ',');
		}
		SSL_set_alpn_protos(ssl, wire, (unsigned)n);
	}
	if (SSL_connect(ssl) != 1)
		goto fail;
	SSL_CTX_free(ctx);		/* the SSL holds its own reference */
	return ssl;
fail:
	ERR_print_errors_fp(stderr);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return NULL;
}

int t_tls_round_trip(SSL *ssl, const void *buf, size_t len)
{
	if (SSL_write(ssl, buf, (int)len) != (int)len)
		return -1;
	char *got = malloc(len);
	size_t have = 0;
	while (got && have < len) {
		int n = SSL_read(ssl, got + have, (int)(len - have));
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	int ok = got && have == len && memcmp(got, buf, len) == 0;
	free(got);
	return ok ? 0 : -1;
}

const char *t_tls_peer_cn(SSL *ssl, char *out, size_t len)
{
	out[0] = '\0';
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (cert) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out,
					  (int)len);
		X509_free(cert);
	}
	return out;
}

void t_tls_close(SSL *ssl, int fd)
{
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
}

int t_tls_bulk(SSL *ssl, int fd, uint64_t send_len, uint64_t seed, int timeout_ms,
	       uint64_t *received, uint64_t *sum)
{
	static char out[T_CHUNK], in[T_CHUNK];
	uint64_t sent = 0;
	int64_t deadline = t_now_ms() + timeout_ms;
	bool done_in = false, shut = false;
	size_t pend = 0;		/* bytes of out an SSL_write retry owes */
	*received = 0;
	*sum = T_SUM_INIT;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (!done_in || !shut) {
		if (t_now_ms() > deadline)
			return -1;
		bool progress = false;
		if (sent < send_len) {
			if (!pend) {
				pend = send_len - sent < sizeof(out) ? (size_t)(send_len - sent) : sizeof(out);
				t_pattern_fill(out, sent, pend, seed);
			}
			int n = SSL_write(ssl, out, (int)pend);
			if (n > 0) {
				sent += (uint64_t)n;
				pend = 0;
				progress = true;
			} else {
				int e = SSL_get_error(ssl, n);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					return -1;
			}
		} else if (!shut) {
			SSL_shutdown(ssl);
			shut = true;
		}
		while (!done_in) {
			int n = SSL_read(ssl, in, sizeof(in));
			if (n > 0) {
				*sum = t_sum_update(*sum, in, (size_t)n);
				*received += (uint64_t)n;
				progress = true;
				continue;
			}
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
				done_in = true;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return -1;
			break;
		}
		if (!progress) {
			struct pollfd p = { .fd = fd, .events = POLLIN | (sent < send_len ? POLLOUT : 0) };
			poll(&p, 1, 100);
		}
	}
	return 0;
}
