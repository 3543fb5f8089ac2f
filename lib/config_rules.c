/* Loading an http listener's rules (config_rules.h).  The ALB's shapes
 * and limits: at most NLB_HTTP_RULES_MAX rules, unique priorities, at
 * least one condition each, at most NLB_HTTP_RULE_VALUES_MAX values a
 * condition, and one action. */
#include "config_rules.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config_http.h"
#include "config_walk.h"
#include "http_path.h"
#include "http_rules.h"

struct rule_ctx {
	const struct cfg_loader *ld;
	const char *label;		/* 'listener "www": rule 10' */
	struct nlb_config *cfg;
	struct nlb_listener_conf *l;
};

static int nomem(const struct rule_ctx *x)
{
	return cfg_fail_nomem(x->ld);
}

static int set_pattern(const struct rule_ctx *x, struct nlb_rule_pattern *p, const char *s)
{
	if (!(p->p = strdup(s)))
		return nomem(x);
	p->len = (uint32_t)strlen(s);
	return 0;
}

/* The bytes each kind of value may hold (the ALB's sets, roughly: no
 * spaces or controls anywhere). */
enum value_kind { V_HOST, V_PATH, V_METHOD, V_NAME, V_TEXT };

static bool value_ok(enum value_kind k, unsigned char c)
{
	bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	switch (k) {
	case V_HOST:
		return alnum || c == '-' || c == '.' || c == '*' || c == '?';
	case V_METHOD:
		return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
	case V_NAME:	/* a field name: an RFC 9110 token */
		return alnum || strchr("!#$%&'*+-.^_`|~", c) != NULL;
	case V_PATH:
	case V_TEXT:
		return c > 0x20 && c < 0x7f;
	}
	return false;
}

static const char *kind_text(enum value_kind k)
{
	switch (k) {
	case V_HOST: return "letters, digits, '-', '.', '*' and '?'";
	case V_METHOD: return "upper-case letters, '-' and '_'";
	case V_NAME: return "a field name's characters (RFC 9110 token)";
	case V_PATH:
	case V_TEXT: return "visible ASCII, no spaces";
	}
	return "";
}

static int check_value(const struct rule_ctx *x, const config_setting_t *at, const char *what,
		       enum value_kind k, const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NLB_HTTP_RULE_VALUE_MAX)
		return cfg_fail(x->ld, at, "%s: %s values are 1 to %u bytes, not %zu", x->label,
				what, NLB_HTTP_RULE_VALUE_MAX, n);
	for (size_t i = 0; i < n; i++)
		if (!value_ok(k, (unsigned char)s[i]))
			return cfg_fail(x->ld, at, "%s: %s \"%s\": only %s", x->label, what, s,
					kind_text(k));
	if (k == V_PATH) {
		if (s[0] != '/' && s[0] != '*')
			return cfg_fail(x->ld, at, "%s: path \"%s\" must start with '/' or '*'",
					x->label, s);
		/* Requests are matched normalised: a pattern that is not
		 * could never match. */
		char norm[NLB_HTTP_RULE_VALUE_MAX + 4], plain[NLB_HTTP_RULE_VALUE_MAX + 2];
		/* '?' is a wildcard here, not the start of a query; a pattern
		 * that starts with '*' is judged as if a '/' came first. */
		size_t lead = s[0] == '*';
		plain[0] = '/';
		for (size_t i = 0; i <= n; i++)
			plain[lead + i] = s[i] == '?' ? '\x01' : s[i];
		int r = nlb_http_path_normalise(plain, n + lead, norm, sizeof(norm));
		bool same = r >= 0 && strcmp(norm, plain) == 0;
		for (char *q = norm; r >= 0 && *q; q++)
			if (*q == '\x01')
				*q = '?';
		if (r < 0 || !same)
			return cfg_fail(x->ld, at, "%s: path \"%s\" is matched against normalised "
					"paths (no \"//\", \".\" or \"..\" segments, unreserved "
					"characters not percent-encoded)%s%s", x->label, s,
					r >= 0 ? ": write " : "", r >= 0 ? norm + lead : "");
	}
	return 0;
}

