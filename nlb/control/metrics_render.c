/* What a scrape says: every metric family of the table (counter_table.h)
 * in its order, in text format 0.0.4: the listeners' and workers' series
 * summed from the workers' counter rows as the table says, the others
 * from the target slots (copied under ctl_lock) and the health thread's
 * per-group counters. */
#include "control/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/pick.h"
#include "health_check.h"
#include "http_rules.h"
#include "tls_server.h"
#include "control/counter_table.h"
#include "balance/target_set.h"

/* A metric family being rendered; its HELP and TYPE lines go out with
 * its first sample, so a family nothing has a series for (no UDP
 * listener, no health check) is left out whole. */
struct family {
	const struct metric_family *f;
	bool started;
};

#define FAMILY(id) { .f = &nlb_metric_families[id], .started = false }

/* Label pairs, name then value, as a NULL-terminated list. */
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* One sample of f: its name and suffix (a histogram's "_bucket", "_sum",
 * "_count"; else ""), labels and value; milli: v is milliseconds, said
 * in seconds (a histogram's _sum). */
static void emit_sample(struct nlb_strbuf *b, struct family *f, const char *suffix,
			const char *const *labels, uint64_t v, bool milli)
{
	const struct metric_family *mf = f->f;
	if (!f->started) {
		nlb_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", mf->name, mf->help, mf->name,
				  mf->type);
		f->started = true;
	}
	nlb_strbuf_append(b, mf->name, strlen(mf->name));
	nlb_strbuf_append(b, suffix, strlen(suffix));
	for (size_t i = 0; labels[i]; i += 2) {
		nlb_strbuf_printf(b, "%c%s=\"", i ? ',' : '{', labels[i]);
		nlb_strbuf_label_value(b, labels[i + 1]);
		nlb_strbuf_append(b, "\"", 1);
	}
	if (milli)
		nlb_strbuf_printf(b, "%s %llu.%03llu\n", labels[0] ? "}" : "",
				  (unsigned long long)(v / 1000), (unsigned long long)(v % 1000));
	else
		nlb_strbuf_printf(b, "%s %llu\n", labels[0] ? "}" : "", (unsigned long long)v);
}

static void emit(struct nlb_strbuf *b, struct family *f, const char *const *labels, uint64_t v)
{
	emit_sample(b, f, "", labels, v, false);
}

static const char *const no_labels[] = { NULL };

static bool listener_has(const struct nlb_listener_conf *lc, enum listener_side on)
{
	return on == ON_ANY || (on == ON_TCP && nlb_proto_tcp(lc->protocol)) ||
	       (on == ON_UDP && nlb_proto_udp(lc->protocol)) ||
	       (on == ON_TLS && nlb_proto_tls(lc->protocol)) ||
	       (on == ON_HTTP && nlb_proto_http(lc->protocol)) ||
	       (on == ON_GATEWAY && lc->protocol == NLB_PROTO_GATEWAY);
}

/* nlb_announced: each prefix of announce, 1 while its route is in. */
static void render_announced(struct metrics *m, const struct nlb_config *cfg,
			     struct nlb_strbuf *b)
{
	struct family f = FAMILY(MF_ANNOUNCED);
	const _Atomic uint8_t *on = m->rt->announced;
	for (size_t i = 0; on && i < cfg->n_announce; i++)
		emit(b, &f, L("prefix", cfg->announce_prefixes[i].text),
		     atomic_load_explicit(&on[i], memory_order_relaxed));
}

/* A family of the process as a whole. */
static void render_process(struct metrics *m, enum metric_family_id id, struct nlb_strbuf *b)
{
	struct family f = FAMILY(id);
	switch (id) {
	case MF_BUILD_INFO:
		emit(b, &f, L(f.f->label, NLB_VERSION), 1);
		break;
	case MF_START_TIME:
		emit(b, &f, no_labels, (uint64_t)m->start_time);
		break;
	case MF_RESIDENT_MEMORY:
		emit(b, &f, no_labels,
		     atomic_load_explicit(&m->rt->resident_bytes, memory_order_relaxed));
		break;
	case MF_MEMORY_BUDGET:
		emit(b, &f, no_labels, (uint64_t)m->rt->cfg->max_memory_mb << 20);
		break;
	default:
		emit(b, &f, no_labels, m->n_workers);
		break;
	}
}

