/* Reload.  The new file is loaded and validated whole, then aligned to
 * the running slots: each listener and target group keeps its index (a
 * removed one stays as a placeholder while what it holds drains, an
 * added one takes a new slot), so that the indexes connections, flows,
 * counters and workers hold keep meaning the same thing.  Target lists
 * are checked against every group's free slots before anything changes:
 * a reload applies entirely or not at all.  The keys the key tables mark
 * as applied only by a restart (lib/config_keys.c) are reported one by
 * one and kept at their running value. */
#include "control/reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "core/listener.h"
#include "log.h"
#include "balance/target_set.h"
#include "http_rules.h"
#include "tunables.h"

/* A listener is the same one while it keeps its name, protocol and
 * address; anything else (its target group too: connections and flows
 * carry their own) changes in place. */
static bool listener_moved(const struct nlb_listener_conf *a, const struct nlb_listener_conf *b)
{
	return a->protocol != b->protocol || !nlb_addr_equal(&a->addr, &b->addr);
}

/* The running listener a listener of the file continues: same name, not
 * removed, not moved (protocol, address); -1 if none. */
static int kept_slot(const struct nlb_runtime *rt, const struct nlb_config *old,
		     const struct nlb_listener_conf *n)
{
	for (size_t l = 0; l < old->n_listeners; l++) {
		const struct nlb_listener_conf *o = &old->listeners[l];
		if (!o->removed && strcmp(o->name, n->name) == 0 && !listener_moved(o, n) &&
		    atomic_load_explicit(&rt->listeners[l].state, memory_order_relaxed) ==
			    LISTENER_ACTIVE)
			return (int)l;
	}
	return -1;
}

/* A removed listener's entry, kept in every later configuration at its
 * slot: connections on it read their settings there while they last. */
static int placeholder(struct nlb_listener_conf *dst, const struct nlb_listener_conf *src)
{
	*dst = *src;
	dst->allow = dst->deny = NULL;	/* it takes no new client */
	/* ... so it needs no certificate: its TLS connections hold their
	 * own reference to the context they began on. */
	dst->tls.certs = NULL;
	dst->tls.n_certs = 0;
	dst->tls.ticket_keys = NULL;
	dst->tls.server = NULL;
	dst->removed = 1;
	/* A removed gateway's queues and socket are closed: nothing reads
	 * its device's name or the ids' text again. */
	dst->gw.tun = dst->gw.endpoint_text = dst->gw.attachment_text = NULL;
	/* Its keep-alive clients' next requests still go by its rules. */
	nlb_http_rules_hold(dst->http.rules);
	dst->name = strdup(src->name);
	dst->target_group = strdup(src->target_group);
	return dst->name && dst->target_group ? 0 : -ENOMEM;
}

/* A removed group's entry, in the same way: no targets (so that they all
 * drain, for its deregistration_delay_ms), no health check. */
static int group_placeholder(struct nlb_group_conf *dst, const struct nlb_group_conf *src)
{
	*dst = *src;
	dst->targets = NULL;
	dst->n_targets = 0;
	dst->health.enabled = 0;
	dst->health.path = dst->health.matcher_text = NULL;
	dst->health.tls_client = NULL;
	/* No target to connect to, so no TLS client context either. */
	dst->tls.ca = dst->tls.server_name = NULL;
	dst->tls.client = NULL;
	dst->removed = 1;
	dst->name = strdup(src->name);
	return dst->name ? 0 : -ENOMEM;
}

/* A kept or added listener's rules: the groups they forward to at their
 * slots; and when they are the same as the running ones, the running
 * ones themselves, so that their counters go on. */
static void rules_align(struct nlb_listener_conf *l, const struct nlb_group_conf *gs, size_t ng,
			const struct nlb_listener_conf *old)
{
	struct nlb_http_rules *r = l->http.rules;
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		for (unsigned k = 0; k < r->rule[i].n_to; k++)
			for (size_t g = 0; g < ng; g++)
				if (!gs[g].removed && !strcmp(gs[g].name, r->rule[i].to[k].group_name))
					r->rule[i].to[k].group = (uint32_t)g;
	const struct nlb_http_rules *o = old && !old->removed ? old->http.rules : NULL;
	if (o && strcmp(o->text, r->text) == 0) {
		nlb_http_rules_put(r);
		nlb_http_rules_hold((struct nlb_http_rules *)o);
		l->http.rules = (struct nlb_http_rules *)o;
	}
}

