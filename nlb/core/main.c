/* nlb's entry point: the command line, start-up (configuration, listening
 * sockets, the privilege drop, workers, the seccomp filter), signals, and the orderly stop
 * that lets open connections finish. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "cpu_list.h"
#include "log.h"
#include "tunables.h"
#include "balance/target_set.h"
#include "control/access_log.h"
#include "control/admin.h"
#include "control/announce.h"
#include "control/health.h"
#include "control/memory_budget.h"
#include "control/metrics.h"
#include "control/reload.h"
#include "control/stats.h"
#include "core/listener.h"
#include "core/loop.h"
#include "core/privileges.h"
#include "core/runtime.h"
#include "core/sandbox.h"
#include "core/tls_warnings.h"
#include "http/http_worker.h"
#include "stream/tcp_worker.h"
#include "stream/udp_worker.h"
#include "gateway/gw_worker.h"

/* The protocol modules every worker runs, in the order their hooks are
 * called: a new kind of listener is a module of its own, added here. */
static const struct stream_proto *const protocols[] = {
	&tcp_proto,
	&udp_proto,
	&http_proto,
	&gateway_proto,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: nlb -c FILE      run in the foreground on configuration FILE\n"
		"       nlb -u -c FILE   the same beside a running nlb (a binary upgrade):\n"
		"                        take over its admin socket\n"
		"       nlb -t -c FILE   check the configuration and exit (0 valid, 1 not)\n"
		"       nlb -V           print the version\n"
		"       nlb -h           print this help\n"
		"signals: TERM/INT stop accepting, drain open connections for up to\n"
		"shutdown_timeout_ms, then exit 0; HUP re-reads FILE and applies it\n"
		"(listeners, target groups and targets added and removed, settings;\n"
		"removed targets drain); what only a restart applies is logged and\n"
		"kept at its running value\n");
}

/* A load balancer holds two descriptors per connection: take all the
 * hard limit allows. */
