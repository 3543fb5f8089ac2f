/* Routes through rtnetlink (rtnl_route.h).  One request at a time on a
 * blocking socket, each answered by an acknowledgement or an error; a
 * dump read until its NLMSG_DONE.  Messages are built in a stack buffer:
 * a route has four attributes.  Prefixes are read and written by acl.h's
 * CIDR parser, the project's one. */
#include "rtnl_route.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl.h"

void nlb_route_to_cidr(const struct nlb_route *r, struct nlb_cidr *c)
{
	memset(c, 0, sizeof(*c));
	if (r->family == AF_INET) {
		c->addr[10] = c->addr[11] = 0xff;
		memcpy(c->addr + 12, r->dst, 4);
		c->len = (uint8_t)(96 + r->len);
	} else {
		memcpy(c->addr, r->dst, 16);
		c->len = r->len;
	}
}

/* A prefix within ::ffff:0:0/96 is IPv4's, as acl.h holds them. */
static void route_from_cidr(struct nlb_route *r, const struct nlb_cidr *c)
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	memset(r->dst, 0, sizeof(r->dst));
	if (c->len >= 96 && memcmp(c->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		r->family = AF_INET;
		memcpy(r->dst, c->addr + 12, 4);
		r->len = (uint8_t)(c->len - 96);
	} else {
		r->family = AF_INET6;
		memcpy(r->dst, c->addr, 16);
		r->len = c->len;
	}
}

int nlb_prefix_parse(const char *text, struct nlb_route *r)
{
	struct nlb_cidr c;
	int ret = nlb_cidr_parse(text, &c);
	if (ret == 0)
		route_from_cidr(r, &c);
	return ret;
}

const char *nlb_prefix_format(const struct nlb_route *r, char *buf, size_t len)
{
	struct nlb_cidr c;
	nlb_route_to_cidr(r, &c);
	return nlb_cidr_format(&c, buf, len);
}

int nlb_rtnl_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* Error messages without the request echoed back. */
	int one = 1;
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return fd;
}

/* The message at *off of buf (len bytes) when a whole one is there,
 * *off moved past it (aligned); NULL at the end or at a length that does
 * not fit.  The kernel's NLMSG_OK and NLMSG_NEXT, without their int. */
static const struct nlmsghdr *next_msg(const void *buf, size_t len, size_t *off)
{
	if (*off >= len || len - *off < sizeof(struct nlmsghdr))
		return NULL;
	const struct nlmsghdr *h = (const void *)((const char *)buf + *off);
	if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - *off)
		return NULL;
	*off += NLMSG_ALIGN(h->nlmsg_len);
	return h;
}

/* The same for the attributes after a message's header (len bytes). */
static const struct rtattr *next_attr(const void *p, size_t len, size_t *off)
{
	if (*off >= len || len - *off < sizeof(struct rtattr))
		return NULL;
	const struct rtattr *a = (const void *)((const char *)p + *off);
	if (a->rta_len < sizeof(*a) || a->rta_len > len - *off)
		return NULL;
	*off += RTA_ALIGN(a->rta_len);
	return a;
}

/* An error message's code as -errno: 0 only where it acknowledges, and
 * anything that is no errno a malformed message. */
static int errno_of(int error, bool zero_ok)
{
	if ((error == 0 && zero_ok) || (error < 0 && error > -4096))
		return error;
	return -EBADMSG;
}

/* The sequence number of this thread's next request. */
static uint32_t next_seq(void)
{
	static _Thread_local uint32_t seq;
	return ++seq;
}

struct request {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[128];
};

