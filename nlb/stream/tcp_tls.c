/* The TLS layer of a proxied TCP connection (stream/tcp_tls.h): two
 * lib/tls_end.h ends, and plaintext moved from one to the other. */
#include "stream/tcp_tls.h"

#include <errno.h>
#include <stdlib.h>

#include "tunables.h"

struct conn_tls *tls_conn_new(void)
{
	struct conn_tls *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	if (nlb_tls_end_init(&x->end[0]) < 0 || nlb_tls_end_init(&x->end[1]) < 0) {
		BIO_free(x->end[0].out);
		free(x);
		return NULL;
	}
	return x;
}

void tls_conn_free(struct nlb_tls_pool *pool, struct conn_tls *x)
{
	if (!x)
		return;
	for (int e = 0; e < 2; e++)
		nlb_tls_end_fini(&x->end[e], pool);
	free(x);
}

int tls_input(struct conn_tls *x, int end, const void *p, uint32_t len)
{
	if (x->end[end].ssl)
		return nlb_tls_end_feed(&x->end[end], p, len);
	return nlb_tls_end_write(&x->end[!end], p, len);
}

int tls_read(struct conn_tls *x, int end, uint64_t *moved)
{
	uint8_t chunk[NLB_TLS_READ_CHUNK];
	*moved = 0;
	for (;;) {
		int n = nlb_tls_end_read(&x->end[end], chunk, sizeof(chunk), &x->fail);
		if (n == 0)
			return 0;
		if (n == -EPIPE)
			return 1;
		if (n < 0 || nlb_tls_end_write(&x->end[!end], chunk, (uint32_t)n) < 0)
			return -1;
		*moved += (uint64_t)n;
	}
}
