/* nlb-appliance: the reference virtual appliance for nlb's gateway mode,
 * as a firewall behind the AWS Gateway Load Balancer is.  It receives
 * GENEVE packets (lib/geneve.h) on UDP 6081, reads the inner IP packet
 * (lib/ip_packet.h), applies a short rule list (lib/appliance_filter.h)
 * and returns each allowed packet to its sender unchanged, header and
 * all; a denied one is dropped.  A TCP port answers health checks (an
 * HTTP GET gets 200 and the counters).  One thread, a poll loop, batches
 * of datagrams: small enough to read, fast enough for the tests and the
 * gateway benchmark.  The socket takes GRO batches, and the packets of
 * one flow (one cookie) go back together as one GSO send: a batch
 * reaches one of nlb's workers, the one its cookie names, so it must
 * not mix flows (lib/udp_batch.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "appliance_filter.h"
#include "geneve.h"
#include "ip_packet.h"
#include "udp_batch.h"

#define BATCH 16		/* datagrams (or GRO batches of up to 64) a read */
#define DGRAM_MAX 65536		/* a GRO batch */
#define SEGS_MAX (BATCH * 64)
_Static_assert(SEGS_MAX <= NLB_GSO_QUEUE_MAX, "a read's packets fit one plan");

struct counters {
	uint64_t received, returned, denied, bad_geneve, bad_ip, send_errors, gso_split;
	uint64_t by_rule[NLB_APPLIANCE_RULES_MAX + 1];	/* the last: no rule matched */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: nlb-appliance [-l ADDR:PORT] [-H ADDR:PORT|none] [-n NAME]\n"
		"                     [-r RULE]... [-f FILE]\n"
		"  -l  where GENEVE comes in (default 0.0.0.0:6081)\n"
		"  -H  the health check port, TCP; an HTTP GET gets 200 and the counters\n"
		"      (default: -l's address, port 80; none: no health port)\n"
		"  -n  a name for the counters (default \"appliance\")\n"
		"  -r  a rule, tried in order: allow|deny any|tcp|udp|icmp|sctp\n"
		"      [sport N[-M]] [dport N[-M]]; e.g. -r 'deny tcp dport 23'.\n"
		"      A packet no rule matches is returned.\n"
		"  -f  rules from FILE, one a line ('#' starts a comment)\n"
		"  -h  this help\n"
		"SIGTERM or SIGINT: the counters on standard error, then exit 0.\n");
}

static int add_rule(struct nlb_appliance_filter *f, const char *text, const char *where)
{
	char err[128];
	if (nlb_appliance_filter_add(f, text, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "nlb-appliance: %s: \"%s\": %s\n", where, text, err);
	return -1;
}

static int add_rules_file(struct nlb_appliance_filter *f, const char *path)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		fprintf(stderr, "nlb-appliance: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[512], where[600];
	int n = 0, r = 0;
	while (r == 0 && fgets(line, sizeof(line), in)) {
		n++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, n);
		r = add_rule(f, line, where);
	}
	fclose(in);
	return r;
}

static int bound_socket(const struct nlb_addr *a, int type)
{
	int fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (type == SOCK_DGRAM) {
		int size = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));	/* batches if the kernel can */
	}
	return fd;
}

static int counters_text(const struct counters *c, const struct nlb_appliance_filter *f,
			 const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "name=%s received=%llu returned=%llu denied=%llu "
			 "bad_geneve=%llu bad_ip=%llu send_errors=%llu gso_split=%llu\n", name,
			 (unsigned long long)c->received, (unsigned long long)c->returned,
			 (unsigned long long)c->denied, (unsigned long long)c->bad_geneve,
			 (unsigned long long)c->bad_ip, (unsigned long long)c->send_errors,
			 (unsigned long long)c->gso_split);
	for (size_t i = 0; i <= f->n && n > 0 && (size_t)n < cap; i++) {
		char text[NLB_APPLIANCE_RULE_TEXT] = "(no rule)";
		if (i < f->n)
			nlb_appliance_rule_text(&f->rule[i], text);
		n += snprintf(out + n, cap - (size_t)n, "rule=\"%s\" matched=%llu\n", text,
			      (unsigned long long)c->by_rule[i]);
	}
	return n;
}

/* One health check connection: read what comes within 200 ms; an HTTP
 * request gets 200 with the counters, anything else a close. */
