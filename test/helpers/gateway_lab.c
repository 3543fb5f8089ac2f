/* The gateway-mode lab (see gateway_lab.h): its namespaces, links,
 * addresses, forwarding and, in gateway mode, the TUN device and the
 * policy routing into it; and the reflector that stands in for nlb.
 *
 * The routing of gateway mode, the worked example doc/gateway.md shows
 * (bench/gateway-lab runs the same commands by hand):
 *
 *   in ns gw:
 *	ip tuntap add dev nlbgw0 mode tun multi_queue
 *	ip link set nlbgw0 mtu 8500 up
 *	sysctl -w net.ipv4.conf.nlbgw0.accept_local=1
 *	ip route add default dev nlbgw0 table 100
 *	ip -6 route add default dev nlbgw0 table 100
 *	ip rule add iif to-client lookup 100
 *	ip rule add iif to-server lookup 100
 *	ip -6 rule add iif to-client to ff00::/8 blackhole pref 90
 *	ip -6 rule add iif to-server to ff00::/8 blackhole pref 90
 *	ip -6 rule add iif to-client lookup 100
 *	ip -6 rule add iif to-server lookup 100
 *
 * - nlbgw0 is persistent (it outlives the process that made it) and
 *   multi-queue: each open of /dev/net/tun + TUNSETIFF on it adds a
 *   queue, one per nlb worker.  With no queue attached it has no carrier
 *   and drops what is routed to it (counted as TX dropped).
 * - Every packet that arrives from the client link or from the server
 *   link -- both directions of every flow -- matches a rule and is routed
 *   by table 100, whose one route sends it into nlbgw0: nlb reads it
 *   there and sends it through an appliance over GENEVE.
 * - IPv6 multicast that is not gw's own (MLD reports to ff02::16) is
 *   dropped, never forwarded, as without the rules: it belongs to its
 *   link, not to a flow to inspect.  gw's own (neighbour discovery to its
 *   addresses) is delivered by the local table's rule first.
 * - What nlb writes back into nlbgw0 arrives, to the kernel, with iif
 *   nlbgw0.  No rule matches that, so the main table routes it by its
 *   destination, out of to-server or to-client as if gw had routed it
 *   directly.
 * - The `local` table's rule (priority 0) comes before ours: traffic for
 *   gw's own addresses (ARP, neighbour discovery, a ping of 10.10.1.1) is
 *   still delivered locally.  nlb's own GENEVE traffic to the appliances
 *   is sent from gw (iif lo for the rules) and uses the main table.
 * - accept_local on nlbgw0: nlb's ICMP "fragmentation needed" answers come
 *   out of the device with the gateway's own address as their source,
 *   which the kernel would otherwise drop as a martian.
 * - rp_filter is 0 on gw (all, default, every interface): a packet nlb
 *   writes comes in on nlbgw0 with a source that the main table reaches
 *   through another interface, which strict reverse-path filtering
 *   would drop.  Forwarding is on for IPv4 and IPv6. */
#include "gateway_lab.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "time_ms.h"

#define GWLAB_QUEUES_MAX 8
#define GWLAB_FLOWS_MAX 256
/* A packet that comes this long after its flow was last written back was
 * queued after that write had been processed in full: the tun driver
 * records the writer's queue only once the written packet has been
 * delivered, and a packet enqueued meanwhile (the next one of a burst, a
 * reply made in the same softirq, like an ICMP echo reply or a SYN-ACK)
 * still goes by the older record or the hash. */
#define GWLAB_SETTLED_MS 20

static int gw_rp_filter_off(const struct t_gwlab *lab, const char *ifname)
{
	char key[96];
	snprintf(key, sizeof key, "net.ipv4.conf.%s.rp_filter", ifname);
	return t_netns_sysctl(lab->gw, key, "0");
}

/* A link from gw (interface gw_if) to peer (interface to-gw), with an
 * IPv4 address on each end and, when gw6 is given, an IPv6 one. */
static int gw_link(const struct t_gwlab *lab, const char *gw_if, const struct t_netns *peer,
		   const char *gw4, const char *peer4, const char *gw6, const char *peer6)
{
	int rc = t_netns_veth(lab->gw, gw_if, gw4, peer, T_GWLAB_IF_PEER, peer4);
	if (rc == 0 && gw6)
		rc = t_netns_addr(lab->gw, gw_if, gw6);
	if (rc == 0 && peer6)
		rc = t_netns_addr(peer, T_GWLAB_IF_PEER, peer6);
	if (rc == 0)
		rc = gw_rp_filter_off(lab, gw_if);
	return rc;
}

