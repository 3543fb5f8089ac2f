/* The health-probe thread.  Each probe is a non-blocking connect (tcp),
 * or connect, GET and status line (http), each over TLS for tls and
 * https (OpenSSL on memory BIOs, as in the workers; the socket stays
 * the probe's own), driven by one epoll loop with a
 * deadline per probe, so a slow target never holds up the others.  There
 * is one probe per target slot; a slot taken by a new target starts over
 * (first probes spread over min(interval, 1 s)), a draining or free one
 * is not probed.  State changes wait in their probes and go out per group
 * in batches (publish_due): stored in the group's health array and
 * published as one new table under the control-plane lock, then logged. */
#include "clock.h"
#include "control/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "balance/pick.h"
#include "balance/target_set.h"
#include "health_check.h"
#include "addr.h"
#include "log.h"
#include "proxyproto.h"
#include "tls_client.h"
#include "tls_error.h"
#include "tunables.h"

enum probe_phase {
	PROBE_IDLE = 0,
	PROBE_CONNECTING,
	PROBE_SENDING,
	PROBE_READING,
	PROBE_TLS,		/* handshake (tls, https) */
	PROBE_TLS_READING,	/* https: the status line, over TLS */
};

struct health_probe {
	size_t group;
	uint32_t target;	/* slot */
	uint32_t gen;		/* of the slot's target this probe follows */
	bool active;		/* the slot holds an ACTIVE target */
	struct nlb_addr addr;	/* copied under the lock when the slot changes */
	char addr_text[NLB_ADDRSTRLEN];
	int fd;
	enum probe_phase phase;
	uint64_t next_ms;	/* when the next probe starts */
	uint64_t deadline_ms;	/* when the running one times out */
	struct nlb_hc_target st;
	uint64_t passive_base;	/* live failures already accounted for */
	size_t sent, got;
	char *buf;		/* PROBE_BUF_SIZE bytes: request out, status line in */
	SSL *ssl;		/* tls, https: with memory BIOs */
	BIO *rbio, *wbio;
	/* A change decided, waiting for the group's next publish. */
	bool pending;
	enum nlb_hc_state pending_from, pending_to;
	char pending_why[64];
};

/* The longest PROXY header an encoder writes: a v1 line, 107 bytes
 * (NLB_PROXYPROTO_V1_MAX counts a NUL), is longer than any v2 header
 * nlb writes.  Probes send the 15- or 16-byte LOCAL forms; room for the
 * longest keeps the buffer right whatever form they send. */
#define PROBE_PP_MAX								\
	(NLB_PROXYPROTO_V1_MAX - 1 > NLB_PROXYPROTO_V2_MAX_OUT ?		\
	 NLB_PROXYPROTO_V1_MAX - 1 : NLB_PROXYPROTO_V2_MAX_OUT)

/* A probe's buffer: the PROXY header, then the request with the longest
 * path the loader takes (NLB_HC_PATH_MAX) and the longest Host, a
 * target's address text (an IPv6 one); 1.3 KiB.  It reads the status
 * line back too. */
#define PROBE_BUF_SIZE (PROBE_PP_MAX + NLB_HC_REQUEST_ROOM(NLB_ADDRSTRLEN - 1))

_Static_assert(PROBE_BUF_SIZE >= PROBE_PP_MAX +
	       NLB_HC_REQUEST_ROOM(sizeof(((struct target_rt *)0)->addr_text) - 1),
	       "a probe's buffer holds a PROXY header and any request the loader allows");
_Static_assert(PROBE_BUF_SIZE >= NLB_HC_STATUS_LINE_MAX,
	       "a probe's buffer holds any status line nlb_hc_http_status takes");


static const struct nlb_health_conf *probe_conf(const struct health *h,
						const struct health_probe *p)
{
	return &h->rt->groups[p->group].conf->health;
}

/* Stores, publishes and logs the changes waiting in group g's probes:
 * one table for all of them.  The health thread's only publish. */