static void health(int lfd, const struct counters *c, const struct nlb_appliance_filter *f,
		   const char *name)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct pollfd p = { fd, POLLIN, 0 };
	char req[512];
	ssize_t n = poll(&p, 1, 200) == 1 ? recv(fd, req, sizeof(req) - 1, MSG_DONTWAIT) : 0;
	if (n >= 4 && memcmp(req, "GET ", 4) == 0) {
		char body[8192], head[128];
		int blen = counters_text(c, f, name, body, sizeof(body));
		if (blen < 0 || (size_t)blen >= sizeof(body))
			blen = (int)strlen(body);
		int hlen = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/plain"
				    "\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", blen);
		if (send(fd, head, (size_t)hlen, MSG_NOSIGNAL) == hlen)
			send(fd, body, (size_t)blen, MSG_NOSIGNAL);
	}
	close(fd);
}

/* The segment size of a GRO batch (0: one datagram). */
static unsigned gro_size(struct msghdr *m, size_t len)
{
	unsigned gso = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c && !gso; c = CMSG_NXTHDR(m, c))
		gso = nlb_cmsg_gro_size(c, len);
	return gso;
}

/* One packet judged: true if it goes back. */
static bool judge(struct counters *c, const struct nlb_appliance_filter *f, const uint8_t *p,
		  size_t len, uint32_t *cookie)
{
	c->received++;
	struct nlb_geneve_aws g;
	enum nlb_geneve_error ge;
	int off = nlb_geneve_parse(p, len, &g, &ge);
	if (off < 0) {
		c->bad_geneve++;
		return false;
	}
	struct nlb_ip_packet pkt;
	if (nlb_ip_packet_parse(p + off, len - (size_t)off, &pkt) < 0 ||
	    (pkt.version == 4) != (g.protocol == NLB_GENEVE_PROTO_IPV4)) {
		c->bad_ip++;
		return false;
	}
	size_t rule;
	bool allowed = nlb_appliance_filter_allows(f, &pkt, &rule);
	c->by_rule[rule]++;
	if (!allowed)
		c->denied++;
	*cookie = g.cookie;
	return allowed;
}

/* A packet at a time, what the kernel refused as one GSO send (its
 * segments above the path MTU: single ones get fragmented). */
static void send_split(int fd, struct counters *c, const struct msghdr *m)
{
	c->gso_split++;
	for (size_t i = 0; i < m->msg_iovlen; i++) {
		struct msghdr one = { .msg_name = m->msg_name, .msg_namelen = m->msg_namelen,
				      .msg_iov = &m->msg_iov[i], .msg_iovlen = 1 };
		if (sendmsg(fd, &one, 0) < 0)
			c->send_errors++;
		else
			c->returned++;
	}
}

/* The sends out[0..n) in as few system calls as the kernel takes. */
static void send_all(int fd, struct counters *c, struct mmsghdr *out, size_t n)
{
	for (size_t i = 0; i < n;) {
		int r = sendmmsg(fd, out + i, (unsigned)(n - i), 0);
		if (r > 0) {
			for (int k = 0; k < r; k++)
				c->returned += out[i + (size_t)k].msg_hdr.msg_iovlen;
			i += (size_t)r;
			continue;
		}
		/* out[i] failed */
		const struct msghdr *m = &out[i].msg_hdr;
		if (m->msg_iovlen > 1 && (errno == EINVAL || errno == EMSGSIZE || errno == EIO))
			send_split(fd, c, m);
		else
			c->send_errors += m->msg_iovlen;
		i++;
	}
}

/* A read of datagrams (each perhaps a GRO batch): each packet judged,
 * the allowed ones sent back, those of one sender and one cookie
 * together. */
