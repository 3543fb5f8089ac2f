/* An http listener's rules, as the AWS ALB's listener rules: conditions
 * on the request (host, path, method, header, query, source), all of
 * which must hold, and an action (forward to one or weighted groups,
 * redirect, fixed response).  The loader (config_rules.c) builds them;
 * a worker evaluates them with no allocation and no writes but its own
 * counter row.  Shared by every configuration that has the same rules,
 * so a reload that leaves them alone keeps their counters. */
#ifndef NLB_HTTP_RULES_H
#define NLB_HTTP_RULES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acl.h"
#include "http1_head.h"

/* The ALB's limits: rules per listener, values per condition, bytes per
 * value, groups per weighted forward, weight, fixed body. */
#define NLB_HTTP_RULES_MAX 100
#define NLB_HTTP_RULE_VALUES_MAX 5
#define NLB_HTTP_RULE_VALUE_MAX 128
#define NLB_HTTP_RULE_GROUPS_MAX 5
#define NLB_HTTP_RULE_WEIGHT_MAX 999
#define NLB_HTTP_FIXED_BODY_MAX 1024
/* Group stickiness's cookie lifetime: 1 s to 7 days, 1 day by default. */
#define NLB_HTTP_STICKY_MIN_S 1
#define NLB_HTTP_STICKY_MAX_S 604800
#define NLB_HTTP_STICKY_DEFAULT_S 86400
/* The group stickiness cookie, as the ALB's AWSALBTG. */
#define NLB_HTTP_STICKY_COOKIE "NLBTG"

/* The conditions a rule has (a bit each). */
enum {
	NLB_RULE_HOST = 0x01,
	NLB_RULE_PATH = 0x02,
	NLB_RULE_METHOD = 0x04,
	NLB_RULE_HEADER = 0x08,
	NLB_RULE_QUERY = 0x10,
	NLB_RULE_SOURCE = 0x20,
};

struct nlb_rule_pattern {
	char *p;			/* NUL-terminated */
	uint32_t len;
};

struct nlb_rule_header {
	struct nlb_rule_pattern name;	/* exact, without case */
	struct nlb_rule_pattern value[NLB_HTTP_RULE_VALUES_MAX];
	uint8_t n;
};

/* A query pair: key.len == 0 matches any key. */
struct nlb_rule_query {
	struct nlb_rule_pattern key, value;
};

enum nlb_rule_action {
	NLB_RULE_FORWARD = 1,
	NLB_RULE_REDIRECT,
	NLB_RULE_FIXED,
};

struct nlb_rule_forward {
	char *group_name;
	uint32_t group;			/* index into the configuration's groups */
	uint32_t weight;		/* 0 .. NLB_HTTP_RULE_WEIGHT_MAX */
	uint64_t cookie;		/* the NLBTG value that names it */
};

/* The keywords of a redirect's templates, as the ALB's. */
enum nlb_redirect_word {
	NLB_RW_PROTOCOL = 0,		/* #{protocol} */
	NLB_RW_HOST,			/* #{host} */
	NLB_RW_PORT,			/* #{port} */
	NLB_RW_PATH,			/* #{path} */
	NLB_RW_QUERY,			/* #{query} */
	NLB_RW_COUNT,
};

/* The keyword text p starts with: its enum nlb_redirect_word, its length
 * in *len; -1 when p starts with none. */
int nlb_redirect_word(const char *p, size_t *len);

/* Templates with #{protocol} #{host} #{port} #{path} #{query}. */
struct nlb_rule_redirect {
	uint16_t status;		/* 301 or 302 */
	char *protocol, *host, *port, *path, *query;
};