static void publish_group(struct health *h, size_t g)
{
	struct nlb_runtime *rt = h->rt;
	const struct group_rt *grt = &rt->groups[g];
	struct health_probe *ps = h->probes[g];
	h->batches[g].dirty = false;
	if (!ps)		/* the group lost its check: nothing to say */
		return;
	uint32_t applied = 0;
	pthread_mutex_lock(&rt->ctl_lock);
	bool enabled = grt->conf->health.enabled;
	for (uint32_t i = 0; i < h->n_probes[g]; i++) {
		struct health_probe *p = &ps[i];
		if (!p->pending)
			continue;
		const struct target_rt *t = &grt->targets[i];
		/* The slot may have changed hands since the probe began, and a
		 * reload may have removed the check (targets_health_off). */
		if (atomic_load_explicit(&t->gen, memory_order_relaxed) == p->gen &&
		    atomic_load_explicit(&t->state, memory_order_relaxed) == TARGET_ACTIVE &&
		    enabled) {
			atomic_store_explicit(&grt->health[i], (uint8_t)p->pending_to,
					      memory_order_relaxed);
			applied++;
		} else {
			p->pending = false;
		}
	}
	if (applied) {
		targets_publish(rt, g);
		h->batches[g].hold_until_ms = nlb_clock_ms() + NLB_HEALTH_PUBLISH_HOLD_MS;
	}
	pthread_mutex_unlock(&rt->ctl_lock);
	/* Logged once the workers' table says so too: whoever reads a line
	 * (an operator, a test) sees the change in force. */
	for (uint32_t i = 0; applied && i < h->n_probes[g]; i++) {
		struct health_probe *p = &ps[i];
		if (!p->pending)
			continue;
		p->pending = false;
		atomic_fetch_add_explicit(&h->counters.changes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&h->groups[g].changes, 1, memory_order_relaxed);
		nlb_info("target %s in group %s: %s -> %s (%s)", p->addr_text, grt->conf->name,
			 nlb_hc_state_name(p->pending_from), nlb_hc_state_name(p->pending_to),
			 p->pending_why);
	}
}

/* Publishes the batch of each group whose hold-down has passed (the
 * first change after a quiet period goes out at once); returns when the
 * next waiting batch is due, UINT64_MAX if none waits. */
static uint64_t publish_due(struct health *h, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (size_t g = 0; g < h->n_groups; g++) {
		const struct health_batch *b = &h->batches[g];
		if (!b->dirty)
			continue;
		if (now >= b->hold_until_ms)
			publish_group(h, g);
		else if (b->hold_until_ms < next)
			next = b->hold_until_ms;
	}
	return next;
}

/* A change of p's target, probe or passive: it waits in p for the
 * group's batch (publish_due).  A second change of the same target
 * before then publishes the batch at once, so each change is logged,
 * in order, after a table that had it. */
static void set_state(struct health *h, struct health_probe *p, enum nlb_hc_state from,
		      enum nlb_hc_state to, const char *why)
{
	if (p->pending)
		publish_group(h, p->group);
	p->pending = true;
	p->pending_from = from;
	p->pending_to = to;
	snprintf(p->pending_why, sizeof(p->pending_why), "%s", why);
	h->batches[p->group].dirty = true;
}

static void probe_close(struct health_probe *p)
{
	if (p->ssl) {
		SSL_free(p->ssl);	/* and its BIOs */
		p->ssl = NULL;
		ERR_clear_error();
	}
	if (p->fd >= 0) {
		/* Close with a reset, as HAProxy's checks do: a probe every
		 * 100 ms per target would otherwise leave thousands of
		 * sockets in TIME_WAIT on the balancer. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(p->fd);	/* also leaves the epoll set */
	}
	p->fd = -1;
	p->phase = PROBE_IDLE;
}

/* hc: the probe's settings, read once per event (a reload may replace
 * them meanwhile; QSBR keeps these valid through the iteration). */
