/* Listening sockets: one SO_REUSEPORT socket per listener, protocol and
 * worker, so the kernel spreads new connections (and UDP flows, by their
 * 4-tuple) across workers with no shared queue and no lock. */
#include "core/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "geneve.h"
#include "reuseport_steer.h"
#include "spsc_ring.h"
#include "tun.h"
#include "tunables.h"

/* Has the kernel UDP GRO (Linux 5.0) and GSO (4.18)? */
static bool udp_batches_supported(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1, seg = 1000;
	bool ok = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0 &&
		  setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0;
	close(fd);
	return ok;
}

static int open_one(const struct nlb_runtime *rt, const struct nlb_listener_conf *lc, int type)
{
	int fd = socket(lc->addr.ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	bool v6 = lc->addr.ss.ss_family == AF_INET6;
	bool gw = lc->protocol == NLB_PROTO_GATEWAY;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	/* [::]:80 means IPv6 only, as in NGINX: an operator who wants both
	 * families writes both listeners. */
	if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (type == SOCK_DGRAM) {
		/* A burst waits here while the worker is busy; the kernel
		 * caps the request at net.core.rmem_max. */
		int rcvbuf = NLB_UDP_SOCKET_RCVBUF;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		/* Bound to a wildcard, the address a client wrote to is
		 * learnt per datagram, and answers are sent from it. */
		if (!gw && nlb_addr_wildcard(&lc->addr) &&
		    (v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))
			: setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) < 0)
			goto fail;
		if (!gw && rt->udp_gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0)
			goto fail;
	}
	/* Accepted sockets inherit TCP_NODELAY from their listening socket:
	 * set once here rather than once per client. */
	if (type == SOCK_STREAM && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&lc->addr.ss, lc->addr.len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, NLB_LISTEN_BACKLOG) < 0))
		goto fail;
	return fd;
fail:;
	int err = -errno;
	close(fd);
	return err;
}

/* n_workers sockets of type for listener lr into *fds. */
static int open_set(const struct nlb_runtime *rt, const struct listener_rt *lr, int type,
		    int **fds, char *err, size_t errlen)
{
	*fds = malloc(rt->n_workers * sizeof(int));
	if (!*fds) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < rt->n_workers; i++)
		(*fds)[i] = -1;
	for (unsigned i = 0; i < rt->n_workers; i++) {
		int fd = open_one(rt, lr->conf, type);
		if (fd < 0) {
			snprintf(err, errlen, "%s:%d: listener \"%s\": cannot %s on %s: %s",
				 rt->cfg->path, lr->conf->line, lr->conf->name,
				 type == SOCK_STREAM ? "listen (tcp)" : "bind (udp)",
				 lr->conf->addr_text, strerror(-fd));
			return fd;
		}
		(*fds)[i] = fd;
	}
	return 0;
}

int listeners_open(struct nlb_runtime *rt, char *err, size_t errlen)
{
	const struct nlb_config *cfg = rt->cfg;
	bool batches = cfg->udp_gro && udp_batches_supported();
	/* UDP listeners: when the buffers can hold a whole batch. */
	rt->udp_gro = batches && cfg->udp_max_datagram >= 65535;
	/* Gateways: GRO coalesces datagrams by their outer addresses and
	 * ports, so with several workers one batch may hold returns of
	 * flows that different workers own: those are handed over
	 * (gw_handoff). */
	rt->gw_gro = batches;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		int ret = listener_bind(rt, l, &cfg->listeners[l], err, errlen);
		if (ret < 0) {
			listeners_close(rt);
			return ret;
		}
	}
	return 0;
}

static void close_set(const struct nlb_runtime *rt, int **fds)
{
	if (!*fds)
		return;
	for (unsigned i = 0; i < rt->n_workers; i++) {
		if ((*fds)[i] >= 0)
			close((*fds)[i]);
	}
	free(*fds);
	*fds = NULL;
}

void listeners_close(struct nlb_runtime *rt)
{
	for (size_t l = 0; l < rt->cfg->n_listeners; l++)
		listener_unbind(rt, l);
}

