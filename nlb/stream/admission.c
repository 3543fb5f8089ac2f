/* Allow/deny lists and per-source limits at the door of each listener
 * (see admission.h).  The lists live in the configuration snapshot and
 * are only read; the per-source tables are the worker's own. */
#include "stream/admission.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>

#include "srclimit.h"

int admission_listener_init(struct worker *w, uint32_t l)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[l].conf;
	if (!lc->max_connections_per_source && !lc->new_connections_per_source_per_s)
		return 0;
	/* Sources are the attacker's choice: the table's hash is keyed
	 * with a secret of this worker's. */
	uint8_t key[16];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return -EIO;
	return nlb_srclimit_init(&w->listeners[l].srclimit, lc->max_connections_per_source,
				 lc->new_connections_per_source_per_s,
				 nlb_srclimit_capacity(lc->max_connections), key);
}

int admission_worker_init(struct worker *w)
{
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++) {
		int ret = admission_listener_init(w, (uint32_t)l);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void admission_worker_free(struct worker *w)
{
	if (!w->listeners)
		return;
	for (size_t l = 0; l < w->rt->cfg->n_listeners; l++)
		nlb_srclimit_free(&w->listeners[l].srclimit);
}

/* The 16-byte form the lists and tables use: IPv4 as ::ffff:a.b.c.d. */
static int addr16(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family != AF_INET)
		return -EAFNOSUPPORT;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	return 0;
}

int admission_check(struct worker *w, uint32_t lidx, const struct sockaddr *client, bool udp,
		    uint32_t *slot)
{
	const struct nlb_listener_conf *lc = w->rt->listeners[lidx].conf;
	struct worker_stats *st = wstats(w, lidx);
	*slot = NLB_SRCLIMIT_NO_SLOT;
	uint8_t a[16];
	int ret;
	if (addr16(client, a) < 0) {
		/* No address to judge (never for TCP or UDP over IP): only a
		 * listener without lists or limits lets it in. */
		if (!lc->allow && !lc->deny && !w->listeners[lidx].srclimit.entries)
			return 0;
		ret = -EACCES;
	} else if ((lc->deny && nlb_acl_match(lc->deny, a)) ||
		   (lc->allow && !nlb_acl_match(lc->allow, a))) {
		ret = -EACCES;
	} else {
		ret = nlb_srclimit_admit(&w->listeners[lidx].srclimit, a, w->now_ms * 1000000ull,
					 slot);
	}
	if (ret == -EACCES) {
		if (udp)
			STAT_INC(st, udp_acl_denied);
		else
			STAT_INC(st, acl_denied);
	} else if (ret == -EAGAIN) {
		if (udp)
			STAT_INC(st, udp_source_rate);
		else
			STAT_INC(st, source_rate);
	} else if (ret < 0) {
		if (udp)
			STAT_INC(st, udp_source_limit);
		else
			STAT_INC(st, source_limit);
	}
	return ret;
}

void admission_release(struct worker *w, uint32_t lidx, uint32_t slot)
{
	nlb_srclimit_release(&w->listeners[lidx].srclimit, slot);
}

bool admission_accept(struct worker *w, uint32_t lidx, int fd)
{
	struct listener_rt *lr = &w->rt->listeners[lidx];
	uint32_t max = lr->conf->max_connections;
	if (atomic_load_explicit(&w->rt->memory_over, memory_order_relaxed)) {
		STAT_INC(wstats(w, lidx), memory_refused);
		worker_close_reset(fd);
		return false;
	}
	if (max) {
		uint32_t n = atomic_fetch_add_explicit(&lr->active, 1, memory_order_relaxed);
		if (n >= max) {
			atomic_fetch_sub_explicit(&lr->active, 1, memory_order_relaxed);
			STAT_INC(wstats(w, lidx), limit);
			worker_close_reset(fd);
			return false;
		}
	}
	return true;
}
