/* What a scrape says: every metric family (README "Metrics") in text
 * format 0.0.4, from the workers' counter rows, the target slots (copied
 * under ctl_lock) and the health thread's per-group counters. */
#include "control/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/pick.h"
#include "health_check.h"
#include "control/stats.h"
#include "balance/target_set.h"

/* A metric family; its HELP and TYPE lines go out with its first
 * sample, so a family nothing has a series for (no UDP listener, no
 * health check) is left out whole. */
struct family {
	const char *name;
	const char *type;
	const char *help;
	bool started;
};

#define FAMILY(n, t, h) { .name = (n), .type = (t), .help = (h), .started = false }

/* Label pairs, name then value, as a NULL-terminated list. */
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void emit(struct nlb_strbuf *b, struct family *f, const char *const *labels, uint64_t v)
{
	if (!f->started) {
		nlb_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
				  f->type);
		f->started = true;
	}
	nlb_strbuf_append(b, f->name, strlen(f->name));
	for (size_t i = 0; labels[i]; i += 2) {
		nlb_strbuf_printf(b, "%c%s=\"", i ? ',' : '{', labels[i]);
		nlb_strbuf_label_value(b, labels[i + 1]);
		nlb_strbuf_append(b, "\"", 1);
	}
	nlb_strbuf_printf(b, "%s %llu\n", labels[0] ? "}" : "", (unsigned long long)v);
}

static const char *const no_labels[] = { NULL };

static bool has_tcp(const struct nlb_listener_conf *lc)
{
	return lc->protocol != NLB_PROTO_UDP;
}

static bool has_udp(const struct nlb_listener_conf *lc)
{
	return lc->protocol != NLB_PROTO_TCP;
}

static void render_process(struct metrics *m, struct nlb_strbuf *b)
{
	struct family info = FAMILY("nlb_build_info", "gauge", "Always 1; the version of nlb.");
	emit(b, &info, L("version", NLB_VERSION), 1);
	struct family start = FAMILY("nlb_start_time_seconds", "gauge",
				     "When nlb started serving, in seconds since the Unix epoch.");
	emit(b, &start, no_labels, (uint64_t)m->start_time);
	struct family workers = FAMILY("nlb_workers", "gauge", "Worker threads.");
	emit(b, &workers, no_labels, m->n_workers);
}

/* ls: one sum per listener. */
static void render_listeners(const struct nlb_config *cfg, const struct stats_sum *ls,
			     struct nlb_strbuf *b)
{
	size_t nl = cfg->n_listeners;
	const struct nlb_listener_conf *lcs = cfg->listeners;

	struct family f = FAMILY("nlb_active_flows", "gauge",
		"TCP connections and UDP flows open now.");
	for (size_t l = 0; l < nl; l++)
		emit(b, &f, L("listener", lcs[l].name), ls[l].active + ls[l].udp_flows_active);