/* A condition's values: a string or a list of 1 .. 5 strings. */
static int read_values(const struct rule_ctx *x, const config_setting_t *s, const char *what,
		       enum value_kind k, struct nlb_rule_pattern *out, uint8_t *n)
{
	int type = config_setting_type(s);
	if (type == CONFIG_TYPE_STRING) {
		int r = check_value(x, s, what, k, config_setting_get_string(s));
		if (r == 0 && (r = set_pattern(x, &out[0], config_setting_get_string(s))) == 0)
			*n = 1;
		return r;
	}
	if (type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY)
		return cfg_fail(x->ld, s, "%s: \"%s\" is a string or a list of strings", x->label,
				what);
	int len = config_setting_length(s);
	if (len < 1 || len > NLB_HTTP_RULE_VALUES_MAX)
		return cfg_fail(x->ld, s, "%s: \"%s\" takes 1 to %u values, not %d", x->label, what,
				NLB_HTTP_RULE_VALUES_MAX, len);
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(x->ld, e, "%s: \"%s\" values are strings", x->label, what);
		int r = check_value(x, e, what, k, config_setting_get_string(e));
		if (r < 0 || (r = set_pattern(x, &out[i], config_setting_get_string(e))) < 0)
			return r;
		*n = (uint8_t)(i + 1);
	}
	return 0;
}

/* Only the members named in keys (NULL-terminated). */
static int only_keys(const struct rule_ctx *x, const config_setting_t *g, const char *what,
		     const char *const *keys)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(x->ld, g, "%s: \"%s\" is a group { ... }", x->label, what);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k = 0;
		while (keys[k] && strcmp(keys[k], name) != 0)
			k++;
		if (!keys[k])
			return cfg_fail(x->ld, m, "%s: unknown key \"%s\" in %s", x->label, name, what);
	}
	return 0;
}

static const char *member_string(const config_setting_t *g, const char *name)
{
	const config_setting_t *m = config_setting_get_member(g, name);
	return m && config_setting_type(m) == CONFIG_TYPE_STRING ? config_setting_get_string(m)
								   : NULL;
}

static int read_header(const struct rule_ctx *x, const config_setting_t *g,
		       struct nlb_rule_header *h)
{
	static const char *const keys[] = { "name", "values", NULL };
	int r = only_keys(x, g, "header", keys);
	if (r < 0)
		return r;
	const char *name = member_string(g, "name");
	const config_setting_t *v = config_setting_get_member(g, "values");
	if (!name || !v)
		return cfg_fail(x->ld, g, "%s: a header condition is { name = \"...\"; values = "
				"( \"...\" ); }", x->label);
	if ((r = check_value(x, cfg_member_or(g, "name"), "header name", V_NAME, name)) < 0 ||
	    (r = set_pattern(x, &h->name, name)) < 0)
		return r;
	return read_values(x, v, "header values", V_TEXT, h->value, &h->n);
}

/* header = { ... } or header = ( { ... }, ... ): each must hold. */
static int read_headers(const struct rule_ctx *x, const config_setting_t *s,
			struct nlb_http_rule *u)
{
	if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
		u->n_header = 1;
		return read_header(x, s, &u->header[0]);
	}
	int len = config_setting_length(s);
	if (config_setting_type(s) != CONFIG_TYPE_LIST || len < 1 ||
	    len > NLB_HTTP_RULE_VALUES_MAX)
		return cfg_fail(x->ld, s, "%s: \"header\" is a group or a list of 1 to %u groups",
				x->label, NLB_HTTP_RULE_VALUES_MAX);
	for (int i = 0; i < len; i++) {
		int r = read_header(x, config_setting_get_elem(s, (unsigned)i), &u->header[i]);
		if (r < 0)
			return r;
		u->n_header = (uint8_t)(i + 1);
	}
	return 0;
}

