/* The PROXY protocol on TCP connections (stream/tcp_header.h). */
#include "stream/tcp_header.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proxyproto.h"
#include "core/worker.h"
#include "stream/tcp_tls.h"

const struct sockaddr *tcp_conn_client(const struct conn *c, struct sockaddr_storage *ss)
{
	if (c->ext && c->ext->has_addr)
		return (const struct sockaddr *)&c->ext->client;
	socklen_t len = sizeof(*ss);
	if (getpeername(c->cfd, (struct sockaddr *)ss, &len) < 0)
		return NULL;
	return (const struct sockaddr *)ss;
}

const struct sockaddr *tcp_conn_local(const struct conn *c, struct sockaddr_storage *ss)
{
	if (c->ext && c->ext->has_addr)
		return (const struct sockaddr *)&c->ext->local;
	socklen_t len = sizeof(*ss);
	if (getsockname(c->cfd, (struct sockaddr *)ss, &len) < 0)
		return NULL;
	return (const struct sockaddr *)ss;
}

/* Waits for more of the header (or its timeout): a poll, so that bytes
 * are only looked at, never taken, until a whole header is there. */
static void header_arm(struct worker *w, struct conn *c)
{
	struct conn_ext *x = c->ext;
	uint64_t left = x->deadline_ms > w->now_ms ? x->deadline_ms - w->now_ms : 0;
	x->left.tv_sec = (long long)(left / 1000);
	x->left.tv_nsec = (long long)(left % 1000) * 1000000;
	if (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_poll_add(sqe, c->cfd, POLLIN | POLLRDHUP);
	io_uring_sqe_set_data64(sqe, ud_pack(TCP_OP_HEADER_POLL, c->slot.idx, c->slot.gen));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = nlb_ring_sqe(&w->ring);
	io_uring_prep_link_timeout(sqe, &x->left, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(TCP_OP_HEADER_TIMEOUT, c->slot.idx, c->slot.gen));
	c->inflight += 2;
}

int tcp_header_start(struct worker *w, struct conn *c)
{
	struct conn_ext *x = w->tcp.ext_free;
	if (x)
		w->tcp.ext_free = x->next_free;
	else if (!(x = malloc(sizeof(*x)))) {
		STAT_INC(wstats(w, c->listener), nomem);
		return -ENOMEM;
	}
	c->ext = x;
	x->has_addr = false;
	x->lowat = false;
	x->deadline_ms = w->now_ms + w->rt->listeners[c->listener].conf->proxy_protocol_timeout_ms;
	c->state = CONN_HEADER;
	header_arm(w, c);
	return 0;
}

void tcp_header_release(struct tcp_worker *t, struct conn *c)
{
	if (!c->ext)
		return;
	c->ext->next_free = t->ext_free;
	t->ext_free = c->ext;
	c->ext = NULL;
}

static int refuse(struct worker *w, struct conn *c, const char *why)
{
	STAT_INC(wstats(w, c->listener), proxy_header_invalid);
	nlb_debug_rl("listener %s: client closed: %s", w->rt->listeners[c->listener].conf->name, why);
	return -EPROTO;
}

/* Bytes (or the end) arrived: peek at all of them; a whole header is
 * then read off the socket, exactly, and the rest stays for the target. */
static int header_read(struct worker *w, struct conn *c, unsigned revents)
{
	struct conn_ext *x = c->ext;
	ssize_t n = recv(c->cfd, x->buf, sizeof(x->buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		header_arm(w, c);
		return 0;
	}
	if (n <= 0)
		return refuse(w, c, n == 0 ? "closed before a PROXY header" : strerror(errno));
	struct nlb_proxyproto pp;
	int r = nlb_proxyproto_parse(x->buf, (size_t)n, &pp);
	if (r == -EAGAIN) {
		if (revents & (POLLRDHUP | POLLHUP | POLLERR))
			return refuse(w, c, "closed in the middle of a PROXY header");
		/* Wake up only once there is more than what was seen. */
		int want = (int)n + 1;
		setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want));
		x->lowat = true;
		header_arm(w, c);
		return 0;
	}
	if (r < 0)
		return refuse(w, c, r == -EMSGSIZE ? "PROXY header too long" : "bad PROXY header");
	if (recv(c->cfd, x->buf, (size_t)r, MSG_DONTWAIT) != r)
		return refuse(w, c, "PROXY header could not be read off the socket");
	if (x->lowat) {
		int one = 1;
		setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	}
	if (pp.has_addr) {
		x->client = pp.src;
		x->local = pp.dst;
		x->has_addr = true;
	}
	return 1;
}

int tcp_header_on_poll(struct worker *w, struct conn *c, int res)
{
	if (res == -ECANCELED) {
		/* the linked timeout went off first */
		STAT_INC(wstats(w, c->listener), proxy_header_timeout);
		return -ETIMEDOUT;
	}
	if (res < 0)
		return refuse(w, c, strerror(-res));
	return header_read(w, c, (unsigned)res);
}

/* What a TLS client's handshake said, for its target: the SNI
 * (PP2_TYPE_AUTHORITY), the ALPN chosen and PP2_TYPE_SSL, as HAProxy's
 * send-proxy-v2-ssl and the AWS NLB's TLS listeners send them. */
static int add_tls_tlvs(uint8_t *hdr, size_t cap, size_t n, SSL *ssl)
{
	int r = (int)n;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (sni && *sni)
		r = nlb_proxyproto_add_tlv(hdr, cap, (size_t)r, NLB_PP2_TYPE_AUTHORITY, sni,
					   strlen(sni));
	const unsigned char *alpn;
	unsigned alpn_len = 0;
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (r > 0 && alpn_len)
		r = nlb_proxyproto_add_tlv(hdr, cap, (size_t)r, NLB_PP2_TYPE_ALPN, alpn, alpn_len);
	uint8_t v[NLB_PROXYPROTO_SSL_VALUE_MAX];
	int nv = nlb_proxyproto_ssl_value(v, sizeof(v), SSL_get_version(ssl),
					  SSL_get_cipher_name(ssl));
	if (r > 0 && nv > 0)
		r = nlb_proxyproto_add_tlv(hdr, cap, (size_t)r, NLB_PP2_TYPE_SSL, v, (size_t)nv);
	return r;
}

int tcp_header_send(const struct conn *c, enum nlb_proxy_protocol version)
{
	/* Just connected, the socket's send buffer is empty, so these few
	 * bytes leave at once and whole: a plain send, not a ring
	 * operation. */
	struct sockaddr_storage peer, local;
	const struct sockaddr *src = tcp_conn_client(c, &peer);
	const struct sockaddr *dst = tcp_conn_local(c, &local);
	if (!src || !dst)
		return -errno;
	uint8_t hdr[NLB_PROXYPROTO_V2_MAX];
	int n = version == NLB_PP_V1 ? nlb_proxyproto_write_v1(hdr, sizeof(hdr), src, dst) :
		nlb_proxyproto_write_v2(hdr, sizeof(hdr), SOCK_STREAM, src, dst);
	if (n > 0 && version == NLB_PP_V2 && c->tls && c->tls->end[END_CLIENT].ssl)
		n = add_tls_tlvs(hdr, sizeof(hdr), (size_t)n, c->tls->end[END_CLIENT].ssl);
	if (n < 0)
		return n;
	ssize_t sent = send(c->tfd, hdr, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent < 0)
		return -errno;
	return sent == n ? 0 : -EAGAIN;
}
