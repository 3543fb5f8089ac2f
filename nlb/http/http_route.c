/* A request and its listener's rules: the group it goes to, or the
 * redirect or fixed response that answers it.  lib/http_rules.c decides
 * which rule holds; this file carries the rule out, with the worker's
 * scratch and counters only (no allocation per request). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "http1_chars.h"
#include "http_path.h"
#include "http_rules.h"
#include "rng.h"
#include "http/http_steps.h"

/* The largest Location nlb sends: the ALB's limit for a URL is 8 KiB. */
#define LOCATION_MAX 8192

/* The group a client's NLBTG cookie names, from any Cookie field. */
static bool sticky_cookie(const struct nlb_http1_head *h, const char *buf, uint64_t *out)
{
	static const char name[] = NLB_HTTP_STICKY_COOKIE "=";
	const size_t nlen = sizeof(name) - 1;
	for (uint32_t f = 0; f < h->nfields; f++) {
		const struct nlb_http1_field *fd = &h->field[f];
		if (fd->name.len != 6 || strncasecmp(buf + fd->name.at, "cookie", 6) != 0)
			continue;
		const char *p = buf + fd->value.at, *end = p + fd->value.len;
		while (p < end) {
			while (p < end && (*p == ' ' || *p == ';'))
				p++;
			const char *semi = memchr(p, ';', (size_t)(end - p));
			const char *pe = semi ? semi : end;
			if ((size_t)(pe - p) == nlen + 16 && memcmp(p, name, nlen) == 0) {
				uint64_t v = 0;
				int k;
				for (k = 0; k < 16; k++) {
					unsigned char d = (unsigned char)p[nlen + (size_t)k];
					if (!nlb_http1_is(d, NLB_HTTP1_C_HEX))
						break;
					v = v << 4 | (uint64_t)nlb_http1_hex_value(d);
				}
				if (k == 16) {
					*out = v;
					return true;
				}
			}
			p = pe;
		}
	}
	return false;
}

/* What each #{...} keyword stands for in a redirect. */
struct redirect_words {
	struct {
		const char *p;
		size_t len;
	} word[NLB_RW_COUNT];
	char port[8];
};

/* Appends template t, its keywords replaced, to out at *n.  -ENOSPC. */
static int expand(const char *t, const struct redirect_words *rw, char *out, size_t cap,
		  size_t *n)
{
	for (const char *p = t; *p;) {
		const char *v = p;
		size_t len = 1, skip = 1;
		int k = p[0] == '#' ? nlb_redirect_word(p, &skip) : -1;
		if (k >= 0) {
			v = rw->word[k].p;
			len = rw->word[k].len;
		}
		if (*n + len >= cap)
			return -ENOSPC;
		memcpy(out + *n, v, len);
		*n += len;
		p += skip;
	}
	out[*n] = '\0';
	return 0;
}

/* "Location: <url>\r\n" for rule u into out: protocol://host[:port]path[?query],
 * the port left out where it is the protocol's own.  -ENOSPC. */
static int location(const struct nlb_rule_redirect *d, const struct redirect_words *rw,
		    char *out, size_t cap)
{
	char proto[16], port[16];
	size_t pn = 0, tn = 0;
	if (expand(d->protocol, rw, proto, sizeof(proto), &pn) < 0 ||
	    expand(d->port, rw, port, sizeof(port), &tn) < 0)
		return -ENOSPC;
	bool https = strcasecmp(proto, "https") == 0;
	bool default_port = strcmp(port, https ? "443" : "80") == 0;
	size_t n = (size_t)snprintf(out, cap, "Location: %s://", https ? "https" : "http");
	int r = expand(d->host, rw, out, cap, &n);
	if (r == 0 && !default_port && tn) {
		if (n + 1 + tn >= cap)
			return -ENOSPC;
		out[n++] = ':';
		memcpy(out + n, port, tn);
		n += tn;
	}
	if (r == 0)
		r = expand(d->path, rw, out, cap, &n);
	if (r == 0) {
		size_t before = n;
		if (n + 1 >= cap)
			return -ENOSPC;
		out[n++] = '?';
		r = expand(d->query, rw, out, cap, &n);
		if (r == 0 && n == before + 1)
			n = before;	/* an empty query: no '?' */
	}
	if (r < 0 || n + 3 > cap)
		return -ENOSPC;
	memcpy(out + n, "\r\n", 3);
	return (int)n + 2;
}

