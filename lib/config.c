/* Loads a libconfig file into struct nlb_config and validates it whole:
 * reads the text once (lib/config_text.c), has libconfig parse it, and
 * applies each section's key table (lib/config_keys.c, through
 * lib/config_walk.c), then checks what spans keys and sections (names
 * resolved, duplicates, Maglev sizes, CPUs).  The first error is
 * reported as "FILE:LINE: message". */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "config_announce.h"
#include "config_error.h"
#include "config_gateway.h"
#include "config_http.h"
#include "config_rules.h"
#include "http_rules.h"
#include "config_text.h"
#include "config_walk.h"
#include "maglev.h"
#include "tls_client.h"
#include "tls_server.h"
#include "tunables.h"

static int load_target(const struct cfg_loader *ld, const config_setting_t *g,
		       const struct nlb_group_conf *grp, const char *glabel,
		       struct nlb_target_conf *t)
{
	char prefix[LABEL_LEN + 32], where[LABEL_LEN + 32], who[LABEL_LEN + 32];
	snprintf(prefix, sizeof(prefix), "%s: ", glabel);
	snprintf(where, sizeof(where), "in a target of %s", glabel);
	snprintf(who, sizeof(who), "a target of %s", glabel);
	const struct cfg_section sec = { prefix, where, who };

	t->line = config_setting_source_line(g);
	int r = cfg_apply_keys(ld, &sec, NLB_CONF_TARGET, g, t);
	if (r < 0)
		return r;

	/* Two entries for one target would double its share silently;
	 * weight is the way to say that. */
	for (const struct nlb_target_conf *o = grp->targets; o < t; o++) {
		if (nlb_addr_equal(&o->addr, &t->addr))
			return cfg_fail(ld, cfg_member_or(g, "address"),
					"%s: duplicate target \"%s\" (first at line %d)",
					glabel, t->addr_text, o->line);
	}
	return 0;
}

/* The paper's rule, checked at load so a table never silently loses
 * its balance: M prime, and M >= 100 x targets that take flows. */
static int check_maglev_size(const struct cfg_loader *ld, const config_setting_t *g,
			     const struct nlb_group_conf *grp, const char *label)
{
	if (grp->algorithm != NLB_ALG_MAGLEV)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < grp->n_targets; i++)
		n += grp->targets[i].weight > 0;
	size_t m = grp->maglev_table_size;
	if (nlb_maglev_check(m, n) == 0)
		return 0;
	const config_setting_t *at = cfg_member_or(g, "maglev_table_size");
	if (!nlb_is_prime(m))
		return cfg_fail(ld, at, "%s: \"maglev_table_size\" must be a prime "
				"(got %zu; %zu is)", label, m, nlb_next_prime(m));
	return cfg_fail(ld, at, "%s: \"maglev_table_size\" %zu is too small for %zu targets "
			"(at least 100 x targets: %zu, a prime)", label, m, n,
			nlb_next_prime(100 * n));
}

/* health_check.path, by the probe's own rule (nlb_hc_path_check), so
 * that nlb -t passes no path a probe could not send.  The path is quoted
 * only when short: the error is one line. */
static int check_path(const struct cfg_loader *ld, const config_setting_t *h, const char *path,
		      const char *prefix)
{
	const config_setting_t *at = cfg_member_or(h, "path");
	size_t bad = 0, len = strlen(path);
	switch (nlb_hc_path_check(path, &bad)) {
	case 0:
		return 0;
	case -ENAMETOOLONG:
		return cfg_fail(ld, at, "%s\"path\" is %zu characters long, more than %d",
				prefix, len, NLB_HC_PATH_MAX);
	case -EILSEQ: {
		unsigned char c = (unsigned char)path[bad];
		return cfg_fail(ld, at, "%s\"path\" holds byte 0x%02x (%s) at offset %zu; it "
				"takes visible ASCII only (0x21-0x7e): percent-encode others, "
				"e.g. a space as %%20", prefix, c, c == ' ' ? "a space" :
				c < 0x20 || c == 0x7f ? "a control byte" : "not ASCII", bad);
	}
	default:
		return cfg_fail(ld, at, "%s\"path\" must start with / (got \"%.64s%s\")", prefix,
				path, len > 64 ? "..." : "");
	}
}