/* query = ( { key = "k"; value = "v"; }, { value = "v"; } ): any pair. */
static int read_query(const struct rule_ctx *x, const config_setting_t *s,
		      struct nlb_http_rule *u)
{
	static const char *const keys[] = { "key", "value", NULL };
	int len = config_setting_length(s);
	if (config_setting_type(s) != CONFIG_TYPE_LIST || len < 1 ||
	    len > NLB_HTTP_RULE_VALUES_MAX)
		return cfg_fail(x->ld, s, "%s: \"query\" is a list of 1 to %u { key = \"...\"; "
				"value = \"...\"; } (key optional)", x->label,
				NLB_HTTP_RULE_VALUES_MAX);
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int r = only_keys(x, e, "query", keys);
		if (r < 0)
			return r;
		const char *k = member_string(e, "key"), *v = member_string(e, "value");
		if (!v)
			return cfg_fail(x->ld, e, "%s: a query pair needs \"value\"", x->label);
		if ((k && ((r = check_value(x, cfg_member_or(e, "key"), "query key", V_TEXT, k)) < 0 ||
			   (r = set_pattern(x, &u->query[i].key, k)) < 0)) ||
		    (r = check_value(x, cfg_member_or(e, "value"), "query value", V_TEXT, v)) < 0 ||
		    (r = set_pattern(x, &u->query[i].value, v)) < 0)
			return r;
		u->n_query = (uint8_t)(i + 1);
	}
	return 0;
}

static int read_source(const struct rule_ctx *x, const config_setting_t *s,
		       struct nlb_http_rule *u)
{
	int r = read_values(x, s, "source", V_TEXT, u->source_text, &u->n_source);
	if (r < 0)
		return r;
	if (!(u->source = nlb_acl_new()))
		return nomem(x);
	for (unsigned i = 0; i < u->n_source; i++) {
		struct nlb_cidr c;
		if (nlb_cidr_parse(u->source_text[i].p, &c) < 0)
			return cfg_fail(x->ld, s, "%s: source \"%s\" is not a CIDR prefix "
					"(\"10.0.0.0/8\", \"2001:db8::/32\", host bits zero)",
					x->label, u->source_text[i].p);
		if (nlb_acl_add(u->source, &c) < 0)
			return nomem(x);
	}
	return nlb_acl_build(u->source) < 0 ? nomem(x) : 0;
}

/* ---- actions ------------------------------------------------------------ */

/* A group a rule forwards to: known, and one this listener may use. */
static int forward_group(const struct rule_ctx *x, const config_setting_t *at, const char *name,
			 struct nlb_rule_forward *f)
{
	size_t gi;
	for (gi = 0; gi < x->cfg->n_groups; gi++)
		if (strcmp(x->cfg->groups[gi].name, name) == 0)
			break;
	if (gi == x->cfg->n_groups)
		return cfg_fail(x->ld, at, "%s: forward: unknown target group \"%s\"", x->label,
				name);
	/* The pairing table's check, at this rule's line. */
	struct nlb_listener_conf l = *x->l;
	l.http.forward_line = config_setting_source_line(at);
	int r = cfg_listener_group_pair(x->ld, at, &l, &x->cfg->groups[gi], x->label);
	if (r < 0)
		return r;
	f->group = (uint32_t)gi;
	f->cookie = nlb_http_rule_cookie(name);
	return (f->group_name = strdup(name)) ? 0 : nomem(x);
}