static void redirect(struct worker *w, struct http_client *c, const struct nlb_http_rule *u,
		     const struct nlb_http_request_view *v)
{
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	char fallback[INET6_ADDRSTRLEN + 2];
	struct redirect_words rw;
	const char *proto = c->tls ? "https" : "http";
	rw.word[NLB_RW_PROTOCOL].p = proto;
	rw.word[NLB_RW_PROTOCOL].len = strlen(proto);
	rw.word[NLB_RW_HOST].p = v->host;
	rw.word[NLB_RW_HOST].len = v->host_len;
	if (!v->host) {		/* HTTP/1.0 without Host: the listener's address */
		nlb_addr_host((const struct sockaddr *)&lc->addr.ss, fallback, sizeof(fallback));
		rw.word[NLB_RW_HOST].p = fallback;
		rw.word[NLB_RW_HOST].len = strlen(fallback);
	}
	int plen = snprintf(rw.port, sizeof(rw.port), "%u",
			    (unsigned)nlb_addr_port((const struct sockaddr *)&lc->addr.ss));
	rw.word[NLB_RW_PORT].p = rw.port;
	rw.word[NLB_RW_PORT].len = (size_t)plen;
	/* #{path} is the path without its leading '/', as the ALB's. */
	rw.word[NLB_RW_PATH].p = v->path_len ? v->path + 1 : v->path;
	rw.word[NLB_RW_PATH].len = v->path_len ? v->path_len - 1 : 0;
	rw.word[NLB_RW_QUERY].p = v->query;
	rw.word[NLB_RW_QUERY].len = v->query_len;
	char loc[LOCATION_MAX + 16];
	int n = location(&u->redirect, &rw, loc, sizeof(loc));
	if (n < 0) {
		c->reason = "redirect_too_long";
		http_answer(w, c, 500, false);
		return;
	}
	STAT_INC(wstats(w, c->listener), http_redirects);
	c->reason = "redirect";
	http_answer_rule(w, c, u->redirect.status, loc, NULL, NULL, 0);
}

static void forward(struct worker *w, struct http_client *c, const struct nlb_http_rule *u)
{
	uint64_t sticky = 0;
	bool has = u->sticky_s && sticky_cookie(c->head, c->in.p, &sticky);
	int k = u->n_to == 1 ? 0 : nlb_http_rule_pick(u, has, sticky, nlb_rng_next(&w->pick.rng));
	if (k < 0)
		k = 0;		/* all weights 0: refused at load, kept safe */
	c->group = (uint8_t)u->to[k].group;
	if (u->sticky_s) {
		c->sticky_cookie = u->to[k].cookie;
		c->sticky_s = u->sticky_s;
	}
}

bool http_route(struct worker *w, struct http_client *c)
{
	const struct nlb_listener_conf *lc = http_listener_conf(w, c);
	struct nlb_http_rules *rules = lc->http.rules;
	c->group = (uint8_t)lc->group;
	c->sticky_s = 0;
	if (!rules || !rules->n)
		return true;
	const struct nlb_http1_head *h = c->head;
	const char *buf = c->in.p;
	const char *target = buf + h->target.at;
	int plen = nlb_http_path_normalise(target, h->target.len, w->http.path,
					   NLB_HTTP1_HEAD_LIMIT + 3);
	if (plen == -EINVAL && h->target.len == 1 && target[0] == '*')
		plen = 0;	/* OPTIONS *: no path for a rule to match */
	if (plen < 0) {
		c->reason = plen == -ERANGE ? "path_escapes_root" : "bad_path";
		http_answer(w, c, 400, false);
		return false;
	}
	w->http.path[plen] = '\0';
	struct nlb_http_request_view v = {
		.method = buf + h->method_text.at,
		.method_len = h->method_text.len,
		.path = w->http.path,
		.path_len = (size_t)plen,
		.head = h,
		.buf = buf,
		.src = &c->src.sa,
	};
	/* An absolute-form target's authority is the host a target will go
	 * by, whatever Host says (RFC 9112, 3.2.2): so the rules' too. */
	size_t alen;
	const char *auth = nlb_http_target_authority(target, h->target.len, &alen);
	if (auth) {
		v.host = auth;
		v.host_len = nlb_http_host_name_len(auth, alen);
	} else if (h->flags & NLB_HTTP1_F_HOST) {
		v.host = buf + h->host.at;
		v.host_len = nlb_http_host_name_len(v.host, h->host.len);
	}
	v.query = nlb_http_target_query(target, h->target.len, &v.query_len);
	int i = nlb_http_rules_match(rules, &v);
	nlb_http_rules_count(rules, w->id, i);
	if (i < 0)
		return true;
	const struct nlb_http_rule *u = &rules->rule[i];
	switch (u->action) {
	case NLB_RULE_FORWARD:
		forward(w, c, u);
		return true;
	case NLB_RULE_REDIRECT:
		redirect(w, c, u, &v);
		return false;
	case NLB_RULE_FIXED:
		STAT_INC(wstats(w, c->listener), http_fixed_responses);
		c->reason = "fixed_response";
		http_answer_rule(w, c, u->fixed_status, NULL, u->content_type, u->body, u->body_len);
		return false;
	}
	return true;
}
