/* Suite "rtnl_route": lib/rtnl_route.c and lib/config_announce.c without
 * a kernel.  Prefixes as the configuration writes them, each refusal;
 * route dump replies built here byte by byte (the kernel's layout:
 * nlmsghdr, rtmsg, rtattrs) read back, filtered by table and protocol,
 * cut short anywhere without a read past the end; announce = { } read,
 * its defaults, and each refusal with its file:line. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"
#include "rtnl_route.h"

T_UNIT(rtnl_route, prefixes)
{
	static const struct {
		const char *text;
		int family;
		unsigned len;
		const char *back;
	} ok[] = {
		{ "203.0.113.10/32", AF_INET, 32, "203.0.113.10/32" },
		{ "203.0.113.10", AF_INET, 32, "203.0.113.10/32" },
		{ "10.0.0.0/8", AF_INET, 8, "10.0.0.0/8" },
		{ "0.0.0.0/0", AF_INET, 0, "0.0.0.0/0" },
		{ "2001:db8::10/128", AF_INET6, 128, "2001:db8::10/128" },
		{ "2001:db8::/32", AF_INET6, 32, "2001:db8::/32" },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		struct nlb_route r;
		cr_assert_eq(nlb_prefix_parse(ok[i].text, &r), 0, "%s", ok[i].text);
		cr_expect_eq(r.family, ok[i].family, "%s", ok[i].text);
		cr_expect_eq(r.len, ok[i].len, "%s", ok[i].text);
		char back[64];
		cr_expect_str_eq(nlb_prefix_format(&r, back, sizeof(back)), ok[i].back);
	}
	static const char *const bad[] = {
		"", "/32", "203.0.113.10/", "203.0.113.10/33", "203.0.113.10/24", "10.0.0.1/-1",
		"2001:db8::10/129", "2001:db8::10/64", "203.0.113.10/3x", "example.com/32",
		"203.0.113.10/0032", "203.0.113.10 /32",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct nlb_route r;
		cr_expect_eq(nlb_prefix_parse(bad[i], &r), -EINVAL, "\"%s\" accepted", bad[i]);
	}
}

/* A dump reply: routes as the kernel writes them, then NLMSG_DONE. */
struct reply {
	_Alignas(struct nlmsghdr) char buf[2048];
	size_t len;
};

static void put_attr(struct reply *q, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(q->buf + q->len);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	q->len += RTA_ALIGN(a->rta_len);
}

static void put_route(struct reply *q, int family, const char *addr, unsigned len,
		      uint32_t table, unsigned proto, uint32_t metric)
{
	size_t start = q->len;
	struct nlmsghdr *h = (struct nlmsghdr *)(q->buf + start);
	memset(h, 0, NLMSG_LENGTH(sizeof(struct rtmsg)));
	h->nlmsg_type = RTM_NEWROUTE;
	struct rtmsg *rt = NLMSG_DATA(h);
	rt->rtm_family = (unsigned char)family;
	rt->rtm_dst_len = (unsigned char)len;
	rt->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = (unsigned char)proto;
	q->len += NLMSG_LENGTH(sizeof(struct rtmsg));
	uint8_t dst[16];
	inet_pton(family, addr, dst);
	put_attr(q, RTA_TABLE, &table, 4);
	put_attr(q, RTA_DST, dst, family == AF_INET ? 4 : 16);
	put_attr(q, RTA_PRIORITY, &metric, 4);
	int oif = 1;
	put_attr(q, RTA_OIF, &oif, 4);
	h->nlmsg_len = (uint32_t)(q->len - start);
}

static void put_done(struct reply *q)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(q->buf + q->len);
	memset(h, 0, NLMSG_LENGTH(4));
	h->nlmsg_type = NLMSG_DONE;
	h->nlmsg_len = NLMSG_LENGTH(4);
	q->len += NLMSG_LENGTH(4);
}

struct seen {
	struct nlb_route r[8];
	int n;
};

static void collect(const struct nlb_route *r, void *arg)
{
	struct seen *s = arg;
	if (s->n < 8)
		s->r[s->n] = *r;
	s->n++;
}

