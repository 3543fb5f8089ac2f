/* Loading what HTTP adds to the configuration (config_http.h). */
#include "config_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_keys-t.h"
#include "config_walk.h"
#include "tuple_hash.h"

static const char *const group_protocol_names[] = {
	[NLB_GROUP_TCP] = "tcp",
	[NLB_GROUP_UDP] = "udp",
	[NLB_GROUP_TCP_UDP] = "tcp_udp",
	[NLB_GROUP_HTTP] = "http",
	[NLB_GROUP_GENEVE] = "geneve",
};

/* The keys an http group cannot honour: a PROXY header cannot speak for
 * a pooled connection that carries many clients' requests; a flow hash
 * means nothing when each request is placed on its own; TLS to targets
 * of http groups is not built yet. */
static int check_http_group(const struct cfg_loader *ld, const struct nlb_group_conf *grp,
			    const char *glabel)
{
	if (grp->proxy_protocol != NLB_PP_NONE)
		return cfg_fail_line(ld, (unsigned)grp->line, "%s: \"proxy_protocol\" cannot be "
				     "used by an http group: one connection to a target carries "
				     "many clients' requests (X-Forwarded-For names each client)",
				     glabel);
	if (grp->hash_fields != NLB_HASH_5TUPLE)
		return cfg_fail_line(ld, (unsigned)grp->line, "%s: \"hash_fields\" means nothing "
				     "for an http group, whose requests are placed one by one",
				     glabel);
	return 0;
}

int cfg_group_protocol(const struct cfg_loader *ld, const config_setting_t *g,
		       struct nlb_group_conf *grp, const char *label)
{
	if (!grp->protocol_text)
		return 0;
	for (size_t i = 0; i < sizeof(group_protocol_names) / sizeof(group_protocol_names[0]); i++) {
		if (strcmp(grp->protocol_text, group_protocol_names[i]) == 0) {
			grp->protocol = (enum nlb_group_protocol)i;
			return grp->protocol == NLB_GROUP_HTTP ? check_http_group(ld, grp, label) : 0;
		}
	}
	return cfg_fail(ld, cfg_member_or(g, "protocol"), "%s: \"protocol\" must be one of "
			"tcp, udp, tcp_udp, http, geneve, not \"%s\"", label, grp->protocol_text);
}

/* A key of part in g, which a listener of this protocol does not have. */
static int refuse_part(const struct cfg_loader *ld, const config_setting_t *g,
		       const struct key_part *part, const struct nlb_listener_conf *l,
		       const char *label, const char *whose)
{
	for (size_t i = 0; i < part->n; i++) {
		const config_setting_t *k = config_setting_get_member(g, part->keys[i].name);
		if (k)
			return cfg_fail(ld, k, "%s: \"%s\" belongs to %s listeners; this one is %s",
					label, part->keys[i].name, whose,
					nlb_protocol_name(l->protocol));
	}
	return 0;
}

int cfg_listener_action(const struct cfg_loader *ld, const config_setting_t *g,
			struct nlb_listener_conf *l, const char *label)
{
	/* Keys of the other side of the table are refused, not ignored. */
	bool http = nlb_proto_http(l->protocol);
	const char *name = nlb_protocol_name(l->protocol);
	int r = http ? refuse_part(ld, g, &nlb_udp_listener_keys, l, label, "udp and tcp_udp") :
		       refuse_part(ld, g, &nlb_http_listener_keys, l, label, "http and https");
	if (r < 0)
		return r;
	if (!http) {
		if (!l->target_group)
			return cfg_fail(ld, g, "%s is missing \"target_group\"", label);
		return 0;
	}
	const config_setting_t *a = config_setting_get_member(g, "default_action");
	if (l->target_group)
		return cfg_fail(ld, cfg_member_or(g, "target_group"), "%s: an %s listener "
				"names its group in default_action = { forward = \"...\"; }, not "
				"in \"target_group\"", label, name);
	if (!a)
		return cfg_fail(ld, g, "%s: an %s listener needs default_action = "
				"{ forward = \"<target group>\"; }", label, name);
	char prefix[LABEL_LEN + 32], where[LABEL_LEN + 32];
	snprintf(prefix, sizeof(prefix), "%s: default_action: ", label);
	snprintf(where, sizeof(where), "in default_action of %s", label);
	const struct cfg_section sec = { prefix, where, "default_action" };
	r = cfg_apply_keys(ld, &sec, NLB_CONF_HTTP_ACTION, a, &l->http);
	if (r < 0)
		return r;
	l->http.forward_line = config_setting_source_line(cfg_member_or(a, "forward"));
	/* From here on the group is named where every listener names it. */
	l->target_group = l->http.forward;
	l->http.forward = NULL;
	return 0;
}