static void probe_done(struct health *h, struct health_probe *p,
		       const struct nlb_health_conf *hc, bool pass, const char *why)
{
	probe_close(p);
	atomic_fetch_add_explicit(&h->counters.probes_done, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(pass ? &h->groups[p->group].passed : &h->groups[p->group].failed,
				  1, memory_order_relaxed);
	enum nlb_hc_state from = p->st.state;
	enum nlb_hc_state to = nlb_hc_observe(&p->st, pass, hc->healthy_threshold,
					       hc->unhealthy_threshold);
	if (to != from)
		set_state(h, p, from, to, why);
	/* Keep the probe's slot in the interval, and never run behind. */
	uint64_t now = nlb_clock_ms();
	p->next_ms += hc->interval_ms;
	if (p->next_ms <= now)
		p->next_ms = now + hc->interval_ms;
}

static void probe_start(struct health *h, struct health_probe *p,
			const struct nlb_health_conf *hc, uint64_t now)
{
	struct sockaddr_storage ss = p->addr.ss;
	if (hc->port) {
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)hc->port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)hc->port);
	}
	p->deadline_ms = now + hc->timeout_ms;
	p->sent = p->got = 0;
	p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		/* Our own shortage, not the target's fault: try next time. */
		nlb_warn_rl("health check of %s: socket: %s", p->addr_text, strerror(errno));
		p->phase = PROBE_IDLE;
		p->next_ms = now + hc->interval_ms;
		return;
	}
	p->phase = PROBE_CONNECTING;
	if (connect(p->fd, (struct sockaddr *)&ss, p->addr.len) < 0 && errno != EINPROGRESS) {
		probe_done(h, p, hc, false, errno == ECONNREFUSED ? "connect refused" : strerror(errno));
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = p };
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0)
		probe_done(h, p, hc, false, "epoll");
}

static bool status_line(struct health *h, struct health_probe *p,
			const struct nlb_health_conf *hc);
static void tls_event(struct health *h, struct health_probe *p,
		      const struct nlb_health_conf *hc);

/* ---- tls, https: the handshake and the request over memory BIOs ---- */

/* What the probe's TLS wrote goes out (as much as the socket takes: the
 * rest stays in the BIO), what the socket holds goes in.  Returns the
 * bytes that came in, or -1 when the target closed or failed (why set;
 * what came before is in the BIO still). */
static long tls_pump(struct health_probe *p, const char **why)
{
	char *data;
	long n, got = 0;
	while ((n = BIO_get_mem_data(p->wbio, &data)) > 0) {
		ssize_t w = send(p->fd, data, (size_t)n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN)
				break;
			*why = strerror(errno);
			return -1;
		}
		char sink[4096];
		for (ssize_t left = w; left > 0;) {
			int k = BIO_read(p->wbio, sink, left < (ssize_t)sizeof(sink) ? (int)left :
							(int)sizeof(sink));
			if (k <= 0)
				break;
			left -= k;
		}
	}
	for (;;) {
		char in[4096];
		ssize_t r = recv(p->fd, in, sizeof(in), 0);
		if (r > 0) {
			BIO_write(p->rbio, in, (int)r);
			got += r;
			continue;
		}
		if (r < 0 && errno == EAGAIN)
			return got;
		*why = r == 0 ? "closed during TLS" : strerror(errno);
		return -1;
	}
}

/* Waits for what the TLS needs next: room while bytes are owed. */
static void tls_wait(struct health *h, struct health_probe *p)
{
	struct epoll_event ev = { .events = EPOLLIN | (BIO_ctrl_pending(p->wbio) ? EPOLLOUT : 0),
				  .data.ptr = p };
	epoll_ctl(h->epfd, EPOLL_CTL_MOD, p->fd, &ev);
}