static int read_forward(const struct rule_ctx *x, const config_setting_t *s,
			struct nlb_http_rule *u)
{
	u->action = NLB_RULE_FORWARD;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		u->n_to = 1;
		u->to[0].weight = 1;
		u->total_weight = 1;
		return forward_group(x, s, config_setting_get_string(s), &u->to[0]);
	}
	static const char *const keys[] = { "target_group", "weight", NULL };
	int len = config_setting_length(s);
	if (config_setting_type(s) != CONFIG_TYPE_LIST || len < 1 ||
	    len > NLB_HTTP_RULE_GROUPS_MAX)
		return cfg_fail(x->ld, s, "%s: \"forward\" is a group's name or a list of 1 to %u "
				"{ target_group = \"...\"; weight = N; }", x->label,
				NLB_HTTP_RULE_GROUPS_MAX);
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int r = only_keys(x, e, "forward", keys);
		if (r < 0)
			return r;
		const char *name = member_string(e, "target_group");
		const config_setting_t *w = config_setting_get_member(e, "weight");
		if (!name)
			return cfg_fail(x->ld, e, "%s: forward: each entry names its "
					"\"target_group\"", x->label);
		long long weight = 1;
		if (w) {
			if (config_setting_type(w) != CONFIG_TYPE_INT &&
			    config_setting_type(w) != CONFIG_TYPE_INT64)
				return cfg_fail(x->ld, w, "%s: forward: \"weight\" is a number",
						x->label);
			weight = config_setting_get_int64(w);
		}
		if (weight < 0 || weight > NLB_HTTP_RULE_WEIGHT_MAX)
			return cfg_fail(x->ld, w, "%s: forward: \"weight\" is 0 to %u, not %lld",
					x->label, NLB_HTTP_RULE_WEIGHT_MAX, weight);
		for (int k = 0; k < i; k++)
			if (strcmp(u->to[k].group_name, name) == 0)
				return cfg_fail(x->ld, e, "%s: forward: target group \"%s\" is "
						"listed twice", x->label, name);
		if ((r = forward_group(x, cfg_member_or(e, "target_group"), name, &u->to[i])) < 0)
			return r;
		u->to[i].weight = (uint32_t)weight;
		u->total_weight += (uint32_t)weight;
		u->n_to = (uint8_t)(i + 1);
	}
	if (!u->total_weight)
		return cfg_fail(x->ld, s, "%s: forward: every weight is 0, so no request could be "
				"sent anywhere", x->label);
	return 0;
}

static int read_stickiness(const struct rule_ctx *x, const config_setting_t *s,
			   struct nlb_http_rule *u)
{
	static const char *const keys[] = { "enabled", "duration_s", NULL };
	int r = only_keys(x, s, "stickiness", keys);
	if (r < 0)
		return r;
	if (u->action != NLB_RULE_FORWARD)
		return cfg_fail(x->ld, s, "%s: \"stickiness\" goes with \"forward\"", x->label);
	const config_setting_t *en = config_setting_get_member(s, "enabled");
	const config_setting_t *d = config_setting_get_member(s, "duration_s");
	if (en && config_setting_type(en) != CONFIG_TYPE_BOOL)
		return cfg_fail(x->ld, en, "%s: stickiness: \"enabled\" is true or false", x->label);
	long long dur = NLB_HTTP_STICKY_DEFAULT_S;
	if (d) {
		if (config_setting_type(d) != CONFIG_TYPE_INT &&
		    config_setting_type(d) != CONFIG_TYPE_INT64)
			return cfg_fail(x->ld, d, "%s: stickiness: \"duration_s\" is a number",
					x->label);
		dur = config_setting_get_int64(d);
	}
	if (dur < NLB_HTTP_STICKY_MIN_S || dur > NLB_HTTP_STICKY_MAX_S)
		return cfg_fail(x->ld, d, "%s: stickiness: \"duration_s\" is %u to %u (7 days), "
				"not %lld", x->label, NLB_HTTP_STICKY_MIN_S, NLB_HTTP_STICKY_MAX_S,
				dur);
	u->sticky_s = en && !config_setting_get_bool(en) ? 0 : (uint32_t)dur;
	return 0;
}

/* A redirect template: text and the ALB's #{...} keywords only. */
static int check_template(const struct rule_ctx *x, const config_setting_t *at, const char *key,
			  const char *t)
{
	if (strlen(t) > NLB_HTTP_RULE_VALUE_MAX)
		return cfg_fail(x->ld, at, "%s: redirect: \"%s\" is at most %u bytes", x->label, key,
				NLB_HTTP_RULE_VALUE_MAX);
	for (const char *p = t; *p; p++) {
		if (!value_ok(V_TEXT, (unsigned char)*p))
			return cfg_fail(x->ld, at, "%s: redirect: \"%s\": only visible ASCII, no "
					"spaces", x->label, key);
		if (p[0] != '#' || p[1] != '{')
			continue;
		size_t len;
		if (nlb_redirect_word(p, &len) < 0)
			return cfg_fail(x->ld, at, "%s: redirect: \"%s\": unknown keyword in \"%s\" "
					"(#{protocol}, #{host}, #{port}, #{path}, #{query})",
					x->label, key, t);
		p += len - 1;
	}
	return 0;
}