static void log_warning(const char *line, void *arg)
{
	(void)arg;
	nlb_warn("%s", line);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		nlb_info("file descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

struct stats_line {
	char buf[8192];
	size_t off;
};

static void stats_append(void *arg, const char *name, uint64_t value)
{
	struct stats_line *l = arg;
	if (l->off < sizeof(l->buf))
		l->off += (size_t)snprintf(l->buf + l->off, sizeof(l->buf) - l->off, " %s=%llu",
					   name, (unsigned long long)value);
}

static void log_stats(const struct worker *workers, unsigned n, const struct nlb_runtime *rt,
		      const struct health *h, const struct admin *a)
{
	struct stats_line l = { .off = 0 };
	l.buf[0] = '\0';
	stats_visit(workers, n, rt, &h->counters, &a->counters, stats_append, &l);
	nlb_info("stats%s", l.buf);
}

static void workers_stop(struct worker *workers, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		worker_stop(&workers[i]);
}

/* Takes cfg: it (or what a reload replaced it with) is freed here. */
static int run(struct nlb_config *cfg, bool upgrade)
{
	struct nlb_runtime rt = {
		.protocols = protocols,
		.n_protocols = sizeof(protocols) / sizeof(protocols[0]),
		.cfg = cfg,
		.forwarding = cfg->forwarding,
		.n_workers = cfg->workers,
		.upgrade = upgrade,
		.reload_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int status = 1;
	int stop_signal = SIGTERM;
	struct announce ann = { .fd = -1 };
	struct memory_budget budget = { .statm_fd = -1 };
	struct health health;
	struct admin admin;
	memset(&health, 0, sizeof(health));
	health.epfd = -1;
	struct access_log alog;
	memset(&alog, 0, sizeof(alog));
	alog.fd = -1;
	struct metrics metrics;
	memset(&metrics, 0, sizeof(metrics));
	metrics.lfd = -1;
	rt.listeners = calloc(NLB_MAX_LISTENERS, sizeof(*rt.listeners));
	rt.groups = calloc(NLB_MAX_GROUPS, sizeof(*rt.groups));	/* reloads add groups */
	struct worker *workers = calloc(rt.n_workers, sizeof(*workers));
	rt.ring_fds = malloc(rt.n_workers * sizeof(*rt.ring_fds));
	if (!rt.listeners || !rt.groups || !workers || !rt.ring_fds) {
		nlb_err("out of memory");
		goto out;
	}
	for (unsigned i = 0; i < rt.n_workers; i++)
		atomic_init(&rt.ring_fds[i], -1);
	for (size_t l = 0; l < cfg->n_listeners; l++)
		rt.listeners[l].conf = &cfg->listeners[l];

	int bret = targets_init(&rt);
	if (bret < 0) {
		nlb_err("target groups: %s", strerror(-bret));
		goto out;
	}
	char err[512];
	if (listeners_open(&rt, err, sizeof(err)) < 0) {
		nlb_err("%s", err);
		goto out;
	}
	/* The metrics socket is bound here, with the listeners: every bind
	 * must come before the privilege drop that follows them (user,
	 * group), since a low port may need root.  Keep new binds above it. */
	if (metrics_open(&metrics, &rt, err, sizeof(err)) < 0) {
		nlb_err("%s", err);
		listeners_close(&rt);
		goto out;
	}
	/* The admin socket's directory (/run/nlb) is root's. */
	if (admin_open(&admin, &rt, err, sizeof(err)) < 0) {
		nlb_err("%s", err);
		listeners_close(&rt);
		goto out;
	}
	/* The stale routes of a killed nlb go while root, whatever comes. */
	if (announce_open(&ann, &rt, err, sizeof(err)) < 0) {
		nlb_err("%s", err);
		listeners_close(&rt);
		goto out;
	}
	/* /proc/self/statm stays readable, whoever nlb becomes. */
	if (memory_budget_open(&budget) < 0)
		nlb_warn("memory: cannot open /proc/self/statm (%s): max_memory_mb is not enforced",
			 strerror(errno));
	/* ---- Every socket is bound above this line: the privilege drop ----
	 * Anything else that needs root to open (ports below 1024, sockets
	 * in root-owned directories) goes above.  Below, nlb runs as "user":
	 * no thread and no ring exists yet, so none ever ran as root, and a
	 * reload re-reads the configuration file as that user. */
	if (privileges_drop(cfg) < 0) {
		listeners_close(&rt);
		goto out;
	}
	tls_warnings(cfg, true, log_warning, NULL);
	/* The access log is opened as "user", as every reopen will be. */
	if (access_log_init(&alog, &rt, err, sizeof(err)) < 0) {
		nlb_err("%s", err);
		access_log_stop(&alog);
		listeners_close(&rt);
		goto out;
	}
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		if (!nlb_proto_udp(cfg->listeners[l].protocol))
			continue;
		nlb_info("udp: GRO/GSO batching %s", rt.udp_gro ? "on" :
			 !cfg->udp_gro ? "off (udp_gro = false)" :
			 cfg->udp_max_datagram < 65535 ? "off (udp_max_datagram < 65535)" :
			 "off (the kernel lacks UDP_GRO or UDP_SEGMENT)");
		break;
	}

	/* Workers inherit this mask: signals reach only this thread. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Worker i takes the i-th CPU nlb may use, in turn when there are
	 * more workers than CPUs.  This thread never pins itself: the
	 * health, metrics and admin threads inherit its mask, nlb's own. */
	cpu_set_t pinned;
	CPU_ZERO(&pinned);
	for (unsigned i = 0; i < rt.n_workers && i < cfg->n_cpus; i++)
		CPU_SET(cfg->cpus[i], &pinned);
	char cpu_text[256];
	if (nlb_cpu_list_format(&pinned, cpu_text, sizeof(cpu_text)) >= sizeof(cpu_text))
		memcpy(cpu_text + sizeof(cpu_text) - 4, "...", 4);
	nlb_info("workers: %u on CPUs %s", rt.n_workers, cpu_text);
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, rt.n_workers + 1);
	unsigned started = 0;
	for (unsigned i = 0; i < rt.n_workers; i++) {
		workers[i].id = i;
		workers[i].cpu = (int)nlb_config_worker_cpu(cfg, i);
		workers[i].rt = &rt;
		workers[i].barrier = &barrier;
		int ret = worker_start(&workers[i]);
		if (ret < 0) {
			nlb_err("cannot start worker %u: %s", i, strerror(-ret));
			break;
		}
		started++;
	}
	if (started < rt.n_workers) {
		/* The barrier counts every worker; stand in for the missing. */
		for (unsigned i = started; i < rt.n_workers; i++) {
			for (size_t l = 0; l < cfg->n_listeners; l++) {
				if (rt.listeners[l].fds)
					close(rt.listeners[l].fds[i]);
				if (rt.listeners[l].udp_fds)
					close(rt.listeners[l].udp_fds[i]);
				if (rt.listeners[l].tun_fds)
					close(rt.listeners[l].tun_fds[i]);
			}
		}
		pthread_barrier_destroy(&barrier);
		workers_stop(workers, started);
		goto join;
	}
	pthread_barrier_wait(&barrier);
	bool ok = true;
	for (unsigned i = 0; i < rt.n_workers; i++)
		ok = ok && workers[i].init_error == 0;
	if (!ok) {
		workers_stop(workers, rt.n_workers);
		goto join;
	}

	int hret = health_start(&health, &rt);
	if (hret < 0) {
		nlb_err("cannot start the health-check thread: %s", strerror(-hret));
		workers_stop(workers, rt.n_workers);
		goto join;
	}
	int mret = metrics_start(&metrics, workers, rt.n_workers, &health);
	if (mret < 0) {
		nlb_err("cannot start the metrics thread: %s", strerror(-mret));
		workers_stop(workers, rt.n_workers);
		goto join;
	}
	int lret = access_log_start(&alog);
	if (lret < 0) {
		nlb_err("cannot start the access log's thread: %s", strerror(-lret));
		workers_stop(workers, rt.n_workers);
		goto join;
	}
	int aret = admin_start(&admin, workers, rt.n_workers, &health);
	if (aret < 0) {
		nlb_err("cannot start the admin socket's thread: %s", strerror(-aret));
		workers_stop(workers, rt.n_workers);
		goto join;
	}
	/* Every thread exists now: the filter goes on all of them at once
	 * (TSYNC), so the workers' ring setup stays outside its list; what
	 * the control threads still do to start is on it. */
	if (sandbox_install(cfg) < 0) {
		workers_stop(workers, rt.n_workers);
		goto join;
	}
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		const struct nlb_group_conf *gc = &cfg->groups[lc->group];
		nlb_info("listener %s: %s %s -> target group %s (%zu targets, %s)", lc->name,
			 nlb_protocol_name(lc->protocol), lc->addr_text, gc->name,
			 gc->n_targets, nlb_algorithm_name(gc->algorithm));
	}
	nlb_info("nlb %s running: %u workers, forwarding %s", NLB_VERSION, rt.n_workers,
		 nlb_forwarding_name(rt.forwarding));

	/* This thread is the control plane's clock: draining is checked
	 * every 100 ms between signals, the memory budget as often as it
	 * asks (more often near it). */
	const struct timespec tick = { .tv_sec = 0, .tv_nsec = 100 * 1000000 };
	struct timespec wait = tick;
	for (;;) {
		int sig = sigtimedwait(&sigs, NULL, &wait);
		uint64_t now = nlb_clock_ms();
		if (sig == SIGHUP) {
			char msg[1024];	/* logged already */
			/* rt.cfg, not cfg: a reload may have replaced (and
			 * freed) the configuration nlb started with. */
			nlb_info("SIGHUP: reloading %s", rt.cfg->path);
			/* logrotate's postrotate sends it: the log opens anew */
			atomic_fetch_add_explicit(&rt.access_log_reopen, 1, memory_order_relaxed);
			reload_config(&rt, rt.cfg->path, now, msg, sizeof(msg));
		}
		targets_tick(&rt, now);
		announce_tick(&ann, &rt);
		unsigned next_ms = memory_budget_tick(&budget, &rt);
		wait.tv_sec = next_ms / 1000;
		wait.tv_nsec = (long)(next_ms % 1000) * 1000000;
		if (sig < 0 || sig == SIGHUP)
			continue;
		stop_signal = sig;
		break;
	}
	/* Withdrawn first: the router moves new flows to other hosts during
	 * the delay, while this one still accepts them. */
	size_t withdrawn = announce_withdraw(&ann, &rt);
	if (ann.fd >= 0 && rt.cfg->announce_withdraw_delay_ms) {
		nlb_info("%s: %zu routes withdrawn; accepting for %llu ms more before stopping",
			 stop_signal == SIGINT ? "SIGINT" : "SIGTERM", withdrawn,
			 (unsigned long long)rt.cfg->announce_withdraw_delay_ms);
		uint64_t until = nlb_clock_ms() + rt.cfg->announce_withdraw_delay_ms;
		while (nlb_clock_ms() < until) {
			sigtimedwait(&sigs, NULL, &tick);
			targets_tick(&rt, nlb_clock_ms());
		}
	}
	nlb_info("%s: stopping, draining connections for up to %llu ms",
		 stop_signal == SIGINT ? "SIGINT" : "SIGTERM",
		 (unsigned long long)rt.cfg->shutdown_timeout_ms);
	workers_stop(workers, rt.n_workers);
	status = 0;
join:
	for (unsigned i = 0; i < started; i++) {
		pthread_join(workers[i].thread, NULL);
		close(workers[i].stop_fd);
	}
	if (started == rt.n_workers && rt.n_workers)
		pthread_barrier_destroy(&barrier);
	/* Scrapes go on while connections drain; the metrics thread reads
	 * the health thread's counters, so it stops first.  The admin socket
	 * answers until the workers have drained too (show stats, show
	 * targets watch it). */
	metrics_stop(&metrics);
	admin_stop(&admin);
	health_stop(&health);
	/* The workers are gone: the last lines they queued go out. */
	access_log_stop(&alog);
	log_stats(workers, started, &rt, &health, &admin);
	if (status == 0)
		nlb_info("stopped");
	/* Workers closed their own listening sockets. */
	for (size_t l = 0; l < rt.cfg->n_listeners; l++)
		listener_release(&rt, l);
out:
	/* After the threads that read rt.announced. */
	announce_close(&ann, &rt);
	memory_budget_close(&budget);
	if (rt.groups)
		targets_free(&rt);
	for (unsigned i = 0; workers && i < rt.n_workers; i++)
		worker_free_stats(&workers[i]);
	free(workers);
	free((void *)rt.ring_fds);
	free(rt.listeners);
	free(rt.groups);
	/* The configuration in force; those it replaced went with
	 * targets_free. */
	nlb_config_free((struct nlb_config *)rt.cfg);
	return status;
}

static void print_warning(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "nlb: warning: %s\n", line);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool test_only = false, upgrade = false;
	int opt;
	while ((opt = getopt(argc, argv, "c:tuVh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'u':
			upgrade = true;
			break;
		case 'V':
			printf("nlb %s\n", NLB_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 1;
	}

	struct nlb_config *cfg = NULL;
	char err[1024];
	int ret = nlb_config_load(path, &cfg, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "nlb: %s\n", err);
		if (test_only)
			fprintf(stderr, "nlb: configuration file %s test failed\n", path);
		return 1;
	}
	if (test_only) {
		tls_warnings(cfg, false, print_warning, NULL);
		fprintf(stderr, "nlb: configuration file %s test is successful\n", path);
		nlb_config_free(cfg);
		return 0;
	}
	nlb_log_set_level(cfg->log_level);
	/* Before anything is bound, so that a refusal (root with no "user",
	 * a user that does not exist) never holds a port, even briefly. */
	if (privileges_check(cfg) < 0) {
		nlb_config_free(cfg);
		return 1;
	}
	raise_nofile();
	int status = run(cfg, upgrade);
	return status;
}