/* The TUN device and the policy routing into it (the comment at the top
 * of this file). */
static int gw_tun(const struct t_gwlab *lab)
{
	static const char *const iifs[] = { T_GWLAB_IF_CLIENT, T_GWLAB_IF_SERVER };
	int rc = t_netns_ip(lab->gw, "tuntap add dev %s mode tun multi_queue", T_GWLAB_TUN);
	if (rc == 0)
		rc = t_netns_ip(lab->gw, "link set %s mtu %d up", T_GWLAB_TUN, T_GWLAB_TUN_MTU);
	if (rc == 0)
		rc = gw_rp_filter_off(lab, T_GWLAB_TUN);
	/* nlb's ICMP "too big" answers come out of the device from the
	 * gateway's own address: taken, not dropped as martians. */
	if (rc == 0)
		rc = t_netns_sysctl(lab->gw, "net.ipv4.conf." T_GWLAB_TUN ".accept_local", "1");
	if (rc == 0)
		rc = t_netns_ip(lab->gw, "route add default dev %s table %d", T_GWLAB_TUN,
				T_GWLAB_TABLE);
	if (rc == 0)
		rc = t_netns_ip(lab->gw, "-6 route add default dev %s table %d", T_GWLAB_TUN,
				T_GWLAB_TABLE);
	for (size_t i = 0; rc == 0 && i < sizeof iifs / sizeof *iifs; i++) {
		rc = t_netns_ip(lab->gw, "rule add iif %s lookup %d", iifs[i], T_GWLAB_TABLE);
		if (rc == 0)
			rc = t_netns_ip(lab->gw, "-6 rule add iif %s to ff00::/8 blackhole pref 90",
					iifs[i]);
		if (rc == 0)
			rc = t_netns_ip(lab->gw, "-6 rule add iif %s lookup %d", iifs[i],
					T_GWLAB_TABLE);
	}
	return rc;
}

int t_gwlab_up(struct t_gwlab *lab, enum t_gwlab_mode mode)
{
	*lab = (struct t_gwlab){
		.mode = mode,
		.client4 = T_GWLAB_CLIENT4, .gw_client4 = T_GWLAB_GW_CLIENT4,
		.server4 = T_GWLAB_SERVER4, .gw_server4 = T_GWLAB_GW_SERVER4,
		.client6 = T_GWLAB_CLIENT6, .gw_client6 = T_GWLAB_GW_CLIENT6,
		.server6 = T_GWLAB_SERVER6, .gw_server6 = T_GWLAB_GW_SERVER6,
		.gw_appl4 = T_GWLAB_GW_APPL4, .appl4 = { T_GWLAB_APPL4_1, T_GWLAB_APPL4_2 },
		.tun = mode == T_GWLAB_GATEWAY ? T_GWLAB_TUN : NULL,
	};
	int rc = 0;
	/* Each namespace with lo up (t_netns_new). */
	if (!(lab->client = t_netns_new("client")) || !(lab->gw = t_netns_new("gw")) ||
	    !(lab->server = t_netns_new("server")) || !(lab->appl = t_netns_new("appl"))) {
		rc = -errno;
		goto fail;
	}
	/* gw is a router, and tolerant of the TUN's asymmetric paths; set
	 * before its interfaces exist, so they start with rp_filter 0. */
	static const char *const gw_sysctls[][2] = {
		{ "net.ipv4.ip_forward", "1" },
		{ "net.ipv6.conf.all.forwarding", "1" },
		{ "net.ipv4.conf.all.rp_filter", "0" },
		{ "net.ipv4.conf.default.rp_filter", "0" },
	};
	for (size_t i = 0; rc == 0 && i < sizeof gw_sysctls / sizeof *gw_sysctls; i++)
		rc = t_netns_sysctl(lab->gw, gw_sysctls[i][0], gw_sysctls[i][1]);
	if (rc == 0)
		rc = gw_link(lab, T_GWLAB_IF_CLIENT, lab->client, T_GWLAB_GW_CLIENT4 "/24",
			     T_GWLAB_CLIENT4 "/24", T_GWLAB_GW_CLIENT6 "/64", T_GWLAB_CLIENT6 "/64");
	if (rc == 0)
		rc = gw_link(lab, T_GWLAB_IF_SERVER, lab->server, T_GWLAB_GW_SERVER4 "/24",
			     T_GWLAB_SERVER4 "/24", T_GWLAB_GW_SERVER6 "/64", T_GWLAB_SERVER6 "/64");
	/* Two appliances: two addresses on one interface.  They talk only to
	 * nlb in gw, on this subnet: appl needs no default route. */
	if (rc == 0)
		rc = gw_link(lab, T_GWLAB_IF_APPL, lab->appl, T_GWLAB_GW_APPL4 "/24",
			     T_GWLAB_APPL4_1 "/24", NULL, NULL);
	if (rc == 0)
		rc = t_netns_addr(lab->appl, T_GWLAB_IF_PEER, T_GWLAB_APPL4_2 "/24");
	/* Client and server reach each other through gw. */
	if (rc == 0)
		rc = t_netns_ip(lab->client, "route add default via %s", T_GWLAB_GW_CLIENT4);
	if (rc == 0)
		rc = t_netns_ip(lab->client, "-6 route add default via %s", T_GWLAB_GW_CLIENT6);
	if (rc == 0)
		rc = t_netns_ip(lab->server, "route add default via %s", T_GWLAB_GW_SERVER4);
	if (rc == 0)
		rc = t_netns_ip(lab->server, "-6 route add default via %s", T_GWLAB_GW_SERVER6);
	if (rc == 0 && mode == T_GWLAB_GATEWAY)
		rc = gw_tun(lab);
	if (rc == 0)
		return 0;
fail:;
	/* The failing step's reason outlives the clean-up. */
	char why[1024];
	snprintf(why, sizeof why, "gateway lab: %s", t_netns_err());
	t_gwlab_down(lab);
	fprintf(stderr, "%s\n", why);
	return rc ? rc : -EIO;
}