/* A histogram of the listeners (counter_table.h): for each listener its
 * buckets, the +Inf one last, then _sum and _count. */
static void render_listener_histogram(const struct metric_family *mf,
				      const struct nlb_config *cfg, const struct stats_sum *ls,
				      struct nlb_strbuf *b)
{
	struct family f = { .f = mf, .started = false };
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		if (!listener_has(lc, mf->series[0].on))
			continue;
		uint64_t count = 0;
		for (size_t i = 0; i < mf->n_series; i++) {
			count = metric_series_value(&mf->series[i], &ls[l]);
			emit_sample(b, &f, "_bucket", L("listener", lc->name, mf->label,
						       mf->series[i].value), count, false);
		}
		emit_sample(b, &f, "_sum", L("listener", lc->name),
			    stats_sum_get(&ls[l], mf->sum_ms), true);
		emit_sample(b, &f, "_count", L("listener", lc->name), count, false);
	}
}

/* A family of the listeners: each listener's series, as the table adds
 * them up.  cfg: the listeners in view; ls: one sum per listener. */
static void render_listener_family(const struct metric_family *mf, const struct nlb_config *cfg,
				   const struct stats_sum *ls, struct nlb_strbuf *b)
{
	if (metric_family_is_histogram(mf)) {
		render_listener_histogram(mf, cfg, ls, b);
		return;
	}
	struct family f = { .f = mf, .started = false };
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		for (size_t i = 0; i < mf->n_series; i++) {
			const struct metric_series *s = &mf->series[i];
			if (!listener_has(lc, s->on))
				continue;
			uint64_t v = metric_series_value(s, &ls[l]);
			if (s->value)
				emit(b, &f, L("listener", lc->name, mf->label, s->value), v);
			else
				emit(b, &f, L("listener", lc->name), v);
		}
	}
}

/* Each tls listener's certificates' expiry (cfg: the listeners in view). */
static void render_cert_family(const struct metric_family *mf, const struct nlb_config *cfg,
			       struct nlb_strbuf *b)
{
	struct family f = { .f = mf, .started = false };
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		if (!nlb_proto_tls(lc->protocol) || !lc->tls.server)
			continue;
		for (size_t i = 0; i < nlb_tls_server_n_certs(lc->tls.server); i++) {
			const struct nlb_tls_cert_info *ci = nlb_tls_server_cert(lc->tls.server, i);
			emit(b, &f, L("listener", lc->name, "file", ci->file),
			     ci->not_after > 0 ? (uint64_t)ci->not_after : 0);
		}
	}
}

/* Each http listener's rules' matches, and its default action's. */
static void render_rule_family(const struct metric_family *mf, const struct nlb_config *cfg,
			       struct nlb_strbuf *b)
{
	struct family f = { .f = mf, .started = false };
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		const struct nlb_http_rules *r = lc->http.rules;
		if (!nlb_proto_http(lc->protocol) || !r || !r->n)
			continue;
		char prio[16];
		for (size_t i = 0; i < r->n; i++) {
			snprintf(prio, sizeof(prio), "%u", r->rule[i].priority);
			emit(b, &f, L("listener", lc->name, "priority", prio), nlb_http_rules_hits(r, i));
		}
		emit(b, &f, L("listener", lc->name, "priority", "default"), nlb_http_rules_hits(r, r->n));
	}
}

/* A family of the workers: each worker's rows of every listener. */
static void render_worker_family(struct metrics *m, const struct metric_family *mf,
				 struct nlb_strbuf *b)
{
	struct family f = { .f = mf, .started = false };
	for (unsigned i = 0; i < m->n_workers; i++) {
		const struct worker *w = &m->workers[i];
		struct stats_sum s;
		memset(&s, 0, sizeof(s));
		for (size_t l = 0; l < w->n_stats; l++)
			stats_sum_add(&s, &w->stats[l]);
		char id[16];
		snprintf(id, sizeof(id), "%u", w->id);
		emit(b, &f, L("worker", id), metric_series_value(&mf->series[0], &s));
	}
}

/* Copies every group's used slots, one group at a time under ctl_lock
 * (reload and the health thread change slots under it; addr_text changes
 * when a freed slot is taken again).  cfg: the configuration the caller
 * renders, so that both see the same groups.  0 or -ENOMEM. */