static int load_health(const struct cfg_loader *ld, const config_setting_t *g,
		       struct nlb_group_conf *grp, const char *label)
{
	struct nlb_health_conf *hc = &grp->health;
	const config_setting_t *h = config_setting_get_member(g, "health_check");
	if (h == NULL)
		return 0;
	char prefix[LABEL_LEN + 48], where[LABEL_LEN + 48];
	snprintf(prefix, sizeof(prefix), "%s: health_check: ", label);
	snprintf(where, sizeof(where), "in health_check of %s", label);
	const struct cfg_section sec = { prefix, where, "health_check" };
	int r = cfg_apply_keys(ld, &sec, NLB_CONF_HEALTH, h, hc);
	if (r < 0)
		return r;
	hc->enabled = 1;
	hc->line = config_setting_source_line(h);
	if ((r = check_path(ld, h, hc->path, prefix)) < 0)
		return r;
	if (hc->proxy_protocol && grp->proxy_protocol == NLB_PP_NONE)
		return cfg_fail(ld, cfg_member_or(h, "proxy_protocol"), "%s\"proxy_protocol\" "
				"needs the group's proxy_protocol (\"v1\" or \"v2\") to say which "
				"header", prefix);
	if ((hc->protocol == NLB_HC_TLS || hc->protocol == NLB_HC_HTTPS) && !grp->tls.client) {
		/* No tls = { } to verify with: the handshake is what is checked. */
		struct nlb_tls_group_conf none = { .enabled = 1 };
		char why[256];
		if (nlb_tls_client_new(&none, &hc->tls_client, why, sizeof(why)) < 0)
			return cfg_fail(ld, cfg_member_or(h, "protocol"), "%s%s", prefix, why);
	}
	if (nlb_hc_matcher_parse(hc->matcher_text, &hc->matcher) < 0)
		return cfg_fail(ld, cfg_member_or(h, "matcher"), "%s\"matcher\" must be codes "
				"100-599 like \"200\", \"200-399\" or \"200,204,301\" (got \"%s\")",
				prefix, hc->matcher_text);
	return 0;
}

/* A group's tls = { }: its keys, then its client context, which reads
 * the CA file now (as the user loading: a reload runs as "user"). */
static int load_group_tls(const struct cfg_loader *ld, const config_setting_t *g,
			  struct nlb_group_conf *grp, const char *label)
{
	struct nlb_tls_group_conf *tc = &grp->tls;
	const config_setting_t *t = config_setting_get_member(g, "tls");
	if (t == NULL)
		return 0;
	char prefix[LABEL_LEN + 16], where[LABEL_LEN + 16];
	snprintf(prefix, sizeof(prefix), "%s: tls: ", label);
	snprintf(where, sizeof(where), "in tls of %s", label);
	const struct cfg_section sec = { prefix, where, "tls" };
	int r = cfg_apply_keys(ld, &sec, NLB_CONF_GROUP_TLS, t, tc);
	if (r < 0)
		return r;
	tc->enabled = 1;
	tc->line = config_setting_source_line(t);
	char why[512];
	if ((r = nlb_tls_client_new(tc, &tc->client, why, sizeof(why))) < 0)
		return cfg_fail(ld, cfg_member_or(t, "ca"), "%s: %s", label, why);
	return 0;
}

static int load_group(const struct cfg_loader *ld, const config_setting_t *g,
		      struct nlb_config *cfg, struct nlb_group_conf *grp)
{
	char label[LABEL_LEN], prefix[LABEL_LEN + 32], where[LABEL_LEN + 32];
	int r;