static void tls_start(struct health *h, struct health_probe *p, const struct nlb_health_conf *hc)
{
	struct nlb_tls_client *client = hc->tls_client ? hc->tls_client :
					h->rt->groups[p->group].conf->tls.client;
	char ip[INET6_ADDRSTRLEN] = "";
	const struct sockaddr_storage *ss = &p->addr.ss;
	nlb_addr_host((const struct sockaddr *)ss, ip, sizeof(ip));
	p->ssl = client ? nlb_tls_client_ssl(client, ip) : NULL;
	p->rbio = BIO_new(BIO_s_mem());
	p->wbio = BIO_new(BIO_s_mem());
	if (!p->ssl || !p->rbio || !p->wbio) {
		BIO_free(p->rbio);
		BIO_free(p->wbio);
		probe_close(p);
		/* Our own shortage, not the target's fault: try next time. */
		p->next_ms = nlb_clock_ms() + hc->interval_ms;
		return;
	}
	BIO_set_mem_eof_return(p->rbio, -1);
	SSL_set_bio(p->ssl, p->rbio, p->wbio);
	p->phase = PROBE_TLS;
	p->got = 0;
	tls_event(h, p, hc);
}

static void tls_event(struct health *h, struct health_probe *p,
		      const struct nlb_health_conf *hc)
{
	/* Until the socket has nothing new and the TLS nothing to send:
	 * bytes read while flushing may finish a step at once. */
	for (int round = 0; round < 16; round++) {
		const char *why = "closed during TLS";
		long got = tls_pump(p, &why);
		if (p->phase == PROBE_TLS) {
			int r = SSL_do_handshake(p->ssl);
			if (r != 1) {
				int e = SSL_get_error(p->ssl, r);
				if (e == SSL_ERROR_WANT_READ && got >= 0) {
					if (got > 0 || BIO_ctrl_pending(p->wbio))
						continue;
					tls_wait(h, p);
					return;
				}
				char msg[64];
				snprintf(msg, sizeof(msg), "TLS handshake: %s",
					 e == SSL_ERROR_WANT_READ ? why :
					 nlb_tls_fail_name(nlb_tls_fail_classify(p->ssl, e)));
				probe_done(h, p, hc, false, msg);
				return;
			}
			if (hc->protocol == NLB_HC_TLS) {
				probe_done(h, p, hc, true, "TLS handshake");
				return;
			}
			int n = nlb_hc_http_request(p->buf, PROBE_BUF_SIZE, hc->path, p->addr_text);
			if (n < 0 || SSL_write(p->ssl, p->buf, n) != n) {
				probe_done(h, p, hc, false, "request not written");
				return;
			}
			p->phase = PROBE_TLS_READING;
			p->got = 0;
			continue;
		}
		for (;;) {
			int n = SSL_read(p->ssl, p->buf + p->got, (int)(PROBE_BUF_SIZE - p->got));
			if (n <= 0)
				break;
			p->got += (size_t)n;
			if (status_line(h, p, hc))
				return;
		}
		if (got < 0) {
			probe_done(h, p, hc, false, "closed before a status line");
			return;
		}
		if (got == 0 && !BIO_ctrl_pending(p->wbio))
			break;
	}
	tls_wait(h, p);
}