/* What align changed, for the summary. */
struct align_diff {
	size_t first_new;		/* the first listener slot added */
	size_t first_new_group;		/* the first group slot added */
	unsigned listeners_removed;
	unsigned groups_added, groups_removed;	/* added: new slots and ones taken back */
};

/* The index of the group of new named name, not yet taken; -1 if none. */
static int group_index(const struct nlb_config *new, const bool *taken, const char *name)
{
	for (size_t i = 0; i < new->n_groups; i++)
		if (!taken[i] && strcmp(new->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int out_of_slots(const struct nlb_config *new, unsigned max, const char *what,
			char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: more than %u %s over this process's life (removed ones "
		 "count); a restart applies the file", new->path, max, what);
	return -ENOSPC;
}

/* Puts new's groups and listeners at their slots: each kept one at its
 * own, removed ones as placeholders at theirs, added ones at new slots
 * (listeners are bound here; groups get their runtime in reload_locked).
 * A group added under the name of a removed one takes its slot back,
 * with whatever of it still drains. */
static int align(struct nlb_runtime *rt, const struct nlb_config *old, struct nlb_config *new,
		 struct align_diff *d, char *err, size_t errlen)
{
	size_t n_new = new->n_listeners, g_new = new->n_groups;
	struct nlb_listener_conf *ls = calloc(NLB_MAX_LISTENERS, sizeof(*ls));
	bool *taken = calloc(n_new ? n_new : 1, sizeof(*taken));
	struct nlb_group_conf *gs = calloc(NLB_MAX_GROUPS, sizeof(*gs));
	bool *gtaken = calloc(g_new ? g_new : 1, sizeof(*gtaken));
	int ret = -ENOMEM;
	size_t n = old->n_listeners, bound_from = old->n_listeners, ng = old->n_groups;
	memset(d, 0, sizeof(*d));
	snprintf(err, errlen, "out of memory");
	if (!ls || !taken || !gs || !gtaken)
		goto fail;
	for (size_t g = 0; g < old->n_groups; g++) {
		const struct nlb_group_conf *o = &old->groups[g];
		int k = group_index(new, gtaken, o->name);
		if (k >= 0) {
			gs[g] = new->groups[k];	/* moved: new no longer owns it */
			gtaken[k] = true;
			d->groups_added += o->removed;
			continue;
		}
		if (group_placeholder(&gs[g], o) < 0)
			goto fail;
		d->groups_removed += !o->removed;
	}
	for (size_t i = 0; i < g_new; i++) {
		if (gtaken[i])
			continue;
		if (ng == NLB_MAX_GROUPS) {
			ret = out_of_slots(new, NLB_MAX_GROUPS, "target groups", err, errlen);
			goto fail;
		}
		gs[ng++] = new->groups[i];
		gtaken[i] = true;
		d->groups_added++;
	}
	for (size_t l = 0; l < old->n_listeners; l++) {
		const struct nlb_listener_conf *o = &old->listeners[l];
		size_t k = n_new;
		for (size_t i = 0; !o->removed && i < n_new; i++)
			if (!taken[i] && kept_slot(rt, old, &new->listeners[i]) == (int)l)
				k = i;
		if (k < n_new) {
			ls[l] = new->listeners[k];	/* moved: new no longer owns it */
			taken[k] = true;
			continue;
		}
		if (placeholder(&ls[l], o) < 0)
			goto fail;
		d->listeners_removed += !o->removed;
	}
	for (size_t i = 0; i < n_new; i++) {
		if (taken[i])
			continue;
		if (n == NLB_MAX_LISTENERS) {
			ret = out_of_slots(new, NLB_MAX_LISTENERS, "listeners", err, errlen);
			goto fail;
		}
		ls[n++] = new->listeners[i];
		taken[i] = true;
	}
	/* A removed listener keeps the index of its group, which keeps its
	 * slot; the others find theirs by name. */
	for (size_t l = 0; l < n; l++) {
		for (size_t g = 0; !ls[l].removed && g < ng; g++)
			if (!gs[g].removed && strcmp(gs[g].name, ls[l].target_group) == 0)
				ls[l].group = g;
	}
	for (size_t l = bound_from; l < n; l++) {
		if ((ret = listener_bind(rt, l, &ls[l], err, errlen)) < 0) {
			while (l-- > bound_from)
				listener_unbind(rt, l);
			goto fail;
		}
	}
	for (size_t l = 0; l < n; l++)
		if (!ls[l].removed)
			rules_align(&ls[l], gs, ng, l < old->n_listeners ? &old->listeners[l] : NULL);
	free(new->listeners);
	new->listeners = ls;
	new->n_listeners = n;
	free(new->groups);
	new->groups = gs;
	new->n_groups = ng;
	d->first_new = bound_from;
	d->first_new_group = old->n_groups;
	free(taken);
	free(gtaken);
	return 0;
fail:
	/* Entries moved from new are still new's; placeholders are ours. */
	for (size_t l = 0; ls && l < old->n_listeners; l++) {
		if (ls[l].removed) {
			free(ls[l].name);
			free(ls[l].target_group);
			nlb_http_rules_put(ls[l].http.rules);
		}
	}
	for (size_t g = 0; gs && g < old->n_groups; g++)
		if (gs[g].removed)
			free(gs[g].name);
	free(ls);
	free(taken);
	free(gs);
	free(gtaken);
	return ret;
}

/* Whose key log_unapplied names: a listener's, a target group's, or the
 * top level's (kind NULL). */
struct unapplied_where {
	const char *kind;
	const char *name;
};

static void log_unapplied(const char *key, void *arg)
{
	const struct unapplied_where *w = arg;
	if (w->kind != NULL)
		nlb_warn("reload: %s %s: \"%s\" changed; not applied until a restart", w->kind,
			 w->name, key);
	else
		nlb_warn("reload: \"%s\" changed; not applied until a restart", key);
}

/* Logs each change that only a restart applies, key by key, and returns
 * how many.  new replaces old: what it cannot change is set back to old's
 * value in new, so that the configuration in force says what runs.  The
 * key tables decide which keys those are; the top level's comparison
 * covers its stats and admin groups.  Health checks and targets have no
 * such key (test config_keys/restart_only_keys_are_these). */
static unsigned report_unapplied(struct nlb_config *old, struct nlb_config *new)
{
	struct unapplied_where w = { NULL, NULL };
	unsigned n = nlb_config_keep_restart_only(NLB_CONF_TOP, old, new, log_unapplied, &w);
	for (size_t l = 0; l < old->n_listeners; l++) {
		struct nlb_listener_conf *a = &old->listeners[l], *b = &new->listeners[l];
		if (a->removed || b->removed)
			continue;
		w = (struct unapplied_where){ "listener", a->name };
		n += nlb_config_keep_restart_only(NLB_CONF_LISTENER, a, b, log_unapplied, &w);
	}
	/* A group's slots are sized at start (or when a reload added it). */
	for (size_t g = 0; g < old->n_groups; g++) {
		w = (struct unapplied_where){ "target group", old->groups[g].name };
		n += nlb_config_keep_restart_only(NLB_CONF_GROUP, &old->groups[g], &new->groups[g],
						  log_unapplied, &w);
	}
	return n;
}

/* Replaces the running settings by nc's (aligned): listeners and groups
 * first, then the configuration; the old one is retired.  Under ctl_lock;
 * target lists are applied afterwards (they publish the new tables). */
static void swap_in(struct nlb_runtime *rt, struct nlb_config *nc, const struct align_diff *d)
{
	const struct nlb_config *old = rt->cfg;
	for (size_t g = 0; g < nc->n_groups; g++) {
		const struct nlb_group_conf *gc = &nc->groups[g];
		atomic_store_explicit(&rt->groups[g].conf, gc, memory_order_release);
		bool was = g < old->n_groups && !old->groups[g].removed;
		if (!was && !gc->removed)
			nlb_info("target group %s: added (%zu targets, %s)", gc->name, gc->n_targets,
				 nlb_algorithm_name(gc->algorithm));
		else if (was && gc->removed)
			nlb_info("target group %s: removed: its targets drain for up to %u ms",
				 gc->name, (unsigned)gc->deregistration_delay_ms);
	}
	for (size_t l = 0; l < nc->n_listeners; l++) {
		struct listener_rt *lr = &rt->listeners[l];
		const struct nlb_listener_conf *lc = &nc->listeners[l];
		atomic_store_explicit(&lr->conf, lc, memory_order_release);
		if (l >= d->first_new) {
			nlb_info("listener %s: added: %s %s -> target group %s", lc->name,
				 nlb_protocol_name(lc->protocol), lc->addr_text, lc->target_group);
		} else if (lc->removed && atomic_load_explicit(&lr->state, memory_order_relaxed) ==
			   LISTENER_ACTIVE) {
			/* Each worker closes its socket and lets go once it
			 * has nothing left on it (worker.c, listeners_sync). */
			atomic_store_explicit(&lr->holders, rt->n_workers, memory_order_relaxed);
			atomic_store_explicit(&lr->state, LISTENER_CLOSING, memory_order_release);
			nlb_info("listener %s: removed: no new clients; its open connections go on",
				 lc->name);
		} else if (!lc->removed && strcmp(old->listeners[l].target_group,
						  lc->target_group) != 0) {
			nlb_info("listener %s: target group %s -> %s (open connections and flows "
				 "stay with %s)", lc->name, old->listeners[l].target_group,
				 lc->target_group, old->listeners[l].target_group);
		}
	}
	atomic_store_explicit(&rt->cfg, nc, memory_order_release);
	nlb_log_set_level(nc->log_level);
	/* The health thread re-reads its probes' settings. */
	atomic_fetch_add_explicit(&rt->targets_version, 1, memory_order_release);
	targets_retire_config(rt, old);
}

/* ---- a file still being written ----------------------------------------
 * A SIGHUP can come while the file is rewritten in place (an editor, a
 * deploy tool, cp): half a file may fail to parse, or worse parse and
 * drop what its second half held.  So the file is read only once it has
 * kept still for NLB_RELOAD_SETTLE_MS, and again if it changed while it
 * was read.  A file written elsewhere and renamed into place needs
 * none of this. */

struct file_mark {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

static int file_mark(const char *path, struct file_mark *m)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	*m = (struct file_mark){ st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim };
	return 0;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool mark_eq(const struct file_mark *a, const struct file_mark *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       ts_eq(a->mtim, b->mtim) && ts_eq(a->ctim, b->ctim);
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The time of path's last change (mark), in ns since the epoch. */
static int64_t changed_ns(const struct file_mark *m)
{
	return ts_ns(m->mtim) > ts_ns(m->ctim) ? ts_ns(m->mtim) : ts_ns(m->ctim);
}

/* Waits until path's last change is NLB_RELOAD_SETTLE_MS old (at most
 * NLB_RELOAD_SETTLE_MAX_MS); *m is its state then.  A file that cannot
 * be stat'ed returns at once: the load says why. */
static int wait_settled(const char *path, struct file_mark *m)
{
	uint64_t give_up = nlb_clock_ms() + NLB_RELOAD_SETTLE_MAX_MS;
	for (;;) {
		int ret = file_mark(path, m);
		if (ret < 0)
			return ret;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t still = changed_ns(m) + (int64_t)NLB_RELOAD_SETTLE_MS * 1000000 - ts_ns(now);
		uint64_t left = nlb_clock_ms();
		if (still <= 0 || left >= give_up)
			return 0;
		left = give_up - left;
		if ((uint64_t)still > left * 1000000u)
			still = (int64_t)(left * 1000000u);
		struct timespec d = { still / 1000000000, still % 1000000000 };
		nanosleep(&d, NULL);
	}
}

/* After a failed load: true when path changes again before its last
 * change (m) is NLB_RELOAD_SETTLE_MAX_MS old, i.e. the writer was only
 * paused longer than NLB_RELOAD_SETTLE_MS (a loaded machine); false when
 * it kept still that long, and the failure is the file's. */
static bool changes_again(const char *path, const struct file_mark *m)
{
	int64_t until = changed_ns(m) + (int64_t)NLB_RELOAD_SETTLE_MAX_MS * 1000000;
	for (;;) {
		struct file_mark now_mark;
		if (file_mark(path, &now_mark) < 0)
			return false;
		if (!mark_eq(m, &now_mark))
			return true;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (ts_ns(now) >= until)
			return false;
		struct timespec d = { 0, 20 * 1000000 };
		nanosleep(&d, NULL);
	}
}

/* nlb_config_load once path keeps still; read again when it changed
 * while it was read, or when it failed to load and then changed within
 * NLB_RELOAD_SETTLE_MAX_MS of its last change (so a refusal of a file
 * saved just before the SIGHUP is told that much later). */
static int load_settled(const char *path, struct nlb_config **nc, char *err, size_t errlen)
{
	for (int tries = 0;; tries++) {
		struct file_mark before, after;
		bool marked = wait_settled(path, &before) == 0;
		int ret = nlb_config_load(path, nc, err, errlen);
		if (!marked || tries == 20 || file_mark(path, &after) < 0)
			return ret;
		if (mark_eq(&before, &after) && (ret == 0 || !changes_again(path, &after)))
			return ret;
		nlb_info("reload: %s changed after it was read; reading it again", path);
		nlb_config_free(*nc);
		*nc = NULL;
	}
}

static int reload_locked(struct nlb_runtime *rt, const char *path, uint64_t now_ms,
			 char *msg, size_t msglen)
{
	struct nlb_config *nc = NULL;
	char err[1024];
	struct align_diff ad = { 0 };
	int ret = load_settled(path, &nc, err, sizeof(err));
	if (ret == 0)
		ret = align(rt, rt->cfg, nc, &ad, err, sizeof(err));
	/* A counter row per running worker ("workers" is the running one). */
	for (size_t l = 0; ret == 0 && l < nc->n_listeners; l++)
		if (nc->listeners[l].http.rules && !nc->listeners[l].removed &&
		    (l >= rt->cfg->n_listeners ||
		     nc->listeners[l].http.rules != rt->cfg->listeners[l].http.rules) &&
		    nlb_http_rules_counters(nc->listeners[l].http.rules, rt->n_workers) < 0) {
			snprintf(err, sizeof(err), "out of memory");
			ret = -ENOMEM;
		}
	if (ret < 0)
		goto fail;
	/* The old configuration is retired by swap_in, and freed only by
	 * targets_tick, which takes ctl_lock: it stays valid below. */
	struct nlb_config *old = (struct nlb_config *)rt->cfg;
	size_t g_added = ad.first_new_group;
	pthread_mutex_lock(&rt->ctl_lock);
	for (size_t g = 0; ret == 0 && g < old->n_groups; g++)
		ret = targets_check(rt, g, &nc->groups[g], true, err, sizeof(err));
	/* Added groups are whole before any listener can name them. */
	for (; ret == 0 && g_added < nc->n_groups; g_added++) {
		ret = targets_group_add(rt, g_added, &nc->groups[g_added]);
		if (ret < 0)
			snprintf(err, sizeof(err), "target group %s: %s",
				 nc->groups[g_added].name, strerror(-ret));
	}
	if (ret < 0) {
		while (g_added-- > ad.first_new_group)
			targets_group_free(rt, g_added);
		pthread_mutex_unlock(&rt->ctl_lock);
		for (size_t l = ad.first_new; l < nc->n_listeners; l++)
			listener_unbind(rt, l);
		goto fail;
	}
	/* Reported (and reverted in nc) only now: nothing is said of a
	 * reload that fails. */
	unsigned unapplied = report_unapplied(old, nc);
	struct targets_diff sum = { 0 };
	for (size_t g = ad.first_new_group; g < nc->n_groups; g++)
		sum.added += (unsigned)nc->groups[g].n_targets;
	swap_in(rt, nc, &ad);
	for (size_t g = 0; g < old->n_groups; g++) {
		if (old->groups[g].health.enabled && !nc->groups[g].health.enabled)
			targets_health_off(rt, g);
		struct targets_diff d;
		targets_apply(rt, g, &nc->groups[g], now_ms, &d);
		sum.added += d.added;
		sum.removed += d.removed;
		sum.reweighted += d.reweighted;
		sum.returned += d.returned;
	}
	pthread_mutex_unlock(&rt->ctl_lock);
	snprintf(msg, msglen, "reload: %s applied: targets added=%u removed=%u reweighted=%u "
		 "returned=%u; target groups added=%u removed=%u; listeners added=%zu "
		 "removed=%u; %u changes need a restart", path, sum.added, sum.removed,
		 sum.reweighted, sum.returned, ad.groups_added, ad.groups_removed,
		 nc->n_listeners - ad.first_new, ad.listeners_removed, unapplied);
	nlb_info("%s", msg);
	return 0;
fail:
	nlb_config_free(nc);
	snprintf(msg, msglen, "%s", err);
	nlb_err("reload failed, still running the previous configuration: %s", err);
	return ret;
}

int reload_config(struct nlb_runtime *rt, const char *path, uint64_t now_ms,
		  char *msg, size_t msglen)
{
	/* Not ctl_lock: loading a large file (allow lists) must not stall
	 * the health thread; ctl_lock is taken only to check and apply. */
	pthread_mutex_lock(&rt->reload_lock);
	int ret = reload_locked(rt, path, now_ms, msg, msglen);
	pthread_mutex_unlock(&rt->reload_lock);
	return ret;
}
