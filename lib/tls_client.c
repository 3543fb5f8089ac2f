/* A target group's TLS client side (see tls_client.h): its SSL_CTX, the
 * CA it verifies targets against, and each connection's SNI and the
 * name its target's certificate must carry. */
#include "tls_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

struct nlb_tls_client {
	SSL_CTX *ctx;
	char *server_name;		/* NULL: none configured */
	bool name_is_ip;		/* server_name is an address: verified, never SNI */
	bool verify;
};

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Whether the CA file can be read, with an errno of our own: OpenSSL's
 * file loader reports a missing file as "no certificate found". */
static int check_readable(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st = { 0 };
	int r = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		snprintf(err, errlen, "tls: ca %s: cannot read: %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "tls: ca %s: not a regular file", path);
		return -EINVAL;
	}
	return 0;
}

int nlb_tls_client_new(const struct nlb_tls_group_conf *conf, struct nlb_tls_client **out,
		       char *err, size_t errlen)
{
	struct nlb_tls_client *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	if (c == NULL)
		goto nomem;
	if (conf->server_name != NULL) {
		if ((c->server_name = strdup(conf->server_name)) == NULL)
			goto nomem;
		c->name_is_ip = is_ip(c->server_name);
	}
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1)
		goto nomem;
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Nothing resumes a session to a target (SSL_set_session is never
	 * called), so none is kept: the client cache would only grow. */
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	if (conf->ca != NULL) {
		if ((r = check_readable(conf->ca, err, errlen)) < 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(c->ctx, conf->ca, NULL) != 1) {
			snprintf(err, errlen, "tls: ca %s: no certificate in it", conf->ca);
			r = -EINVAL;
			goto fail;
		}
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		c->verify = true;
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	ERR_clear_error();
	*out = c;
	return 0;
nomem:
	snprintf(err, errlen, "tls: out of memory");
	r = -ENOMEM;
fail:
	nlb_tls_client_free(c);
	ERR_clear_error();
	return r;
}

void nlb_tls_client_free(struct nlb_tls_client *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ctx);
	free(c->server_name);
	free(c);
}

/* The name the target's certificate must carry: a DNS name (no partial
 * wildcards such as "f*.example.com"), or an address. */
static int set_verified_name(SSL *ssl, const char *name, bool ip)
{
	if (ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 ? 0 : -EINVAL;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, name) == 1 ? 0 : -ENOMEM;
}

SSL *nlb_tls_client_ssl(struct nlb_tls_client *c, const char *target_ip)
{
	SSL *ssl = SSL_new(c->ctx);
	if (ssl == NULL)
		return NULL;
	int r = 0;
	/* RFC 6066: SNI carries host names, never addresses. */
	if (c->server_name != NULL && !c->name_is_ip &&
	    SSL_set_tlsext_host_name(ssl, c->server_name) != 1)
		r = -ENOMEM;
	/* Verifying without a name to check would accept any certificate
	 * the CA signed: with no server_name and no address, no SSL. */
	if (r == 0 && c->verify) {
		if (c->server_name != NULL)
			r = set_verified_name(ssl, c->server_name, c->name_is_ip);
		else if (target_ip != NULL)
			r = set_verified_name(ssl, target_ip, true);
		else
			r = -EINVAL;
	}
	if (r < 0) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

bool nlb_tls_client_verifies(const struct nlb_tls_client *c)
{
	return c->verify;
}