static void probe_event(struct health *h, struct health_probe *p,
			const struct nlb_health_conf *hc)
{
	if (p->phase == PROBE_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			probe_done(h, p, hc, false, err == ECONNREFUSED ? "connect refused" : strerror(err));
			return;
		}
		/* health_check.proxy_protocol: the spec's header for a
		 * connection of the proxy's own (v1 UNKNOWN, v2 LOCAL), so
		 * a target that requires one accepts the probe. */
		int pp = 0;
		if (hc->proxy_protocol)
			pp = nlb_proxyproto_write_local((uint8_t *)p->buf, PROBE_BUF_SIZE,
				h->rt->groups[p->group].conf->proxy_protocol == NLB_PP_V1 ? 1 : 2);
		int n = 0;
		if (hc->protocol == NLB_HC_HTTP)
			n = nlb_hc_http_request(p->buf + pp, PROBE_BUF_SIZE - (size_t)pp, hc->path,
						p->addr_text);
		bool tls = hc->protocol == NLB_HC_TLS || hc->protocol == NLB_HC_HTTPS;
		if (pp < 0 || n < 0) {
			/* The loader checked the path and the buffer is sized
			 * for it: this would be a bug. */
			probe_done(h, p, hc, false, n == -EINVAL ? "request refused (path or host)" :
				   "request does not fit");
			return;
		}
		if (pp + n == 0 && !tls) {
			probe_done(h, p, hc, true, "connected");
			return;
		}
		if (pp + n == 0) {
			tls_start(h, p, hc);
			return;
		}
		p->got = (size_t)(pp + n);	/* request length while sending */
		p->phase = PROBE_SENDING;
	}
	if (p->phase == PROBE_SENDING) {
		ssize_t w = send(p->fd, p->buf + p->sent, p->got - p->sent, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN) {
			probe_done(h, p, hc, false, strerror(errno));
			return;
		}
		if (w > 0)
			p->sent += (size_t)w;
		if (p->sent < p->got)
			return;
		if (hc->protocol == NLB_HC_TCP) {
			probe_done(h, p, hc, true, "connected, PROXY header sent");
			return;
		}
		if (hc->protocol != NLB_HC_HTTP) {
			tls_start(h, p, hc);
			return;
		}
		p->phase = PROBE_READING;
		p->got = 0;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
		epoll_ctl(h->epfd, EPOLL_CTL_MOD, p->fd, &ev);
		return;
	}
	if (p->phase == PROBE_TLS || p->phase == PROBE_TLS_READING) {
		tls_event(h, p, hc);
		return;
	}
	/* reading the status line */
	ssize_t r = recv(p->fd, p->buf + p->got, PROBE_BUF_SIZE - p->got, 0);
	if (r < 0) {
		if (errno != EAGAIN)
			probe_done(h, p, hc, false, strerror(errno));
		return;
	}
	if (r == 0) {
		probe_done(h, p, hc, false, "closed before a status line");
		return;
	}
	p->got += (size_t)r;
	status_line(h, p, hc);
}

/* The status line read so far (p->buf, p->got bytes): judged once it
 * is whole, or once the buffer is full; true when it was (the probe is
 * done). */
static bool status_line(struct health *h, struct health_probe *p, const struct nlb_health_conf *hc)
{
	bool pass;
	char why[48];
	if (nlb_hc_http_verdict(p->buf, p->got, PROBE_BUF_SIZE, &hc->matcher, &pass, why,
				sizeof(why)) == -EAGAIN)
		return false;
	probe_done(h, p, hc, pass, why);
	return true;
}

static uint64_t live_failures(const struct health *h, const struct health_probe *p)
{
	const struct group_rt *g = &h->rt->groups[p->group];
	uint64_t sum = 0;
	for (unsigned w = 0; w < h->rt->n_workers; w++)
		sum += atomic_load_explicit(&g->live_fail[w * g->active_stride + p->target],
					    memory_order_relaxed);
	return sum;
}

static void group_probes_free(struct health *h, size_t g)
{
	struct health_probe *ps = h->probes[g];
	for (uint32_t t = 0; ps && t < h->n_probes[g]; t++)
		probe_close(&ps[t]);
	free(ps);
	h->probes[g] = NULL;
	h->n_probes[g] = 0;
}

/* Group g's probes, one per target slot, once it has a health check.
 * Their buffers follow them in the same allocation: a large one is
 * mapped lazily, so the buffers of slots never probed cost no memory. */
static struct health_probe *group_probes(struct health *h, size_t g)
{
	if (h->probes[g])
		return h->probes[g];
	uint32_t n = h->rt->groups[g].max_targets;
	size_t each = sizeof(struct health_probe) + PROBE_BUF_SIZE;
	struct health_probe *ps = calloc(n ? n : 1, each);
	if (!ps)
		return NULL;
	char *bufs = (char *)(ps + n);
	for (uint32_t t = 0; t < n; t++) {
		ps[t].group = g;
		ps[t].target = t;
		ps[t].fd = -1;
		ps[t].buf = bufs + (size_t)t * PROBE_BUF_SIZE;
	}
	h->probes[g] = ps;
	h->n_probes[g] = n;
	return ps;
}