void t_gwlab_down(struct t_gwlab *lab)
{
	struct t_netns **all[] = { &lab->client, &lab->gw, &lab->server, &lab->appl };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		t_netns_free(*all[i]);
		*all[i] = NULL;
	}
}

/* ---- the reflector ----------------------------------------------------- */

/* A flow either way round: the smaller (address, port) end first. */
struct flow_key {
	uint8_t proto;
	uint8_t alen;
	uint8_t a[16], b[16];
	uint16_t pa, pb;
};

struct t_gwlab_reflector {
	pthread_t thread;
	int stop;			/* eventfd */
	int fds[GWLAB_QUEUES_MAX];
	unsigned queues;
	bool cross;
	struct {
		struct flow_key key;
		unsigned last;		/* queue the flow was last written on */
		int64_t last_ms;	/* when */
		unsigned queues;	/* bit q: a packet came out of queue q */
	} flows[GWLAB_FLOWS_MAX];
	unsigned nflows;
	struct t_gwlab_reflected seen;
};

/* The flow of an IPv4 or IPv6 packet; false if it is neither. */
static bool flow_of(const uint8_t *p, size_t n, struct flow_key *k)
{
	memset(k, 0, sizeof *k);
	const uint8_t *sa, *da, *l4;
	size_t l4_len;
	if (n >= 20 && p[0] >> 4 == 4) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < 20 || n < ihl)
			return false;
		k->proto = p[9];
		k->alen = 4;
		sa = p + 12;
		da = p + 16;
		l4 = p + ihl;
		l4_len = n - ihl;
		if (p[6] & 0x1f || p[7])	/* a later fragment: no ports */
			l4_len = 0;
	} else if (n >= 40 && p[0] >> 4 == 6) {
		k->proto = p[6];	/* extension headers: their type, no ports */
		k->alen = 16;
		sa = p + 8;
		da = p + 24;
		l4 = p + 40;
		l4_len = n - 40;
	} else {
		return false;
	}
	uint16_t sp = 0, dp = 0;
	if ((k->proto == 6 || k->proto == 17) && l4_len >= 4) {
		sp = (uint16_t)(l4[0] << 8 | l4[1]);
		dp = (uint16_t)(l4[2] << 8 | l4[3]);
	}
	int c = memcmp(sa, da, k->alen);
	bool swap = c > 0 || (c == 0 && sp > dp);
	memcpy(k->a, swap ? da : sa, k->alen);
	memcpy(k->b, swap ? sa : da, k->alen);
	k->pa = swap ? dp : sp;
	k->pb = swap ? sp : dp;
	return true;
}

