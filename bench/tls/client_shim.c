/* bench/tls/client_shim.c: preloaded (LD_PRELOAD) into bench/compare's TLS
 * clients, wrk and curl; bench/compare builds it into its temp dir (it is
 * not part of nlb-bench, which the Makefile builds from the .c files at
 * the top of bench/ only).  Two jobs:
 *
 * No resumption.  wrk keeps one SSL object per connection and, between
 * connections, SSL_shutdown()s and SSL_clear()s it, which keeps the last
 * session: the next SSL_connect offers it (a TLS 1.3 ticket, a TLS 1.2
 * session id or ticket) and a server that issues tickets resumes it.
 * Every balancer is configured to issue none (nlb's session_tickets =
 * 0), and so that a full handshake is what is measured even if one did,
 * the shim drops the saved session before each handshake starts.
 *
 * A record.  With NLB_TLS_SHIM_LOG=FILE, at exit the process appends one
 * line to FILE: the handshakes it completed, how many of them resumed a
 * session (0 unless something else offered one), and the first one's
 * protocol version, cipher and key-exchange group, e.g.
 *   handshakes=5120 resumed=0 version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 group=X25519
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_ulong handshakes, resumed;
static atomic_int first_taken;
static char first[200];

int SSL_connect(SSL *s)
{
	static int (*real)(SSL *);
	if (!real) {
		real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
		if (!real)
			abort();
	}
	/* A non-blocking handshake calls SSL_connect again until it is done:
	 * only the first call of each connection finds it "before". */
	if (SSL_in_before(s) && SSL_get_session(s))
		SSL_set_session(s, NULL);
	int r = real(s);
	if (r == 1) {
		atomic_fetch_add(&handshakes, 1);
		if (SSL_session_reused(s))
			atomic_fetch_add(&resumed, 1);
		if (!atomic_exchange(&first_taken, 1)) {
			int nid = (int)SSL_get_negotiated_group(s);
			const char *g = nid > 0 ? OBJ_nid2sn(nid) : NULL;
			snprintf(first, sizeof(first), "version=%s cipher=%s group=%s",
				 SSL_get_version(s), SSL_get_cipher_name(s), g ? g : "none");
		}
	}
	return r;
}

__attribute__((destructor)) static void shim_log(void)
{
	const char *path = getenv("NLB_TLS_SHIM_LOG");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "a");
	if (!f)
		return;
	fprintf(f, "handshakes=%lu resumed=%lu %s\n", atomic_load(&handshakes),
		atomic_load(&resumed), first_taken ? first : "version=none cipher=none group=none");
	fclose(f);
}
