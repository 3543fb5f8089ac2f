/* nlb-appliance: the reference virtual appliance for nlb's gateway mode,
 * as a firewall behind the AWS Gateway Load Balancer is.  It receives
 * GENEVE packets (lib/geneve.h) on UDP 6081, reads the inner IP packet
 * (lib/ip_packet.h), applies a short rule list (lib/appliance_filter.h)
 * and returns each allowed packet to its sender unchanged, header and
 * all; a denied one is dropped.  A TCP port answers health checks (an
 * HTTP GET gets 200 and the counters).  One thread, a poll loop, batches
 * of datagrams: small enough to read, fast enough for the tests and the
 * gateway benchmark. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#define BATCH 32
#define DGRAM_MAX 9216		/* an 8,568-byte GENEVE packet and room */

struct counters {
	uint64_t received, returned, denied, bad_geneve, bad_ip, send_errors;
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
	}
	return fd;
}

static int counters_text(const struct counters *c, const struct nlb_appliance_filter *f,
			 const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "name=%s received=%llu returned=%llu denied=%llu "
			 "bad_geneve=%llu bad_ip=%llu send_errors=%llu\n", name,
			 (unsigned long long)c->received, (unsigned long long)c->returned,
			 (unsigned long long)c->denied, (unsigned long long)c->bad_geneve,
			 (unsigned long long)c->bad_ip, (unsigned long long)c->send_errors);
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

/* A batch of datagrams: each judged, the allowed ones sent back. */
static void serve_batch(int fd, struct counters *c, const struct nlb_appliance_filter *f,
			uint8_t (*buf)[DGRAM_MAX])
{
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];
	struct sockaddr_storage from[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ buf[i], DGRAM_MAX };
		in[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
						 .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
	int k = 0;
	for (int i = 0; i < n; i++) {
		c->received++;
		size_t len = in[i].msg_len;
		struct nlb_geneve_aws g;
		enum nlb_geneve_error ge;
		int off = nlb_geneve_parse(buf[i], len, &g, &ge);
		if (off < 0 || (in[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			c->bad_geneve++;
			continue;
		}
		struct nlb_ip_packet pkt;
		if (nlb_ip_packet_parse(buf[i] + off, len - (size_t)off, &pkt) < 0 ||
		    (pkt.version == 4) != (g.protocol == NLB_GENEVE_PROTO_IPV4)) {
			c->bad_ip++;
			continue;
		}
		size_t rule;
		bool allowed = nlb_appliance_filter_allows(f, &pkt, &rule);
		c->by_rule[rule]++;
		if (!allowed) {
			c->denied++;
			continue;
		}
		oiov[k] = (struct iovec){ buf[i], len };
		out[k].msg_hdr = (struct msghdr){ .msg_name = &from[i],
						  .msg_namelen = in[i].msg_hdr.msg_namelen,
						  .msg_iov = &oiov[k], .msg_iovlen = 1 };
		k++;
	}
	for (int sent = 0; sent < k;) {
		int r = sendmmsg(fd, out + sent, (unsigned)(k - sent), 0);
		if (r <= 0) {
			c->send_errors += (uint64_t)(k - sent);
			break;
		}
		c->returned += (uint64_t)r;
		sent += r;
	}
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