	f = (struct family)FAMILY("nlb_new_flows_total", "counter",
		"TCP connections accepted and UDP flows started.");
	for (size_t l = 0; l < nl; l++) {
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name, "protocol", "tcp"), ls[l].accepted);
		if (has_udp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name, "protocol", "udp"), ls[l].udp_flows);
	}

	f = (struct family)FAMILY("nlb_processed_bytes_total", "counter",
		"Payload bytes forwarded, TCP and UDP: in from clients to targets, out from targets to clients.");
	for (size_t l = 0; l < nl; l++) {
		emit(b, &f, L("listener", lcs[l].name, "direction", "in"), ls[l].bytes_in);
		emit(b, &f, L("listener", lcs[l].name, "direction", "out"), ls[l].bytes_out);
	}

	/* ---- TCP ---- */
	f = (struct family)FAMILY("nlb_tcp_closed_total", "counter",
		"TCP client connections finished, in any way.");
	for (size_t l = 0; l < nl; l++)
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].closed);

	f = (struct family)FAMILY("nlb_client_resets_total", "counter",
		"Resets received from clients.");
	for (size_t l = 0; l < nl; l++)
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].client_reset);

	f = (struct family)FAMILY("nlb_target_resets_total", "counter",
		"Resets received from targets.");
	for (size_t l = 0; l < nl; l++)
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].target_reset);

	f = (struct family)FAMILY("nlb_resets_total", "counter",
		"TCP connections nlb itself reset, by reason.");
	for (size_t l = 0; l < nl; l++) {
		if (!has_tcp(&lcs[l]))
			continue;
		const struct stats_sum *s = &ls[l];
		const char *n = lcs[l].name;
		emit(b, &f, L("listener", n, "reason", "idle_timeout"), s->idle_timeout);
		emit(b, &f, L("listener", n, "reason", "shutdown"), s->shutdown_reset);
		emit(b, &f, L("listener", n, "reason", "drain"), s->drain_reset);
		emit(b, &f, L("listener", n, "reason", "no_target"), s->no_target);
		emit(b, &f, L("listener", n, "reason", "no_healthy"), s->no_healthy);
		emit(b, &f, L("listener", n, "reason", "refused"),
		     s->acl_denied + s->limit + s->source_limit + s->source_rate);
		emit(b, &f, L("listener", n, "reason", "proxy_header"),
		     s->proxy_header_invalid + s->proxy_header_timeout);
		emit(b, &f, L("listener", n, "reason", "nomem"), s->nomem);
	}

	f = (struct family)FAMILY("nlb_connect_errors_total", "counter",
		"Failed target connect attempts (refused, timeout, error) and clients given no target connection (the other reasons).");
	for (size_t l = 0; l < nl; l++) {
		if (!has_tcp(&lcs[l]))
			continue;
		const struct stats_sum *s = &ls[l];
		const char *n = lcs[l].name;
		emit(b, &f, L("listener", n, "reason", "refused"), s->connect_refused);
		emit(b, &f, L("listener", n, "reason", "timeout"), s->connect_timeout);
		emit(b, &f, L("listener", n, "reason", "error"), s->connect_error);
		emit(b, &f, L("listener", n, "reason", "no_target"), s->no_target);
		emit(b, &f, L("listener", n, "reason", "no_healthy"), s->no_healthy);
		emit(b, &f, L("listener", n, "reason", "acl"), s->acl_denied);
		emit(b, &f, L("listener", n, "reason", "limit"), s->limit);
		emit(b, &f, L("listener", n, "reason", "source_limit"), s->source_limit);
		emit(b, &f, L("listener", n, "reason", "source_rate"), s->source_rate);
		emit(b, &f, L("listener", n, "reason", "proxy_header"),
		     s->proxy_header_invalid + s->proxy_header_timeout);
	}

	f = (struct family)FAMILY("nlb_flow_table_hits_total", "counter",
		"TCP connections sent to their flow's earlier target by the flow table (maglev).");
	for (size_t l = 0; l < nl; l++)
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].flow_hits);

	f = (struct family)FAMILY("nlb_auto_splice_total", "counter",
		"Connection directions moved from copy to splice (forwarding auto).");
	for (size_t l = 0; l < nl; l++)
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].auto_splice);

	f = (struct family)FAMILY("nlb_accept_paused_total", "counter",
		"Times accepting paused for lack of file descriptors.");
	for (size_t l = 0; l < nl; l++)
		if (has_tcp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].accept_paused);

	/* ---- UDP ---- */
	f = (struct family)FAMILY("nlb_udp_datagrams_total", "counter",
		"UDP datagrams forwarded: in from clients to targets, out from targets to clients.");
	for (size_t l = 0; l < nl; l++) {
		if (!has_udp(&lcs[l]))
			continue;
		emit(b, &f, L("listener", lcs[l].name, "direction", "in"), ls[l].udp_in);
		emit(b, &f, L("listener", lcs[l].name, "direction", "out"), ls[l].udp_out);
	}

	f = (struct family)FAMILY("nlb_udp_dropped_total", "counter",
		"UDP datagrams (or GRO batches) dropped, by reason.");
	for (size_t l = 0; l < nl; l++) {
		if (!has_udp(&lcs[l]))
			continue;
		const struct stats_sum *s = &ls[l];
		const char *n = lcs[l].name;
		emit(b, &f, L("listener", n, "reason", "too_big"), s->udp_too_big);
		emit(b, &f, L("listener", n, "reason", "flow_limit"), s->udp_flow_limit);
		emit(b, &f, L("listener", n, "reason", "no_target"), s->udp_no_target);
		emit(b, &f, L("listener", n, "reason", "nomem"), s->udp_nomem);
		emit(b, &f, L("listener", n, "reason", "send_error"), s->udp_send_error);
		emit(b, &f, L("listener", n, "reason", "acl"), s->udp_acl_denied);
		emit(b, &f, L("listener", n, "reason", "source_limit"), s->udp_source_limit);
		emit(b, &f, L("listener", n, "reason", "source_rate"), s->udp_source_rate);
	}

	f = (struct family)FAMILY("nlb_udp_flows_ended_total", "counter",
		"UDP flows ended, by reason: idle past udp_idle_timeout_ms, moved off an unhealthy target, or at a removed target's deregistration delay.");
	for (size_t l = 0; l < nl; l++) {
		if (!has_udp(&lcs[l]))
			continue;
		emit(b, &f, L("listener", lcs[l].name, "reason", "idle_timeout"), ls[l].udp_expired);
		emit(b, &f, L("listener", lcs[l].name, "reason", "moved"), ls[l].udp_moved);
		emit(b, &f, L("listener", lcs[l].name, "reason", "drain"), ls[l].udp_drain_reset);
	}

	f = (struct family)FAMILY("nlb_udp_target_unreachable_total", "counter",
		"ICMP port unreachable received from UDP targets.");
	for (size_t l = 0; l < nl; l++)
		if (has_udp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].udp_target_refused);

	f = (struct family)FAMILY("nlb_udp_gro_batches_total", "counter",
		"GRO batches received (their datagrams count in nlb_udp_datagrams_total).");
	for (size_t l = 0; l < nl; l++)
		if (has_udp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].udp_gro_batches);

	f = (struct family)FAMILY("nlb_udp_gso_split_total", "counter",
		"Batches sent one datagram at a time because the kernel refused a GSO send.");
	for (size_t l = 0; l < nl; l++)
		if (has_udp(&lcs[l]))
			emit(b, &f, L("listener", lcs[l].name), ls[l].udp_gso_split);
}