T_UNIT(rtnl_route, dump_replies_read_and_filtered)
{
	struct reply q = { .len = 0 };
	put_route(&q, AF_INET, "203.0.113.10", 32, 100, 249, 4242);
	put_route(&q, AF_INET, "203.0.113.11", 32, 100, 12, 1);	/* BIRD's: another protocol */
	put_route(&q, AF_INET6, "2001:db8::10", 128, 100, 249, 77);
	put_route(&q, AF_INET, "203.0.113.12", 32, 1000, 249, 5);	/* another table */
	size_t routes_end = q.len;
	put_done(&q);
	struct seen s = { .n = 0 };
	cr_assert_eq(nlb_rtnl_parse_dump(q.buf, q.len, 100, 249, collect, &s), 1, "the end");
	cr_assert_eq(s.n, 2);
	char text[64];
	cr_expect_str_eq(nlb_prefix_format(&s.r[0], text, sizeof(text)), "203.0.113.10/32");
	cr_expect_eq(s.r[0].metric, 4242);
	cr_expect_eq(s.r[0].oif, 1);
	cr_expect_eq(s.r[0].table, 100);
	cr_expect_str_eq(nlb_prefix_format(&s.r[1], text, sizeof(text)), "2001:db8::10/128");
	cr_expect_eq(s.r[1].metric, 77);
	s.n = 0;
	cr_expect_eq(nlb_rtnl_parse_dump(q.buf, q.len, 1000, 249, collect, &s), 1);
	cr_expect_eq(s.n, 1, "a table above 255, from RTA_TABLE");
	/* no end yet: more follows */
	s.n = 0;
	cr_expect_eq(nlb_rtnl_parse_dump(q.buf, routes_end, 100, 249, collect, &s), 0);
	/* cut anywhere, into a buffer of exactly that size */
	for (size_t cut = 0; cut < q.len; cut++) {
		char *b = malloc(cut ? cut : 1);
		memcpy(b, q.buf, cut);
		s.n = 0;
		int r = nlb_rtnl_parse_dump(b, cut, 100, 249, collect, &s);
		cr_expect(r == 0 || r == -EBADMSG, "cut at %zu: %d", cut, r);
		cr_expect_leq(s.n, 2);
		free(b);
	}
	/* an error message, and a nonsense code in one */
	struct reply e = { .len = 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)e.buf;
	h->nlmsg_type = NLMSG_ERROR;
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr));
	struct nlmsgerr *err = NLMSG_DATA(h);
	memset(err, 0, sizeof(*err));
	err->error = -EPERM;
	e.len = h->nlmsg_len;
	cr_expect_eq(nlb_rtnl_parse_dump(e.buf, e.len, 100, 249, collect, &s), -EPERM);
	err->error = 12345;
	cr_expect_eq(nlb_rtnl_parse_dump(e.buf, e.len, 100, 249, collect, &s), -EBADMSG);
}

static int parse(const char *text, struct nlb_config **cfg, char *err, size_t len)
{
	return nlb_config_parse("a.conf", text, strlen(text), cfg, err, len);
}

#define REST "listeners = ( { name = \"v\"; address = \"203.0.113.10:80\"; target_group = \"g\"; } );\n" \
	     "target_groups = ( { name = \"g\"; targets = ( { address = \"127.0.0.1:9001\"; } ); } );\n"

T_UNIT(rtnl_route, announce_config)
{
	struct nlb_config *cfg;
	char err[512];
	const char *text = "announce = { table = 100; prefixes = ( \"203.0.113.10/32\", "
			   "\"2001:db8::10/128\" ); };\n" REST;
	cr_assert_eq(parse(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg->announce_enabled, 1);
	cr_expect_eq(cfg->announce_table, 100);
	cr_expect_eq(cfg->announce_withdraw_delay_ms, 2000, "the default delay");
	cr_assert_eq(cfg->n_announce, 2);
	cr_expect_str_eq(cfg->announce_prefixes[1].text, "2001:db8::10/128");
	cr_expect_eq(cfg->announce_prefixes[1].route.len, 128);
	nlb_config_free(cfg);
	cr_assert_eq(parse(REST, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg->announce_enabled, 0, "none without the group");
	nlb_config_free(cfg);

	static const struct {
		const char *what, *announce, *msg;
	} cases[] = {
		{ "no table", "prefixes = ( \"203.0.113.10/32\" );", "\"table\"" },
		{ "table 0", "table = 0; prefixes = ( \"203.0.113.10/32\" );", "table" },
		{ "the local table", "table = 255; prefixes = ( \"203.0.113.10/32\" );", "local table" },
		{ "no prefixes", "table = 100;", "\"prefixes\"" },
		{ "empty prefixes", "table = 100; prefixes = ( );", "1 to 16 prefixes" },
		{ "a bad prefix", "table = 100; prefixes = ( \"203.0.113.10/24\" );", "is not a prefix" },
		{ "not a string", "table = 100; prefixes = ( 5 );", "is not a prefix" },
		{ "twice", "table = 100; prefixes = ( \"203.0.113.10\", \"203.0.113.10/32\" );",
		  "listed twice" },
		{ "delay too long", "table = 100; prefixes = ( \"203.0.113.10/32\" ); "
		  "withdraw_delay_ms = 600001;", "withdraw_delay_ms" },
		{ "unknown key", "table = 100; prefixes = ( \"203.0.113.10/32\" ); metric = 5;",
		  "metric" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char t[1024];
		snprintf(t, sizeof(t), "announce = { %s };\n" REST, cases[i].announce);
		cfg = NULL;
		err[0] = '\0';
		cr_expect_eq(parse(t, &cfg, err, sizeof(err)), -EINVAL, "%s", cases[i].what);
		cr_expect(strncmp(err, "a.conf:1:", 9) == 0 && strstr(err, cases[i].msg),
			  "%s: \"%s\", want a.conf:1: ... %s", cases[i].what, err, cases[i].msg);
	}
}