int cfg_access_log_dir(const struct cfg_loader *ld, const struct nlb_config *cfg)
{
	const char *p = cfg->access_log_path;
	const char *slash = strrchr(p, '/');
	if (p[0] != '/' || !slash[1])
		return cfg_fail_line(ld, (unsigned)cfg->access_log_line, "access_log: \"path\" must "
				     "be an absolute path to a file, not \"%s\"", p);
	char dir[4096];
	size_t n = slash == p ? 1 : (size_t)(slash - p);
	if (n >= sizeof(dir))
		return cfg_fail_line(ld, (unsigned)cfg->access_log_line, "access_log: path too long");
	memcpy(dir, p, n);
	dir[n] = '\0';
	if (access(dir, W_OK | X_OK) != 0)
		return cfg_fail_line(ld, (unsigned)cfg->access_log_line, "access_log: cannot create "
				     "files in %s as this user (%s); nlb reopens the log as \"user\"",
				     dir, strerror(errno));
	return 0;
}

/* Which group protocols a listener protocol may use. */
static bool fits(enum nlb_protocol lp, enum nlb_group_protocol gp)
{
	switch (gp) {
	case NLB_GROUP_TCP:
		return lp == NLB_PROTO_TCP || lp == NLB_PROTO_TLS;
	case NLB_GROUP_UDP:
		return lp == NLB_PROTO_UDP;
	case NLB_GROUP_TCP_UDP:
		return !nlb_proto_http(lp) && lp != NLB_PROTO_GATEWAY;
	case NLB_GROUP_HTTP:
		return nlb_proto_http(lp);
	case NLB_GROUP_GENEVE:
		return lp == NLB_PROTO_GATEWAY;
	}
	return false;
}

int cfg_listener_group_pair(const struct cfg_loader *ld, const config_setting_t *g,
			    const struct nlb_listener_conf *l, struct nlb_group_conf *grp,
			    const char *label)
{
	bool http = nlb_proto_http(l->protocol);
	const config_setting_t *at = http ? g : cfg_member_or(g, "target_group");
	unsigned line = http ? (unsigned)l->http.forward_line :
			(unsigned)config_setting_source_line(at);
	if (grp->protocol_text) {
		if (!fits(l->protocol, grp->protocol))
			return cfg_fail_line(ld, line, "%s: target group \"%s\" has protocol "
					     "\"%s\", which a%s %s listener cannot use", label,
					     grp->name, grp->protocol_text, http ? "n" : "",
					     nlb_protocol_name(l->protocol));
		return 0;
	}
	/* Inferred: http from http listeners, which share it with no other. */
	bool was_http = grp->protocol == NLB_GROUP_HTTP;
	bool others = grp->listener_protocols &
		      ~((1u << NLB_PROTO_HTTP) | (1u << NLB_PROTO_HTTPS));
	grp->listener_protocols |= 1u << l->protocol;
	if (http && others)
		return cfg_fail_line(ld, line, "%s: target group \"%s\" is used by tcp or udp "
				     "listeners too; an %s listener needs a group of its own",
				     label, grp->name, nlb_protocol_name(l->protocol));
	if (!http && was_http)
		return cfg_fail_line(ld, line, "%s: target group \"%s\" is used by http or "
				     "https listeners; a %s listener needs a group of its own", label,
				     grp->name, nlb_protocol_name(l->protocol));
	if (http && !was_http) {
		grp->protocol = NLB_GROUP_HTTP;
		char glabel[LABEL_LEN];
		snprintf(glabel, sizeof(glabel), "target group \"%s\" (http: %s uses it)",
			 grp->name, label);
		return check_http_group(ld, grp, glabel);
	}
	return 0;
}