static void serve_batch(int fd, struct counters *c, const struct nlb_appliance_filter *f,
			uint8_t (*buf)[DGRAM_MAX])
{
	static struct mmsghdr in[BATCH];
	static struct iovec iov[BATCH], seg[SEGS_MAX];
	static struct sockaddr_storage from[BATCH];
	static union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[BATCH];
	static uint64_t dest[SEGS_MAX];
	static uint16_t len[SEGS_MAX], order[SEGS_MAX], sender[SEGS_MAX];
	static struct nlb_gso_send plan[SEGS_MAX];
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ buf[i], DGRAM_MAX };
		in[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
						 .msg_iov = &iov[i], .msg_iovlen = 1,
						 .msg_control = ctl[i].buf,
						 .msg_controllen = sizeof(ctl[i].buf) };
	}
	int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		size_t dlen = in[i].msg_len;
		if (in[i].msg_hdr.msg_flags & MSG_TRUNC) {
			c->received++;
			c->bad_geneve++;
			continue;
		}
		/* the first datagram of the read from this sender names it */
		uint16_t who = (uint16_t)i;
		for (int j = 0; j < i; j++)
			if (nlb_sockaddr_equal((struct sockaddr *)&from[j], (struct sockaddr *)&from[i])) {
				who = (uint16_t)j;
				break;
			}
		size_t step = gro_size(&in[i].msg_hdr, dlen);
		if (!step)
			step = dlen;
		for (size_t off = 0; off < dlen; off += step) {
			size_t plen = dlen - off < step ? dlen - off : step;
			uint32_t cookie;
			if (!judge(c, f, buf[i] + off, plen, &cookie))
				continue;
			seg[k] = (struct iovec){ buf[i] + off, plen };
			dest[k] = (uint64_t)who << 32 | cookie;
			len[k] = (uint16_t)plen;
			sender[k] = who;
			k++;
		}
	}
	size_t ns = nlb_gso_plan(dest, len, k, order, plan);
	static struct iovec out_iov[SEGS_MAX];
	static struct mmsghdr out[SEGS_MAX];
	static union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} out_ctl[SEGS_MAX];
	for (size_t s = 0; s < ns; s++) {
		struct iovec *v = &out_iov[plan[s].first];
		for (unsigned i = 0; i < plan[s].count; i++)
			v[i] = seg[order[plan[s].first + i]];
		uint16_t who = sender[order[plan[s].first]];
		out[s].msg_hdr = (struct msghdr){ .msg_name = &from[who],
						  .msg_namelen = in[who].msg_hdr.msg_namelen,
						  .msg_iov = v, .msg_iovlen = plan[s].count };
		if (plan[s].count > 1) {
			size_t off = 0;
			nlb_cmsg_put(out_ctl[s].buf, &off, SOL_UDP, UDP_SEGMENT, &plan[s].segment,
				     sizeof(plan[s].segment));
			out[s].msg_hdr.msg_control = out_ctl[s].buf;
			out[s].msg_hdr.msg_controllen = off;
		}
	}
	send_all(fd, c, out, ns);
}

int main(int argc, char **argv)
{
	static struct nlb_appliance_filter filter;
	static struct counters c;
	const char *listen_text = "0.0.0.0:6081", *health_text = NULL, *name = "appliance";
	int opt;
	while ((opt = getopt(argc, argv, "l:H:n:r:f:h")) != -1) {
		switch (opt) {
		case 'l': listen_text = optarg; break;
		case 'H': health_text = optarg; break;
		case 'n': name = optarg; break;
		case 'r':
			if (add_rule(&filter, optarg, "-r") < 0)
				return 2;
			break;
		case 'f':
			if (add_rules_file(&filter, optarg) < 0)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	struct nlb_addr la, ha;
	if (nlb_addr_parse(listen_text, 0, &la) < 0) {
		fprintf(stderr, "nlb-appliance: -l %s: expected ADDR:PORT\n", listen_text);
		return 2;
	}
	bool has_health = !health_text || strcmp(health_text, "none") != 0;
	if (!health_text) {
		ha = la;
		if (ha.ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ha.ss)->sin_port = htons(80);
		else
			((struct sockaddr_in6 *)&ha.ss)->sin6_port = htons(80);
	} else if (has_health && nlb_addr_parse(health_text, 0, &ha) < 0) {
		fprintf(stderr, "nlb-appliance: -H %s: expected ADDR:PORT or none\n", health_text);
		return 2;
	}
	int ufd = bound_socket(&la, SOCK_DGRAM);
	int hfd = has_health ? bound_socket(&ha, SOCK_STREAM) : -1;
	if (ufd < 0 || (has_health && hfd < 0)) {
		fprintf(stderr, "nlb-appliance: binding %s: %s\n", ufd < 0 ? listen_text :
			health_text ? health_text : "the health port", strerror(ufd < 0 ? -ufd : -hfd));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	uint8_t (*buf)[DGRAM_MAX] = malloc(sizeof(*buf) * BATCH);
	if (!buf)
		return 1;
	fprintf(stderr, "nlb-appliance %s: GENEVE on %s, %zu rules%s%s\n", name, listen_text,
		filter.n, has_health ? ", health on " : "", has_health ?
		(health_text ? health_text : "port 80") : "");
	while (!stopping) {
		struct pollfd p[2] = { { ufd, POLLIN, 0 }, { hfd, POLLIN, 0 } };
		int r = poll(p, has_health ? 2 : 1, 500);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (p[0].revents & POLLIN)
			serve_batch(ufd, &c, &filter, buf);
		if (has_health && (p[1].revents & POLLIN))
			health(hfd, &c, &filter, name);
	}
	char text[8192];
	counters_text(&c, &filter, name, text, sizeof(text));
	fputs(text, stderr);
	free(buf);
	close(ufd);
	if (hfd >= 0)
		close(hfd);
	return 0;
}