/* Follows the slots after a reload (or the admin socket) changed them:
 * a group that gained a check gets probes, one that lost it (or was
 * removed) loses them; a new target starts from "initial" and is probed
 * soon; a draining or free slot is not probed.  A probe starts from the
 * target's health as the workers see it: "initial" for a new target,
 * "healthy" for one of a group whose check a reload just added (it kept
 * taking flows, and fails its way out). */
static void sync_slots(struct health *h, uint64_t now)
{
	struct nlb_runtime *rt = h->rt;
	uint64_t v = atomic_load_explicit(&rt->targets_version, memory_order_acquire);
	if (v == h->version)
		return;
	h->version = v;
	pthread_mutex_lock(&rt->ctl_lock);
	const struct nlb_config *cfg = rt->cfg;
	h->n_groups = cfg->n_groups;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct group_rt *grt = &rt->groups[g];
		const struct nlb_health_conf *hc = &grt->conf->health;
		if (!hc->enabled) {
			group_probes_free(h, g);
			continue;
		}
		struct health_probe *ps = group_probes(h, g);
		if (!ps) {
			nlb_warn_rl("health checks of target group %s: out of memory; retrying",
				    grt->conf->name);
			h->version = UINT64_MAX;
			continue;
		}
		for (uint32_t i = 0; i < grt->n_slots; i++) {
			struct health_probe *p = &ps[i];
			const struct target_rt *t = &grt->targets[i];
			bool active = atomic_load_explicit(&t->state, memory_order_relaxed) ==
				      TARGET_ACTIVE;
			uint32_t gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
			if (active && p->active && gen == p->gen)
				continue;
			probe_close(p);
			p->pending = false;	/* about a target no longer here */
			p->active = active;
			if (!active)
				continue;
			p->gen = gen;
			p->addr = t->addr;
			memcpy(p->addr_text, t->addr_text, sizeof(p->addr_text));
			memset(&p->st, 0, sizeof(p->st));
			p->st.state = (enum nlb_hc_state)atomic_load_explicit(&grt->health[i],
									     memory_order_relaxed);
			p->passive_base = live_failures(h, p);
			/* First probes soon (a fresh target takes flows only once it
			 * passed), spread so they are not one burst. */
			uint64_t window = hc->interval_ms < 1000 ? hc->interval_ms : 1000;
			p->next_ms = now + window * i / grt->n_slots;
		}
	}
	pthread_mutex_unlock(&rt->ctl_lock);
}

/* Passive detection: workers count failed connects in a row per target;
 * unhealthy_threshold of them mark a target unhealthy at once. */
static void passive_check(struct health *h, struct health_probe *p,
			  const struct nlb_health_conf *hc)
{
	uint64_t sum = live_failures(h, p);
	if (sum < p->passive_base)	/* a success reset some rows */
		p->passive_base = sum;
	if (p->st.state == NLB_HC_UNHEALTHY) {
		p->passive_base = sum;
		return;
	}
	if (sum - p->passive_base >= hc->unhealthy_threshold) {
		char why[64];
		snprintf(why, sizeof(why), "passive: %llu failed connects in a row",
			 (unsigned long long)(sum - p->passive_base));
		enum nlb_hc_state from = p->st.state;
		p->st.state = NLB_HC_UNHEALTHY;
		p->st.passes = 0;
		p->st.fails = hc->unhealthy_threshold;
		p->passive_base = sum;
		set_state(h, p, from, NLB_HC_UNHEALTHY, why);
	}
}

/* Starts and times out probes, and checks passive failures; returns
 * the earliest time anything is due. */