static int redirect_part(const struct rule_ctx *x, const config_setting_t *g, const char *key,
			 const char *dflt, char **out)
{
	const config_setting_t *m = config_setting_get_member(g, key);
	if (m && config_setting_type(m) != CONFIG_TYPE_STRING)
		return cfg_fail(x->ld, m, "%s: redirect: \"%s\" is a string", x->label, key);
	const char *t = m ? config_setting_get_string(m) : dflt;
	int r = check_template(x, cfg_member_or(g, key), key, t);
	if (r < 0)
		return r;
	return (*out = strdup(t)) ? 0 : nomem(x);
}

static int read_redirect(const struct rule_ctx *x, const config_setting_t *s,
			 struct nlb_http_rule *u)
{
	static const char *const keys[] = { "status", "protocol", "host", "port", "path",
					    "query", NULL };
	int r = only_keys(x, s, "redirect", keys);
	if (r < 0)
		return r;
	u->action = NLB_RULE_REDIRECT;
	struct nlb_rule_redirect *d = &u->redirect;
	const config_setting_t *st = config_setting_get_member(s, "status");
	int status = st && config_setting_type(st) == CONFIG_TYPE_INT ? config_setting_get_int(st)
								       : 0;
	if (status != 301 && status != 302)
		return cfg_fail(x->ld, cfg_member_or(s, "status"), "%s: redirect: \"status\" is "
				"301 or 302", x->label);
	d->status = (uint16_t)status;
	if ((r = redirect_part(x, s, "protocol", "#{protocol}", &d->protocol)) < 0 ||
	    (r = redirect_part(x, s, "host", "#{host}", &d->host)) < 0 ||
	    (r = redirect_part(x, s, "port", "#{port}", &d->port)) < 0 ||
	    (r = redirect_part(x, s, "path", "/#{path}", &d->path)) < 0 ||
	    (r = redirect_part(x, s, "query", "#{query}", &d->query)) < 0)
		return r;
	for (char *p = d->protocol; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (strcmp(d->protocol, "#{protocol}") != 0 && strcmp(d->protocol, "http") != 0 &&
	    strcmp(d->protocol, "https") != 0)
		return cfg_fail(x->ld, cfg_member_or(s, "protocol"), "%s: redirect: \"protocol\" is "
				"\"http\", \"https\" or \"#{protocol}\"", x->label);
	char *end;
	long port = strtol(d->port, &end, 10);
	if (strcmp(d->port, "#{port}") != 0 && (*end || port < 1 || port > 65535))
		return cfg_fail(x->ld, cfg_member_or(s, "port"), "%s: redirect: \"port\" is 1 to "
				"65535 or \"#{port}\"", x->label);
	if (d->path[0] != '/')
		return cfg_fail(x->ld, cfg_member_or(s, "path"), "%s: redirect: \"path\" starts "
				"with '/'", x->label);
	if (d->query[0] == '?')
		return cfg_fail(x->ld, cfg_member_or(s, "query"), "%s: redirect: \"query\" is "
				"written without its '?'", x->label);
	/* The ALB refuses a redirect to the URL itself: it would loop. */
	const char *proto = x->l->protocol == NLB_PROTO_HTTPS ? "https" : "http";
	char own_port[8];
	snprintf(own_port, sizeof(own_port), "%d",
		 nlb_addr_port((const struct sockaddr *)&x->l->addr.ss));
	bool same_proto = !strcmp(d->protocol, "#{protocol}") || !strcmp(d->protocol, proto);
	bool same_port = !strcmp(d->port, "#{port}") || !strcmp(d->port, own_port);
	if (same_proto && same_port && !strcmp(d->host, "#{host}") &&
	    !strcmp(d->path, "/#{path}") && !strcmp(d->query, "#{query}"))
		return cfg_fail(x->ld, s, "%s: redirect: this redirects every request to its own "
				"URL, a loop; change the protocol, host, port, path or query",
				x->label);
	return 0;
}

static int read_fixed(const struct rule_ctx *x, const config_setting_t *s,
		      struct nlb_http_rule *u)
{
	static const char *const keys[] = { "status", "content_type", "body", NULL };
	int r = only_keys(x, s, "fixed_response", keys);
	if (r < 0)
		return r;
	u->action = NLB_RULE_FIXED;
	const config_setting_t *st = config_setting_get_member(s, "status");
	int status = st && config_setting_type(st) == CONFIG_TYPE_INT ? config_setting_get_int(st)
								       : 0;
	if (status < 200 || status > 599)
		return cfg_fail(x->ld, cfg_member_or(s, "status"), "%s: fixed_response: \"status\" "
				"is 200 to 599", x->label);
	u->fixed_status = (uint16_t)status;
	const char *ct = member_string(s, "content_type");
	if (config_setting_get_member(s, "content_type") && !ct)
		return cfg_fail(x->ld, cfg_member_or(s, "content_type"), "%s: fixed_response: "
				"\"content_type\" is a string", x->label);
	if (ct) {
		for (const char *p = ct; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return cfg_fail(x->ld, cfg_member_or(s, "content_type"), "%s: "
						"fixed_response: \"content_type\" has a control "
						"character", x->label);
		if (!*ct || strlen(ct) > NLB_HTTP_RULE_VALUE_MAX)
			return cfg_fail(x->ld, cfg_member_or(s, "content_type"), "%s: "
					"fixed_response: \"content_type\" is 1 to %u bytes",
					x->label, NLB_HTTP_RULE_VALUE_MAX);
		if (!(u->content_type = strdup(ct)))
			return nomem(x);
	}
	const char *body = member_string(s, "body");
	if (config_setting_get_member(s, "body") && !body)
		return cfg_fail(x->ld, cfg_member_or(s, "body"), "%s: fixed_response: \"body\" is a "
				"string", x->label);
	body = body ? body : "";
	if (strlen(body) > NLB_HTTP_FIXED_BODY_MAX)
		return cfg_fail(x->ld, cfg_member_or(s, "body"), "%s: fixed_response: \"body\" is "
				"at most %u bytes, not %zu", x->label, NLB_HTTP_FIXED_BODY_MAX,
				strlen(body));
	u->body_len = (uint32_t)strlen(body);
	return (u->body = strdup(body)) ? 0 : nomem(x);
}

/* ---- a rule, the list --------------------------------------------------- */

static int read_rule(const struct rule_ctx *x0, const config_setting_t *g,
		     struct nlb_http_rule *u)
{
	struct rule_ctx x = *x0;
	char label[LABEL_LEN + 32];
	u->line = config_setting_source_line(g);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(x.ld, g, "%s: each rule is a group { priority = N; ... }", x.label);
	const config_setting_t *p = config_setting_get_member(g, "priority");
	long long prio = p && (config_setting_type(p) == CONFIG_TYPE_INT ||
			       config_setting_type(p) == CONFIG_TYPE_INT64)
		? config_setting_get_int64(p) : -1;
	if (prio < 1 || prio > 50000)
		return cfg_fail(x.ld, cfg_member_or(g, "priority"), "%s: each rule has a "
				"\"priority\" from 1 to 50000 (the lowest that matches wins)",
				x.label);
	u->priority = (uint32_t)prio;
	snprintf(label, sizeof(label), "%s: rule %u", x0->label, u->priority);
	x.label = label;
	static const char *const keys[] = { "priority", "host", "path", "method", "header",
					    "query", "source", "forward", "stickiness",
					    "redirect", "fixed_response", NULL };
	int r = only_keys(&x, g, "a rule", keys);
	if (r < 0)
		return r;
	const config_setting_t *s;
	if ((s = config_setting_get_member(g, "host"))) {
		u->conds |= NLB_RULE_HOST;
		if ((r = read_values(&x, s, "host", V_HOST, u->host, &u->n_host)) < 0)
			return r;
	}
	if ((s = config_setting_get_member(g, "path"))) {
		u->conds |= NLB_RULE_PATH;
		if ((r = read_values(&x, s, "path", V_PATH, u->path, &u->n_path)) < 0)
			return r;
	}
	if ((s = config_setting_get_member(g, "method"))) {
		u->conds |= NLB_RULE_METHOD;
		if ((r = read_values(&x, s, "method", V_METHOD, u->method, &u->n_method)) < 0)
			return r;
	}
	if ((s = config_setting_get_member(g, "header"))) {
		u->conds |= NLB_RULE_HEADER;
		if ((r = read_headers(&x, s, u)) < 0)
			return r;
	}
	if ((s = config_setting_get_member(g, "query"))) {
		u->conds |= NLB_RULE_QUERY;
		if ((r = read_query(&x, s, u)) < 0)
			return r;
	}
	if ((s = config_setting_get_member(g, "source"))) {
		u->conds |= NLB_RULE_SOURCE;
		if ((r = read_source(&x, s, u)) < 0)
			return r;
	}
	if (!u->conds)
		return cfg_fail(x.ld, g, "%s: a rule needs at least one condition (host, path, "
				"method, header, query or source); default_action is for the rest",
				x.label);
	const config_setting_t *fw = config_setting_get_member(g, "forward");
	const config_setting_t *rd = config_setting_get_member(g, "redirect");
	const config_setting_t *fx = config_setting_get_member(g, "fixed_response");
	if (!!fw + !!rd + !!fx != 1)
		return cfg_fail(x.ld, g, "%s: a rule has one action: \"forward\", \"redirect\" or "
				"\"fixed_response\"", x.label);
	r = fw ? read_forward(&x, fw, u) : rd ? read_redirect(&x, rd, u) : read_fixed(&x, fx, u);
	if (r == 0 && (s = config_setting_get_member(g, "stickiness")))
		r = read_stickiness(&x, s, u);
	return r;
}

int cfg_listener_rules(const struct cfg_loader *ld, const config_setting_t *g,
		       struct nlb_config *cfg, struct nlb_listener_conf *l, const char *label)
{
	const config_setting_t *list = config_setting_get_member(g, "rules");
	int len = list ? config_setting_length(list) : 0;
	if (!list || len == 0)
		return 0;
	if (len > NLB_HTTP_RULES_MAX)
		return cfg_fail(ld, list, "%s: at most %u rules a listener (the ALB's limit), not %d",
				label, NLB_HTTP_RULES_MAX, len);
	struct nlb_http_rules *r = nlb_http_rules_new();
	if (!r || !(r->rule = calloc((size_t)len, sizeof(*r->rule)))) {
		nlb_http_rules_put(r);
		return cfg_fail_nomem(ld);
	}
	l->http.rules = r;	/* freed with the configuration, whole or not */
	const struct rule_ctx x = { ld, label, cfg, l };
	for (int i = 0; i < len; i++) {
		r->n = (size_t)i + 1;
		int ret = read_rule(&x, config_setting_get_elem(list, (unsigned)i), &r->rule[i]);
		if (ret < 0)
			return ret;
	}
	size_t dup = 0;
	int ret = nlb_http_rules_finish(r, &dup);
	if (ret == -EEXIST) {
		const struct nlb_http_rule *d = &r->rule[dup];
		for (size_t k = 0; k < dup; k++)
			if (r->rule[k].priority == d->priority)
				return cfg_fail_line(ld, (unsigned)d->line, "%s: two rules have priority "
						     "%u (the other at line %d); priorities are "
						     "unique", label, d->priority, r->rule[k].line);
	}
	if (ret < 0)
		return cfg_fail_nomem(ld);
	return nlb_http_rules_counters(r, cfg->workers) < 0 ? cfg_fail_nomem(ld) : 0;
}