static void render_workers(struct metrics *m, struct nlb_strbuf *b)
{
	struct family acc = FAMILY("nlb_worker_accepted_total", "counter",
		"TCP connections accepted by each worker (SO_REUSEPORT spreads them).");
	struct family act = FAMILY("nlb_worker_active_flows", "gauge",
		"TCP connections and UDP flows each worker holds now.");
	struct family *fams[2] = { &acc, &act };
	for (int k = 0; k < 2; k++) {
		for (unsigned i = 0; i < m->n_workers; i++) {
			const struct worker *w = &m->workers[i];
			struct stats_sum s;
			memset(&s, 0, sizeof(s));
			for (size_t l = 0; l < w->n_stats; l++)
				stats_sum_add(&s, &w->stats[l]);
			char id[16];
			snprintf(id, sizeof(id), "%u", w->id);
			emit(b, fams[k], L("worker", id),
			     k == 0 ? s.accepted : s.active + s.udp_flows_active);
		}
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

static void render_targets(struct metrics *m, struct nlb_strbuf *b)
{
	const struct nlb_config *cfg = m->rt->cfg;
	if (snapshot_targets(m, cfg) < 0) {
		b->failed = true;	/* a 500 this time */
		return;
	}

	struct family healthy = FAMILY("nlb_healthy_hosts", "gauge",
		"Targets that pass their health check (all targets, without one); draining targets are not counted.");
	struct family unhealthy = FAMILY("nlb_unhealthy_hosts", "gauge",
		"Targets that fail their health check or have not passed one yet; draining targets are not counted.");
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

	enum { HEALTH, STATE, DRAINING, ACTIVE, WEIGHT, N_FAM };
	struct family fams[N_FAM] = {
		[HEALTH] = FAMILY("nlb_target_health", "gauge",
			"1 for a registered target that is healthy (or whose group has no health check), else 0; 0 while it drains."),
		[STATE] = FAMILY("nlb_target_health_state", "gauge",
			"The health check's state of each registered target: 1 for the state it is in, 0 for the others."),
		[DRAINING] = FAMILY("nlb_target_draining", "gauge",
			"1 while a removed target drains its connections (deregistration_delay_ms), else 0."),
		[ACTIVE] = FAMILY("nlb_target_active_connections", "gauge",
			"TCP connections and UDP flows to the target open now."),
		[WEIGHT] = FAMILY("nlb_target_weight", "gauge", "The target's configured weight."),
	};
	static const char *const states[] = { "initial", "healthy", "unhealthy" };
	for (int k = 0; k < N_FAM; k++) {
		for (size_t g = 0; g < cfg->n_groups; g++) {
			const char *gname = cfg->groups[g].name;
			const struct metrics_target *s = m->snap + m->groups[g].at;
			for (uint32_t i = 0; i < m->groups[g].n; i++) {
				if (s[i].state == TARGET_FREE)
					continue;
				bool active = s[i].state == TARGET_ACTIVE;
				const char *t = s[i].addr_text;
				switch (k) {
				case HEALTH:
					emit(b, &fams[k], L("target_group", gname, "target", t),
					     active && s[i].health == NLB_HC_HEALTHY);
					break;
				case STATE:
					/* A draining target is no longer checked. */
					for (unsigned st = 0; active && st < 3; st++)
						emit(b, &fams[k], L("target_group", gname, "target", t,
								    "state", states[st]),
						     s[i].health == st);
					break;
				case DRAINING:
					emit(b, &fams[k], L("target_group", gname, "target", t), !active);
					break;
				case ACTIVE:
					emit(b, &fams[k], L("target_group", gname, "target", t),
					     s[i].active);
					break;
				default:
					emit(b, &fams[k], L("target_group", gname, "target", t),
					     s[i].weight);
					break;
				}
			}
		}
	}
}

/* Reload, the admin socket and health changes all rebuild a group's
 * table; this says how often (health changes are coalesced, see
 * nlb/control/health.c). */
static void render_tables(struct metrics *m, struct nlb_strbuf *b)
{
	const struct nlb_config *cfg = m->rt->cfg;
	struct family builds = FAMILY("nlb_table_builds_total", "counter",
		"Balancing tables built and put in force for the target group: at start, by reloads, the admin socket and health changes.");
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (!cfg->groups[g].removed)
			emit(b, &builds, L("target_group", cfg->groups[g].name),
			     atomic_load_explicit(&m->rt->groups[g].table_builds,
						  memory_order_relaxed));
}

static void render_health(struct metrics *m, struct nlb_strbuf *b)
{
	const struct nlb_config *cfg = m->rt->cfg;
	const struct health_group_stats *hg = m->health ? m->health->groups : NULL;
	if (!hg)
		return;		/* no group has a health check */
	struct family probes = FAMILY("nlb_health_probes_total", "counter",
		"Health probes finished, by result.");
	struct family changes = FAMILY("nlb_health_state_changes_total", "counter",
		"Target health state changes, from probes and from passive detection.");
	for (size_t g = 0; g < cfg->n_groups; g++) {
		if (!cfg->groups[g].health.enabled)
			continue;
		const char *n = cfg->groups[g].name;
		emit(b, &probes, L("target_group", n, "result", "pass"),
		     atomic_load_explicit(&hg[g].passed, memory_order_relaxed));
		emit(b, &probes, L("target_group", n, "result", "fail"),
		     atomic_load_explicit(&hg[g].failed, memory_order_relaxed));
	}
	for (size_t g = 0; g < cfg->n_groups; g++)
		if (cfg->groups[g].health.enabled)
			emit(b, &changes, L("target_group", cfg->groups[g].name),
			     atomic_load_explicit(&hg[g].changes, memory_order_relaxed));
}

int metrics_render(struct metrics *m, struct nlb_strbuf *b)
{
	const struct nlb_config *cfg = m->rt->cfg;
	struct stats_sum *ls = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	for (unsigned i = 0; i < m->n_workers; i++) {
		const struct worker *w = &m->workers[i];
		for (size_t l = 0; l < w->n_stats && l < cfg->n_listeners; l++)
			stats_sum_add(&ls[l], &w->stats[l]);
	}
	/* Listeners a reload removed are left out: their counters stop, and
	 * a listener moved to another address under the same name would
	 * otherwise give two series the same labels. */
	struct nlb_config view = *cfg;
	struct nlb_listener_conf *lv = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*lv));
	if (!lv) {
		free(ls);
		return -ENOMEM;
	}
	view.listeners = lv;
	view.n_listeners = 0;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		if (cfg->listeners[l].removed)
			continue;
		lv[view.n_listeners] = cfg->listeners[l];
		ls[view.n_listeners++] = ls[l];
	}
	render_process(m, b);
	render_listeners(&view, ls, b);
	free(lv);
	render_workers(m, b);
	render_targets(m, b);
	render_tables(m, b);
	render_health(m, b);
	free(ls);
	return nlb_strbuf_status(b);
}