static void put_attr(struct request *q, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->nh.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	q->nh.nlmsg_len = NLMSG_ALIGN(q->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends q and reads until its acknowledgement or error: 0 or -errno. */
static int transact(int fd, struct request *q)
{
	q->nh.nlmsg_seq = next_seq();
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	if (sendto(fd, q, q->nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	_Alignas(struct nlmsghdr) char buf[4096];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		size_t off = 0;
		for (const struct nlmsghdr *h; (h = next_msg(buf, (size_t)n, &off));) {
			if (h->nlmsg_seq != q->nh.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EBADMSG;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			return errno_of(e->error, true);	/* 0: the acknowledgement */
		}
	}
}

static int route_request(int fd, int cmd, const struct nlb_route *r)
{
	struct request q;
	memset(&q, 0, sizeof(q));
	q.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.nh.nlmsg_type = (unsigned short)cmd;
	q.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
			   (cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	q.rt.rtm_family = (unsigned char)r->family;
	q.rt.rtm_dst_len = r->len;
	q.rt.rtm_table = r->table < 256 ? (unsigned char)r->table : RT_TABLE_UNSPEC;
	q.rt.rtm_protocol = r->protocol;
	q.rt.rtm_scope = RT_SCOPE_LINK;		/* on lo, no gateway: as `ip route add ... dev lo` */
	q.rt.rtm_type = RTN_UNICAST;
	put_attr(&q, RTA_DST, r->dst, r->family == AF_INET ? 4 : 16);
	put_attr(&q, RTA_TABLE, &r->table, sizeof(r->table));
	put_attr(&q, RTA_PRIORITY, &r->metric, sizeof(r->metric));
	if (r->oif > 0)
		put_attr(&q, RTA_OIF, &r->oif, sizeof(r->oif));
	return transact(fd, &q);
}

int nlb_rtnl_add(int fd, const struct nlb_route *r)
{
	return route_request(fd, RTM_NEWROUTE, r);
}

int nlb_rtnl_del(int fd, const struct nlb_route *r)
{
	return route_request(fd, RTM_DELROUTE, r);
}

int nlb_rtnl_parse_dump(const void *buf, size_t len, uint32_t table, uint8_t protocol,
			void (*each)(const struct nlb_route *r, void *arg), void *arg)
{
	size_t off = 0;
	for (const struct nlmsghdr *h; (h = next_msg(buf, len, &off));) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EBADMSG;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			return errno_of(e->error, false);
		}
		if (h->nlmsg_type != RTM_NEWROUTE)
			continue;
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
			return -EBADMSG;
		const struct rtmsg *rt = NLMSG_DATA(h);
		if ((rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) ||
		    rt->rtm_protocol != protocol)
			continue;
		struct nlb_route r = { .family = rt->rtm_family, .len = rt->rtm_dst_len,
				       .protocol = rt->rtm_protocol, .table = rt->rtm_table };
		size_t alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct rtmsg)), aoff = 0;
		size_t want = rt->rtm_family == AF_INET ? 4 : 16;
		if (r.len > want * 8)
			return -EBADMSG;
		for (const struct rtattr *a; (a = next_attr(RTM_RTA(rt), alen, &aoff));) {
			size_t n = RTA_PAYLOAD(a);
			if (a->rta_type == RTA_DST && n == want)
				memcpy(r.dst, RTA_DATA(a), want);
			else if (a->rta_type == RTA_TABLE && n == 4)
				memcpy(&r.table, RTA_DATA(a), 4);
			else if (a->rta_type == RTA_PRIORITY && n == 4)
				memcpy(&r.metric, RTA_DATA(a), 4);
			else if (a->rta_type == RTA_OIF && n == 4)
				memcpy(&r.oif, RTA_DATA(a), 4);
		}
		if (r.table == table)
			each(&r, arg);
	}
	return 0;
}

struct collect {
	struct nlb_route *out;
	size_t cap, n;
};

static void collect_one(const struct nlb_route *r, void *arg)
{
	struct collect *c = arg;
	if (c->n < c->cap)
		c->out[c->n] = *r;
	c->n++;
}

static int dump_family(int fd, int family, uint32_t table, uint8_t protocol, struct collect *c)
{
	struct request q;
	memset(&q, 0, sizeof(q));
	q.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.nh.nlmsg_type = RTM_GETROUTE;
	q.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	q.nh.nlmsg_seq = next_seq();
	q.rt.rtm_family = (unsigned char)family;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	if (sendto(fd, &q, q.nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	/* Dumps come in buffers of up to a page or so each; 32 KiB holds any. */
	char *buf = malloc(32768);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	while (r == 0) {
		ssize_t n = recv(fd, buf, 32768, 0);
		if (n < 0) {
			r = -errno;
			break;
		}
		r = nlb_rtnl_parse_dump(buf, (size_t)n, table, protocol, collect_one, c);
	}
	free(buf);
	return r < 0 ? r : 0;
}

int nlb_rtnl_list(int fd, uint32_t table, uint8_t protocol, struct nlb_route *out, size_t cap)
{
	struct collect c = { out, cap, 0 };
	int r = dump_family(fd, AF_INET, table, protocol, &c);
	if (r == 0)
		r = dump_family(fd, AF_INET6, table, protocol, &c);
	return r < 0 ? r : (int)c.n;
}