	grp->line = config_setting_source_line(g);
	if ((r = cfg_read_name(ld, g, "target group", label, sizeof(label))) < 0)
		return r;
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	snprintf(where, sizeof(where), "in %s", label);
	const struct cfg_section sec = { prefix, where, "target group" };
	if ((r = cfg_apply_keys(ld, &sec, NLB_CONF_GROUP, g, grp)) < 0)
		return r;
	grp->connect_timeout_ts.tv_sec = grp->connect_timeout_ms / 1000;
	grp->connect_timeout_ts.tv_nsec = (long long)(grp->connect_timeout_ms % 1000) * 1000000;

	for (const struct nlb_group_conf *o = cfg->groups; o < grp; o++) {
		if (strcmp(o->name, grp->name) == 0)
			return cfg_fail(ld, cfg_member_or(g, "name"),
					"duplicate target group name \"%s\" (first at line %d)",
					grp->name, o->line);
	}

	if ((r = load_group_tls(ld, g, grp, label)) < 0)
		return r;
	if ((r = cfg_group_protocol(ld, g, grp, label)) < 0)
		return r;
	if ((r = load_health(ld, g, grp, label)) < 0)
		return r;

	config_setting_t *list;
	size_t n;
	if ((r = cfg_get_list(ld, g, "targets", "target", &list, &n)) < 0)
		return r;
	if (n == 0)
		return 0;
	if (n > grp->max_targets)
		return cfg_fail(ld, list, "%s: %zu targets, more than \"max_targets\" %u",
				label, n, (unsigned)grp->max_targets);
	grp->targets = calloc(n, sizeof(*grp->targets));
	if (grp->targets == NULL)
		return cfg_fail_nomem(ld);
	for (size_t i = 0; i < n; i++) {
		r = load_target(ld, config_setting_get_elem(list, (unsigned)i),
				grp, label, &grp->targets[i]);
		if (r < 0)
			return r;
		grp->n_targets = i + 1;
	}
	return check_maglev_size(ld, g, grp, label);
}

/* Which transport protocols a listener binds, so that tcp on :53 and udp
 * on :53 do not count as the same address. */
static unsigned proto_mask(enum nlb_protocol p)
{
	switch (p) {
	case NLB_PROTO_TCP:
	case NLB_PROTO_TLS:
	case NLB_PROTO_HTTP:
	case NLB_PROTO_HTTPS:
		return 1;
	case NLB_PROTO_UDP:
		return 2;
	case NLB_PROTO_TCP_UDP:
		return 3;
	case NLB_PROTO_GATEWAY:
		return 2;	/* GENEVE over UDP */
	}
	return 0;
}

/* A tls listener's tls = { }: its keys, its certificates, then the
 * server context, which reads every certificate, key and ticket key
 * file now (as the user loading: a reload runs as "user"). */
static int load_listener_tls(const struct cfg_loader *ld, const config_setting_t *g,
			     struct nlb_listener_conf *l, const char *label)
{
	struct nlb_tls_listener_conf *tc = &l->tls;
	const config_setting_t *t = config_setting_get_member(g, "tls");
	if (!nlb_proto_tls(l->protocol)) {
		if (t != NULL)
			return cfg_fail(ld, t, "%s: \"tls\" belongs to tls and https listeners; "
					"this one is %s", label, nlb_protocol_name(l->protocol));
		return 0;
	}
	if (t == NULL)
		return cfg_fail(ld, g, "%s: a%s %s listener needs tls = { certificates = ( ... ); }",
				label, l->protocol == NLB_PROTO_HTTPS ? "n" : "",
				nlb_protocol_name(l->protocol));
	char prefix[LABEL_LEN + 16], where[LABEL_LEN + 16], who[LABEL_LEN + 48];
	snprintf(prefix, sizeof(prefix), "%s: tls: ", label);
	snprintf(where, sizeof(where), "in tls of %s", label);
	const struct cfg_section sec = { prefix, where, "tls" };
	int r = cfg_apply_keys(ld, &sec, NLB_CONF_TLS, t, tc);
	if (r < 0)
		return r;
	tc->line = config_setting_source_line(t);
	/* An https listener speaks HTTP/1.1 and says so to a client that
	 * asks (as the ALB does), unless told otherwise. */
	if (l->protocol == NLB_PROTO_HTTPS && !config_setting_get_member(t, "alpn"))
		tc->alpn = NLB_TLS_ALPN_HTTP1_ONLY;