/* A gateway: its GENEVE sockets, steered, and its TUN device's queues. */
static int gateway_bind(struct nlb_runtime *rt, struct listener_rt *lr, char *err,
			size_t errlen)
{
	const struct nlb_listener_conf *lc = lr->conf;
	int ret = open_set(rt, lr, SOCK_DGRAM, &lr->udp_fds, err, errlen);
	if (ret < 0)
		return ret;
	int one = 1;
	for (unsigned i = 0; rt->gw_gro && i < rt->n_workers; i++)
		if (setsockopt(lr->udp_fds[i], SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s:%d: gateway \"%s\": cannot turn on UDP GRO on %s: "
				 "%s", rt->cfg->path, lc->line, lc->name, lc->addr_text, strerror(-ret));
			return ret;
		}
	/* A returned packet goes to the worker its flow cookie names: the
	 * cookie's first byte, offset 36 of the UDP payload in the header
	 * nlb writes, is the worker's slot. */
	int how = nlb_steer_by_payload_byte(lr->udp_fds, rt->n_workers, NLB_GENEVE_AWS_LEN - 4);
	if (how < 0) {
		snprintf(err, errlen, "%s:%d: gateway \"%s\": cannot steer returns on %s: %s",
			 rt->cfg->path, lc->line, lc->name, lc->addr_text, strerror(-how));
		return how;
	}
	if (how == 0)
		nlb_warn("gateway %s: returns steered by classic BPF (eBPF refused: nlb is not "
			 "root or lacks CAP_BPF): right until another process's sockets join %s, "
			 "so not across a binary upgrade (doc/gateway.md)", lc->name, lc->addr_text);
	if (!(lr->tun_fds = malloc(rt->n_workers * sizeof(int)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (rt->gw_gro && rt->n_workers > 1 &&
	    !(lr->gw_handoff = calloc((size_t)rt->n_workers * rt->n_workers,
				      sizeof(*lr->gw_handoff)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	bool created;
	ret = nlb_tun_open(lc->gw.tun, rt->n_workers, lr->tun_fds, &created);
	if (ret < 0) {
		free(lr->tun_fds);
		lr->tun_fds = NULL;
		snprintf(err, errlen, "%s:%d: gateway \"%s\": cannot open TUN device \"%s\" with "
			 "%u queues: %s%s", rt->cfg->path, lc->line, lc->name, lc->gw.tun,
			 rt->n_workers, strerror(-ret), ret == -EPERM ? " (it must exist, made "
			 "persistent with multi_queue and owned by nlb's user, or nlb must start "
			 "as root to create it)" : "");
		return ret;
	}
	nlb_info("gateway %s: TUN device %s %s, %u queues", lc->name, lc->gw.tun,
		 created ? "created (up, MTU 8500)" : "attached", rt->n_workers);
	return 0;
}


/* steering = "cpu": each connection to the worker pinned to the CPU that
 * took its SYN. */
static int steer_by_cpu(const struct nlb_runtime *rt, const struct listener_rt *lr, char *err,
			size_t errlen)
{
	const struct nlb_config *cfg = rt->cfg;
	const struct nlb_listener_conf *lc = lr->conf;
	uint32_t *cpus = malloc(rt->n_workers * sizeof(*cpus));
	if (!cpus) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < rt->n_workers; i++)
		cpus[i] = nlb_config_worker_cpu(cfg, i);
	int how = nlb_steer_by_cpu(lr->fds, cpus, rt->n_workers);
	free(cpus);
	if (how < 0) {
		snprintf(err, errlen, "%s:%d: listener \"%s\": cannot steer connections by CPU on %s: "
			 "%s", cfg->path, lc->line, lc->name, lc->addr_text, strerror(-how));
		return how;
	}
	if (rt->n_workers > cfg->n_cpus)
		nlb_warn("listener %s: steering = \"cpu\" with %u workers on %u CPUs: only the first "
			 "worker of each CPU takes connections", lc->name, rt->n_workers, cfg->n_cpus);
	if (how == 0)
		nlb_warn("listener %s: connections steered by CPU through classic BPF (eBPF refused: "
			 "nlb is not root or lacks CAP_BPF): right until another process's sockets "
			 "join %s, so not across a binary upgrade", lc->name, lc->addr_text);
	return 0;
}


int listener_bind(struct nlb_runtime *rt, size_t l, const struct nlb_listener_conf *lc,
		  char *err, size_t errlen)
{
	struct listener_rt *lr = &rt->listeners[l];
	atomic_store_explicit(&lr->conf, lc, memory_order_relaxed);
	lr->wildcard = nlb_addr_wildcard(&lc->addr);
	int ret = 0;
	if (lc->protocol == NLB_PROTO_GATEWAY)
		ret = gateway_bind(rt, lr, err, errlen);
	if (nlb_proto_tcp(lc->protocol))
		ret = open_set(rt, lr, SOCK_STREAM, &lr->fds, err, errlen);
	if (ret == 0 && nlb_proto_tcp(lc->protocol) && lc->steering == NLB_STEER_CPU)
		ret = steer_by_cpu(rt, lr, err, errlen);
	if (ret == 0 && nlb_proto_udp(lc->protocol))
		ret = open_set(rt, lr, SOCK_DGRAM, &lr->udp_fds, err, errlen);
	if (ret < 0)
		listener_unbind(rt, l);
	return ret;
}

/* A gateway's hand-off rings, and the table of them. */
static void free_handoff(const struct nlb_runtime *rt, struct listener_rt *lr)
{
	if (!lr->gw_handoff)
		return;
	for (size_t i = 0; i < (size_t)rt->n_workers * rt->n_workers; i++) {
		struct nlb_spsc_ring *r = atomic_load(&lr->gw_handoff[i]);
		if (r) {
			nlb_spsc_ring_free(r);
			free(r);
		}
	}
	free((void *)lr->gw_handoff);
	lr->gw_handoff = NULL;
}

void listener_unbind(struct nlb_runtime *rt, size_t l)
{
	close_set(rt, &rt->listeners[l].fds);
	close_set(rt, &rt->listeners[l].udp_fds);
	close_set(rt, &rt->listeners[l].tun_fds);
	free_handoff(rt, &rt->listeners[l]);
}

void listener_release(struct nlb_runtime *rt, size_t l)
{
	struct listener_rt *lr = &rt->listeners[l];
	free(lr->fds);
	free(lr->udp_fds);
	free(lr->tun_fds);
	lr->fds = lr->udp_fds = lr->tun_fds = NULL;
	free_handoff(rt, lr);
}