static uint64_t run_probes(struct health *h, uint64_t now, uint64_t wake)
{
	for (size_t g = 0; g < h->n_groups; g++) {
		struct health_probe *ps = h->probes[g];
		for (uint32_t i = 0; ps && i < h->n_probes[g]; i++) {
			struct health_probe *p = &ps[i];
			if (!p->active)
				continue;
			const struct nlb_health_conf *hc = probe_conf(h, p);
			if (!hc->enabled)	/* removed by a reload: sync_slots frees it */
				continue;
			if (p->phase == PROBE_IDLE && now >= p->next_ms)
				probe_start(h, p, hc, now);
			if (p->phase != PROBE_IDLE && now >= p->deadline_ms)
				probe_done(h, p, hc, false, "timeout");
			uint64_t t = p->phase == PROBE_IDLE ? p->next_ms : p->deadline_ms;
			if (t < wake)
				wake = t;
			if (p->active)
				passive_check(h, p, hc);
		}
	}
	return wake;
}

static void health_main(void *arg)
{
	struct health *h = arg;
	struct epoll_event stop_ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->thread.stop_fd, &stop_ev);
	for (;;) {
		/* Nothing read from a configuration survives an iteration. */
		control_thread_awake(&h->thread);
		uint64_t now = nlb_clock_ms();
		sync_slots(h, now);
		/* passive checks and slot changes at least this often */
		uint64_t wake = run_probes(h, now, now + 50);
		/* The iteration's end: the changes of run_probes and of the
		 * last wait's events go out, a batch per group. */
		now = nlb_clock_ms();
		uint64_t due = publish_due(h, now);
		if (due < wake)
			wake = due;
		now = nlb_clock_ms();
		int timeout = wake > now ? (int)(wake - now) : 0;
		struct epoll_event evs[64];
		control_thread_sleeping(&h->thread);
		int n = epoll_wait(h->epfd, evs, 64, timeout);
		control_thread_awake(&h->thread);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				goto out;
			struct health_probe *p = evs[i].data.ptr;
			const struct nlb_health_conf *hc = probe_conf(h, p);
			if (hc->enabled)
				probe_event(h, p, hc);
			else
				probe_close(p);
		}
	}
out:
	control_thread_sleeping(&h->thread);
	for (size_t g = 0; g < NLB_MAX_GROUPS; g++)
		group_probes_free(h, g);
}

int health_start(struct health *h, struct nlb_runtime *rt)
{
	memset(h, 0, sizeof(*h));
	h->rt = rt;
	h->epfd = -1;
	/* Always running: a reload may add a check to any group. */
	h->probes = calloc(NLB_MAX_GROUPS, sizeof(*h->probes));
	h->n_probes = calloc(NLB_MAX_GROUPS, sizeof(*h->n_probes));
	h->groups = calloc(NLB_MAX_GROUPS, sizeof(*h->groups));
	h->batches = calloc(NLB_MAX_GROUPS, sizeof(*h->batches));
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!h->probes || !h->n_probes || !h->groups || !h->batches || h->epfd < 0) {
		health_stop(h);
		return -ENOMEM;
	}
	h->version = UINT64_MAX;	/* the first sync_slots picks the targets up */
	int ret = control_thread_start(&h->thread, "nlb-health", rt, NLB_QSBR_HEALTH,
				       health_main, h);
	if (ret < 0) {
		health_stop(h);
		return ret;
	}
	const struct nlb_config *cfg = rt->cfg;
	size_t n = 0;
	for (size_t g = 0; g < cfg->n_groups; g++)
		n += cfg->groups[g].health.enabled ? cfg->groups[g].n_targets : 0;
	nlb_info("health checks: %zu targets", n);
	return 0;
}

void health_stop(struct health *h)
{
	control_thread_stop(&h->thread);	/* it freed the probes */
	if (h->epfd >= 0)
		close(h->epfd);
	h->epfd = -1;
	free(h->probes);
	h->probes = NULL;
	free(h->n_probes);
	h->n_probes = NULL;
	free(h->groups);
	h->groups = NULL;
	free(h->batches);
	h->batches = NULL;
}