	config_setting_t *list;
	size_t n;
	if ((r = cfg_get_list(ld, t, "certificates", "certificate", &list, &n)) < 0)
		return r;
	if (n == 0)
		return cfg_fail(ld, list, "%s\"certificates\" is empty: give at least one "
				"{ cert = \"...\"; key = \"...\"; }", prefix);
	if (n > NLB_TLS_CERTS_MAX)
		return cfg_fail(ld, list, "%s%zu certificates, more than %u", prefix, n,
				NLB_TLS_CERTS_MAX);
	if ((tc->certs = calloc(n, sizeof(*tc->certs))) == NULL)
		return cfg_fail_nomem(ld);
	snprintf(who, sizeof(who), "a certificate of %s", label);
	const struct cfg_section csec = { prefix, where, who };
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		tc->n_certs = i + 1;
		tc->certs[i].line = config_setting_source_line(e);
		if ((r = cfg_apply_keys(ld, &csec, NLB_CONF_TLS_CERT, e, &tc->certs[i])) < 0)
			return r;
	}
	char why[512];
	int line = tc->line;
	if ((r = nlb_tls_server_new(tc, &tc->server, why, sizeof(why), &line)) < 0)
		return cfg_fail_line(ld, (unsigned)line, "%s: %s", label, why);
	return 0;
}

static int load_listener(const struct cfg_loader *ld, const config_setting_t *g,
			 struct nlb_config *cfg, struct nlb_listener_conf *l)
{
	char label[LABEL_LEN], prefix[LABEL_LEN + 32], where[LABEL_LEN + 32];
	int r;

	l->line = config_setting_source_line(g);
	if ((r = cfg_read_name(ld, g, "listener", label, sizeof(label))) < 0)
		return r;
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	snprintf(where, sizeof(where), "in %s", label);
	const struct cfg_section sec = { prefix, where, "listener" };
	if ((r = cfg_apply_keys(ld, &sec, NLB_CONF_LISTENER, g, l)) < 0)
		return r;

	for (const struct nlb_listener_conf *o = cfg->listeners; o < l; o++) {
		if (strcmp(o->name, l->name) == 0)
			return cfg_fail(ld, cfg_member_or(g, "name"),
					"duplicate listener name \"%s\" (first at line %d)",
					l->name, o->line);
		if ((proto_mask(o->protocol) & proto_mask(l->protocol)) &&
		    nlb_addr_equal(&o->addr, &l->addr))
			return cfg_fail(ld, cfg_member_or(g, "address"),
					"%s: address \"%s\" is already used by listener \"%s\" "
					"(line %d)", label, l->addr_text, o->name, o->line);
	}