static int snapshot_targets(struct metrics *m, const struct nlb_config *cfg)
{
	struct nlb_runtime *rt = m->rt;
	size_t need = 0;
	for (size_t g = 0; g < cfg->n_groups; g++)
		need += rt->groups[g].max_targets;
	if (need > m->snap_cap) {
		struct metrics_target *s = realloc(m->snap, need * sizeof(*s));
		if (!s)
			return -ENOMEM;
		m->snap = s;
		m->snap_cap = need;
	}
	for (size_t g = 0, at = 0; g < cfg->n_groups; g++) {
		const struct group_rt *grt = &rt->groups[g];
		struct metrics_target *s = m->snap + at;
		m->groups[g].at = at;
		at += grt->max_targets;
		pthread_mutex_lock(&rt->ctl_lock);
		uint32_t n = grt->n_slots;
		for (uint32_t i = 0; i < n; i++) {
			const struct target_rt *t = &grt->targets[i];
			s[i].state = atomic_load_explicit(&t->state, memory_order_relaxed);
			if (s[i].state == TARGET_FREE)
				continue;
			s[i].health = atomic_load_explicit(&grt->health[i], memory_order_relaxed);
			s[i].weight = t->weight;
			s[i].active = pick_active_conns(rt, g, i);
			memcpy(s[i].addr_text, t->addr_text, sizeof(s[i].addr_text));
		}
		pthread_mutex_unlock(&rt->ctl_lock);
		m->groups[g].n = n;
	}
	return 0;
}

/* nlb_healthy_hosts and nlb_unhealthy_hosts, a group at a time (the
 * two families' lines interleave, as they always have). */
static void render_hosts(struct metrics *m, const struct nlb_config *cfg, struct nlb_strbuf *b)
{
	struct family healthy = FAMILY(MF_HEALTHY_HOSTS);
	struct family unhealthy = FAMILY(MF_UNHEALTHY_HOSTS);
	for (size_t g = 0; g < cfg->n_groups; g++) {
		/* A removed group's draining targets are listed below; its
		 * host counts are not, so that no alert fires for it. */
		if (cfg->groups[g].removed)
			continue;
		const struct metrics_target *s = m->snap + m->groups[g].at;
		uint64_t up = 0, down = 0;
		for (uint32_t i = 0; i < m->groups[g].n; i++) {
			if (s[i].state != TARGET_ACTIVE)
				continue;
			if (s[i].health == NLB_HC_HEALTHY)
				up++;
			else
				down++;
		}
		emit(b, &healthy, L("target_group", cfg->groups[g].name), up);
		emit(b, &unhealthy, L("target_group", cfg->groups[g].name), down);
	}
}

/* A family of every target that holds a slot, draining ones too. */
static void render_target_family(struct metrics *m, const struct nlb_config *cfg,
				 enum metric_family_id id, struct nlb_strbuf *b)
{
	struct family f = FAMILY(id);
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const char *gname = cfg->groups[g].name;
		const struct metrics_target *s = m->snap + m->groups[g].at;
		for (uint32_t i = 0; i < m->groups[g].n; i++) {
			if (s[i].state == TARGET_FREE)
				continue;
			bool active = s[i].state == TARGET_ACTIVE;
			const char *t = s[i].addr_text;
			switch (id) {
			case MF_TARGET_HEALTH:
				emit(b, &f, L("target_group", gname, "target", t),
				     active && s[i].health == NLB_HC_HEALTHY);
				break;
			case MF_TARGET_HEALTH_STATE:
				/* A draining target is no longer checked.  The
				 * table lists the states in enum nlb_hc_state's
				 * order. */
				for (unsigned st = 0; active && st < f.f->n_series; st++)
					emit(b, &f, L("target_group", gname, "target", t,
						      f.f->label, f.f->series[st].value),
					     s[i].health == st);
				break;
			case MF_TARGET_DRAINING:
				emit(b, &f, L("target_group", gname, "target", t), !active);
				break;
			case MF_TARGET_ACTIVE_CONNECTIONS:
				emit(b, &f, L("target_group", gname, "target", t), s[i].active);
				break;
			default:
				emit(b, &f, L("target_group", gname, "target", t), s[i].weight);
				break;
			}
		}
	}
}