struct nlb_http_rule {
	uint32_t priority;
	unsigned conds;			/* NLB_RULE_* */
	struct nlb_rule_pattern host[NLB_HTTP_RULE_VALUES_MAX];
	struct nlb_rule_pattern path[NLB_HTTP_RULE_VALUES_MAX];
	struct nlb_rule_pattern method[NLB_HTTP_RULE_VALUES_MAX];
	struct nlb_rule_header header[NLB_HTTP_RULE_VALUES_MAX];
	struct nlb_rule_query query[NLB_HTTP_RULE_VALUES_MAX];
	uint8_t n_host, n_path, n_method, n_header, n_query;
	struct nlb_rule_pattern source_text[NLB_HTTP_RULE_VALUES_MAX];	/* CIDRs as written */
	uint8_t n_source;
	struct nlb_acl *source;		/* built from them */
	enum nlb_rule_action action;
	struct nlb_rule_forward to[NLB_HTTP_RULE_GROUPS_MAX];
	uint8_t n_to;
	uint32_t total_weight;
	uint32_t sticky_s;		/* 0: no group stickiness */
	struct nlb_rule_redirect redirect;
	uint16_t fixed_status;
	char *content_type;		/* NULL: none sent */
	char *body;
	uint32_t body_len;
	int line;
};

struct nlb_http_rules {
	struct nlb_http_rule *rule;	/* by priority, lowest first */
	size_t n;
	unsigned conds;			/* what any rule looks at */
	char *text;			/* a line a rule, for nlbctl and reloads */
	_Atomic uint32_t refs;
	/* Matches: a row per worker (written only by it), counters 0..n-1
	 * the rules', n the default action's. */
	_Atomic uint64_t *hits;
	size_t hit_rows, hit_stride;
};

/* What rules look at in a request. */
struct nlb_http_request_view {
	const char *method;
	size_t method_len;
	const char *host;		/* Host without its port; NULL: none */
	size_t host_len;
	const char *path;		/* normalised (http_path.h) */
	size_t path_len;
	const char *query;		/* raw, without '?' */
	size_t query_len;
	const struct nlb_http1_head *head;	/* for header conditions */
	const char *buf;
	const struct sockaddr *src;	/* the client (its PROXY header's source) */
};

/* An empty set, one reference.  NULL when out of memory. */
struct nlb_http_rules *nlb_http_rules_new(void);

/* Sorts the rules by priority and writes their text.  0, -EEXIST (two
 * with one priority: *dup is the later one's index) or -ENOMEM. */
int nlb_http_rules_finish(struct nlb_http_rules *r, size_t *dup);

/* Counter rows for rows workers (as many or more already: kept), before
 * the rules are shared.  0 or -ENOMEM. */
int nlb_http_rules_counters(struct nlb_http_rules *r, size_t rows);

void nlb_http_rules_hold(struct nlb_http_rules *r);
void nlb_http_rules_put(struct nlb_http_rules *r);

/* The index of the first rule whose conditions all hold, or -1 (the
 * default action). */
int nlb_http_rules_match(const struct nlb_http_rules *r, const struct nlb_http_request_view *v);

/* Counts a match on worker row (index n: the default action). */
static inline void nlb_http_rules_count(struct nlb_http_rules *r, size_t row, int index)
{
	if (!r->hits || row >= r->hit_rows)
		return;
	size_t i = index < 0 ? r->n : (size_t)index;
	_Atomic uint64_t *h = &r->hits[row * r->hit_stride + i];
	atomic_store_explicit(h, atomic_load_explicit(h, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Matches of rule index (n: the default action), all rows. */
uint64_t nlb_http_rules_hits(const struct nlb_http_rules *r, size_t index);

/* The host of a Host value: without ":port", brackets kept for IPv6. */
size_t nlb_http_host_name_len(const char *host, size_t len);

/* The weighted forward's pick: the group whose cookie sticky names when
 * it has weight, else by draw (0 .. 2^64-1) over the weights.  -1 when
 * every weight is 0. */
int nlb_http_rule_pick(const struct nlb_http_rule *rule, bool has_sticky, uint64_t sticky,
		       uint64_t draw);

/* The NLBTG value of a group name: stable across hosts and reloads. */
uint64_t nlb_http_rule_cookie(const char *group_name);

#endif