	if ((r = cfg_listener_action(ld, g, l, label)) < 0)
		return r;
	size_t gi;
	for (gi = 0; gi < cfg->n_groups; gi++)
		if (strcmp(cfg->groups[gi].name, l->target_group) == 0)
			break;
	if (gi == cfg->n_groups)
		return nlb_proto_http(l->protocol) ?
		       cfg_fail_line(ld, (unsigned)l->http.forward_line, "%s: default_action: "
				     "unknown target group \"%s\"", label, l->target_group) :
		       cfg_fail(ld, cfg_member_or(g, "target_group"),
				"%s: unknown target_group \"%s\"", label, l->target_group);
	l->group = gi;
	if ((r = cfg_listener_group_pair(ld, g, l, &cfg->groups[gi], label)) < 0)
		return r;
	if (nlb_proto_http(l->protocol) && (r = cfg_listener_rules(ld, g, cfg, l, label)) < 0)
		return r;
	if (nlb_proto_udp(l->protocol) && cfg->groups[gi].tls.enabled)
		return cfg_fail(ld, cfg_member_or(g, "target_group"),
				"%s: target group \"%s\" speaks TLS to its targets, which UDP "
				"datagrams cannot use; give UDP a group of its own", label,
				l->target_group);
	if (nlb_proto_udp(l->protocol) && cfg->groups[gi].proxy_protocol == NLB_PP_V1)
		return cfg_fail(ld, cfg_member_or(g, "target_group"),
				"%s: target group \"%s\" sends PROXY protocol v1, which cannot "
				"carry UDP; use \"v2\"", label, l->target_group);
	if (l->protocol == NLB_PROTO_UDP && l->accept_proxy_protocol)
		return cfg_fail(ld, cfg_member_or(g, "accept_proxy_protocol"),
				"%s: \"accept_proxy_protocol\" applies to TCP connections; this "
				"listener is udp", label);
	return load_listener_tls(ld, g, l, label);
}


/* Resolves the CPUs workers run on: "cpus", each of which must be in the
 * affinity mask nlb was started with (taskset, systemd's CPUAffinity=, a
 * container's cpuset), or else that whole mask.  Read from the calling
 * thread, which at start and at reload (main or admin thread) still has
 * the mask nlb inherited: only workers ever pin themselves. */
static int load_cpus(const struct cfg_loader *ld, const config_setting_t *root,
		     struct nlb_config *cfg)
{
	cpu_set_t allowed, want;
	int r = nlb_cpu_allowed(&allowed);
	if (r < 0)
		return cfg_fail(ld, NULL, "cannot read the CPUs nlb may run on "
				"(sched_getaffinity): %s", strerror(-r));
	want = allowed;
	if (cfg->cpus_text != NULL) {
		const config_setting_t *s = cfg_member_or(root, "cpus");
		if (nlb_cpu_list_parse(cfg->cpus_text, strlen(cfg->cpus_text), &want) < 0)
			return cfg_fail(ld, s, "\"cpus\": bad CPU list \"%s\" (expected CPU "
					"numbers below %d and ranges, comma-separated, no spaces: "
					"\"2-5,8\")", cfg->cpus_text, NLB_CPU_LIST_MAX);
		for (int c = 0; c < NLB_CPU_LIST_MAX; c++) {
			if (!CPU_ISSET(c, &want) || CPU_ISSET(c, &allowed))
				continue;
			/* Cut with "..." rather than past the error's room. */
			char list[200];
			if (nlb_cpu_list_format(&allowed, list, sizeof(list)) >= sizeof(list))
				memcpy(list + sizeof(list) - 4, "...", 4);
			return cfg_fail(ld, s, "\"cpus\": CPU %d is not one nlb may run on "
					"(allowed: %s)", c, list);
		}
	}
	cfg->n_cpus = 0;
	for (int c = 0; c < NLB_CPU_LIST_MAX; c++)
		if (CPU_ISSET(c, &want))
			cfg->cpus[cfg->n_cpus++] = (uint16_t)c;
	return 0;
}