/* Reload, the admin socket and health changes all rebuild a group's
 * table; this says how often (health changes are coalesced, see
 * nlb/control/health.c). */
static void render_tables(struct metrics *m, const struct nlb_config *cfg, struct nlb_strbuf *b)
{
	struct family builds = FAMILY(MF_TABLE_BUILDS);
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (!cfg->groups[g].removed)
			emit(b, &builds, L("target_group", cfg->groups[g].name),
			     atomic_load_explicit(&m->rt->groups[g].table_builds,
						  memory_order_relaxed));
}

/* The health thread's counters of each group with a health check. */
static void render_health(struct metrics *m, const struct nlb_config *cfg,
			  enum metric_family_id id, struct nlb_strbuf *b)
{
	const struct health_group_stats *hg = m->health ? m->health->groups : NULL;
	if (!hg)
		return;		/* no group has a health check */
	struct family f = FAMILY(id);
	for (size_t g = 0; g < cfg->n_groups; g++) {
		if (!cfg->groups[g].health.enabled)
			continue;
		const char *n = cfg->groups[g].name;
		if (id == MF_HEALTH_PROBES) {
			emit(b, &f, L("target_group", n, f.f->label, f.f->series[0].value),
			     atomic_load_explicit(&hg[g].passed, memory_order_relaxed));
			emit(b, &f, L("target_group", n, f.f->label, f.f->series[1].value),
			     atomic_load_explicit(&hg[g].failed, memory_order_relaxed));
		} else {
			emit(b, &f, L("target_group", n),
			     atomic_load_explicit(&hg[g].changes, memory_order_relaxed));
		}
	}
}

static void render_group_family(struct metrics *m, const struct nlb_config *cfg,
				enum metric_family_id id, struct nlb_strbuf *b)
{
	switch (id) {
	case MF_HEALTHY_HOSTS:
		render_hosts(m, cfg, b);
		break;
	case MF_UNHEALTHY_HOSTS:
		break;		/* with MF_HEALTHY_HOSTS */
	case MF_TABLE_BUILDS:
		render_tables(m, cfg, b);
		break;
	case MF_HEALTH_PROBES:
	case MF_HEALTH_STATE_CHANGES:
		render_health(m, cfg, id, b);
		break;
	default:
		render_target_family(m, cfg, id, b);
		break;
	}
}

int metrics_render(struct metrics *m, struct nlb_strbuf *b)
{
	const struct nlb_config *cfg = m->rt->cfg;
	struct stats_sum *ls = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*ls));
	struct nlb_listener_conf *lv = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*lv));
	if (!ls || !lv) {
		free(ls);
		free(lv);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < m->n_workers; i++) {
		const struct worker *w = &m->workers[i];
		for (size_t l = 0; l < w->n_stats && l < cfg->n_listeners; l++)
			stats_sum_add(&ls[l], &w->stats[l]);
	}
	/* Listeners a reload removed are left out: their counters stop, and
	 * a listener moved to another address under the same name would
	 * otherwise give two series the same labels. */
	struct nlb_config view = *cfg;
	view.listeners = lv;
	view.n_listeners = 0;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		if (cfg->listeners[l].removed)
			continue;
		lv[view.n_listeners] = cfg->listeners[l];
		ls[view.n_listeners++] = ls[l];
	}
	int ret = snapshot_targets(m, cfg);
	for (int id = 0; ret == 0 && id < MF_END; id++) {
		const struct metric_family *mf = &nlb_metric_families[id];
		switch (mf->scope) {
		case SCOPE_PROCESS:
			render_process(m, (enum metric_family_id)id, b);
			break;
		case SCOPE_LISTENER:
			render_listener_family(mf, &view, ls, b);
			break;
		case SCOPE_WORKER:
			render_worker_family(m, mf, b);
			break;
		case SCOPE_CERTIFICATE:
			render_cert_family(mf, &view, b);
			break;
		case SCOPE_RULE:
			render_rule_family(mf, &view, b);
			break;
		case SCOPE_PREFIX:
			render_announced(m, cfg, b);
			break;
		default:
			render_group_family(m, cfg, (enum metric_family_id)id, b);
			break;
		}
	}
	free(lv);
	free(ls);
	return ret < 0 ? ret : nlb_strbuf_status(b);
}