static void reflect(struct t_gwlab_reflector *r, unsigned q, const uint8_t *pkt, size_t n)
{
	unsigned out = r->cross ? (q + 1) % r->queues : q;
	int64_t now = t_now_ms();
	struct flow_key k;
	r->seen.packets++;
	r->seen.per_queue[q]++;
	if (flow_of(pkt, n, &k)) {
		unsigned i = 0;
		while (i < r->nflows && memcmp(&r->flows[i].key, &k, sizeof k))
			i++;
		if (i == r->nflows && i < GWLAB_FLOWS_MAX) {
			r->flows[i].key = k;
			r->nflows++;
		} else if (i < r->nflows && now - r->flows[i].last_ms >= GWLAB_SETTLED_MS) {
			r->seen.settled++;
			r->seen.settled_followed += r->flows[i].last == q;
		}
		if (i < r->nflows) {
			r->flows[i].queues |= 1u << q;
			r->flows[i].last = out;
			r->flows[i].last_ms = now;
		}
	}
	if (write(r->fds[out], pkt, n) != (ssize_t)n)
		r->seen.write_errors++;
}

static void *reflector_main(void *arg)
{
	struct t_gwlab_reflector *r = arg;
	struct pollfd p[GWLAB_QUEUES_MAX + 1];
	uint8_t *buf = malloc(65536);
	if (!buf)
		return NULL;
	for (unsigned q = 0; q < r->queues; q++)
		p[q] = (struct pollfd){ r->fds[q], POLLIN, 0 };
	p[r->queues] = (struct pollfd){ r->stop, POLLIN, 0 };
	bool gone = false;	/* a queue failed: the TUN went with its namespace */
	while (!gone && poll(p, r->queues + 1, -1) >= 0 && !p[r->queues].revents)
		for (unsigned q = 0; q < r->queues; q++) {
			ssize_t n = 0;
			while (p[q].revents && (n = read(r->fds[q], buf, 65536)) > 0)
				reflect(r, q, buf, (size_t)n);
			gone |= p[q].revents && n < 0 && errno != EAGAIN && errno != EINTR;
		}
	free(buf);
	return NULL;
}

struct t_gwlab_reflector *t_gwlab_reflect_start(const struct t_gwlab *lab, unsigned queues,
						bool cross)
{
	if (!lab->tun || queues < 1 || queues > GWLAB_QUEUES_MAX) {
		fprintf(stderr, "reflector: needs a gateway-mode lab and 1..%d queues\n",
			GWLAB_QUEUES_MAX);
		errno = EINVAL;
		return NULL;
	}
	struct t_gwlab_reflector *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->queues = queues;
	r->cross = cross;
	r->stop = eventfd(0, EFD_CLOEXEC);
	int rc = r->stop < 0 ? -errno : 0;
	for (unsigned q = 0; rc == 0 && q < queues; q++) {
		r->fds[q] = t_netns_tun_queue(lab->gw, lab->tun);
		if (r->fds[q] < 0) {
			rc = r->fds[q];
			r->queues = q;
		}
	}
	if (rc == 0)
		rc = -pthread_create(&r->thread, NULL, reflector_main, r);
	if (rc == 0)
		return r;
	for (unsigned q = 0; q < r->queues; q++)
		close(r->fds[q]);
	if (r->stop >= 0)
		close(r->stop);
	free(r);
	errno = -rc;
	return NULL;
}

void t_gwlab_reflect_stop(struct t_gwlab_reflector *r, struct t_gwlab_reflected *out)
{
	if (!r)
		return;
	uint64_t one = 1;
	if (write(r->stop, &one, sizeof one) != sizeof one)
		abort();	/* an eventfd write of 1 cannot fail */
	pthread_join(r->thread, NULL);
	r->seen.flows = r->nflows;
	for (unsigned i = 0; i < r->nflows; i++)
		r->seen.split_flows += (r->flows[i].queues & (r->flows[i].queues - 1)) != 0;
	for (unsigned q = 0; q < r->queues; q++)
		close(r->fds[q]);
	close(r->stop);
	if (out)
		*out = r->seen;
	free(r);
}