static int load_stats_admin(const struct cfg_loader *ld, const config_setting_t *root,
			    struct nlb_config *cfg)
{
	const config_setting_t *g = config_setting_get_member(root, "stats");
	int r;
	if (g) {
		const struct cfg_section sec = { "stats: ", "in stats", "stats" };
		if ((r = cfg_apply_keys(ld, &sec, NLB_CONF_STATS, g, cfg)) < 0)
			return r;
		cfg->stats_enabled = 1;
		cfg->stats_line = config_setting_source_line(cfg_member_or(g, "listen"));
	}
	g = config_setting_get_member(root, "access_log");
	if (g) {
		const struct cfg_section sec = { "access_log: ", "in access_log", "access_log" };
		if ((r = cfg_apply_keys(ld, &sec, NLB_CONF_ACCESS_LOG, g, cfg)) < 0)
			return r;
		cfg->access_log_line = config_setting_source_line(cfg_member_or(g, "path"));
		if ((r = cfg_access_log_dir(ld, cfg)) < 0)
			return r;
	}
	g = config_setting_get_member(root, "admin");
	if (g) {
		const struct cfg_section sec = { "admin: ", "in admin", "admin" };
		if ((r = cfg_apply_keys(ld, &sec, NLB_CONF_ADMIN, g, cfg)) < 0)
			return r;
		/* libconfig 1.5 read 0600 as 600: the digits are octal. */
		uint32_t digits = cfg->admin_mode, mode = 0;
		for (uint32_t v = digits, shift = 0; v; v /= 10, shift += 3) {
			if (v % 10 > 7)
				return cfg_fail(ld, cfg_member_or(g, "mode"), "admin: \"mode\" is "
						"octal, as in chmod: 0600, 0660 (got %u)",
						(unsigned)digits);
			mode |= (v % 10) << shift;
		}
		cfg->admin_mode = mode;
		if (cfg->admin_socket[0] != '/' ||
		    strlen(cfg->admin_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return cfg_fail(ld, cfg_member_or(g, "socket"), "admin: \"socket\" must "
					"be an absolute path shorter than %zu bytes",
					sizeof(((struct sockaddr_un *)0)->sun_path));
	}
	return 0;
}

static int load_root(const struct cfg_loader *ld, const config_setting_t *root,
		     struct nlb_config *cfg)
{
	static const struct cfg_section top = { "", "at top level", "configuration" };
	config_setting_t *list;
	size_t n;
	int r;

	if ((r = cfg_apply_keys(ld, &top, NLB_CONF_TOP, root, cfg)) < 0)
		return r;
	/* A group is what the user switches to: alone it means nothing. */
	if (cfg->group && !cfg->user)
		return cfg_fail(ld, cfg_member_or(root, "group"), "\"group\" needs \"user\" (nlb "
				"switches to both once its sockets are bound)");
	if ((r = load_cpus(ld, root, cfg)) < 0)
		return r;
	if (cfg->workers == 0)
		cfg->workers = cfg->n_cpus < NLB_CONFIG_MAX_WORKERS ? cfg->n_cpus :
			       NLB_CONFIG_MAX_WORKERS;
	if ((r = load_stats_admin(ld, root, cfg)) < 0 || (r = cfg_load_announce(ld, root, cfg)) < 0)
		return r;

	/* Groups first: listeners refer to them by name. */
	if ((r = cfg_get_list(ld, root, "target_groups", "target group", &list, &n)) < 0)
		return r;
	if (n > NLB_MAX_GROUPS)
		return cfg_fail(ld, list, "%zu target groups, more than %u", n, NLB_MAX_GROUPS);
	if (n > 0 && (cfg->groups = calloc(n, sizeof(*cfg->groups))) == NULL)
		return cfg_fail_nomem(ld);
	for (size_t i = 0; i < n; i++) {
		/* Counted before loading so nlb_config_free sees whatever a
		 * failed load left half-built. */
		cfg->n_groups = i + 1;
		r = load_group(ld, config_setting_get_elem(list, (unsigned)i),
			       cfg, &cfg->groups[i]);
		if (r < 0)
			return r;
	}

	if ((r = cfg_get_list(ld, root, "listeners", "listener", &list, &n)) < 0)
		return r;
	if (n > NLB_MAX_LISTENERS)
		return cfg_fail(ld, list, "%zu listeners, more than %u", n, NLB_MAX_LISTENERS);
	if (n > 0 && (cfg->listeners = calloc(n, sizeof(*cfg->listeners))) == NULL)
		return cfg_fail_nomem(ld);
	for (size_t i = 0; i < n; i++) {
		cfg->n_listeners = i + 1;
		r = load_listener(ld, config_setting_get_elem(list, (unsigned)i),
				  cfg, &cfg->listeners[i]);
		if (r < 0)
			return r;
	}
	return cfg_load_gateways(ld, root, cfg);
}

int nlb_config_parse(const char *path, const char *text, size_t len,
		     struct nlb_config **out, char *err, size_t errlen)
{
	const struct cfg_loader ld = { path, err, errlen };
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text[len] != '\0')
		return cfg_fail_line(&ld, 0, "internal error: the text is not NUL-terminated");
	if ((r = cfg_check_text(&ld, text, len)) < 0)
		return r;

	config_t lc;
	config_init(&lc);
	if (!config_read_string(&lc, text)) {
		/* A string has no file name: the error is the path's. */
		r = cfg_fail_line(&ld, (unsigned)config_error_line(&lc), "%s",
				  config_error_text(&lc));
		config_destroy(&lc);
		return r;
	}

	r = cfg_check_int_literals(&ld, text, len);
	struct nlb_config *cfg = NULL;
	if (r == 0) {
		cfg = calloc(1, sizeof(*cfg));
		if (cfg == NULL || (cfg->path = strdup(path)) == NULL)
			r = cfg_fail_nomem(&ld);
	}
	if (r == 0)
		r = load_root(&ld, config_root_setting(&lc), cfg);
	config_destroy(&lc);

	if (r < 0) {
		nlb_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int nlb_config_load(const char *path, struct nlb_config **out,
		    char *err, size_t errlen)
{
	const struct cfg_loader ld = { path, err, errlen };
	char *text = NULL;
	size_t len = 0;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	int r = cfg_read_file(&ld, &text, &len);
	if (r < 0)
		return r;
	r = nlb_config_parse(path, text, len, out, err, errlen);
	free(text);
	return r;
}

/* What a tls = { } holds, the contexts built from it too. */
static void tls_listener_conf_free(struct nlb_tls_listener_conf *tc)
{
	for (size_t i = 0; i < tc->n_certs; i++) {
		free(tc->certs[i].cert);
		free(tc->certs[i].key);
	}
	free(tc->certs);
	free(tc->ticket_keys);
	nlb_tls_server_free(tc->server);
	memset(tc, 0, sizeof(*tc));
}

static void tls_group_conf_free(struct nlb_tls_group_conf *tc)
{
	free(tc->ca);
	free(tc->server_name);
	nlb_tls_client_free(tc->client);
	memset(tc, 0, sizeof(*tc));
}

void nlb_config_free(struct nlb_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		free(cfg->listeners[i].name);
		free(cfg->listeners[i].target_group);
		free(cfg->listeners[i].http.forward);
		nlb_http_rules_put(cfg->listeners[i].http.rules);
		nlb_acl_free(cfg->listeners[i].allow);
		nlb_acl_free(cfg->listeners[i].deny);
		tls_listener_conf_free(&cfg->listeners[i].tls);
		cfg_gateway_free(&cfg->listeners[i].gw);
	}
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->n_groups; i++) {
		free(cfg->groups[i].name);
		free(cfg->groups[i].protocol_text);
		free(cfg->groups[i].targets);
		free(cfg->groups[i].health.path);
		free(cfg->groups[i].health.matcher_text);
		nlb_tls_client_free(cfg->groups[i].health.tls_client);
		tls_group_conf_free(&cfg->groups[i].tls);
	}
	free(cfg->groups);
	free(cfg->admin_socket);
	free(cfg->user);
	free(cfg->group);
	free(cfg->cpus_text);
	free(cfg->access_log_path);
	free(cfg->announce_prefixes);
	free(cfg->path);
	free(cfg);
}
