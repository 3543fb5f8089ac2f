/* Suite "affinity": nlb keeps to the CPUs it was given.  Started under
 * `taskset -c 1` it runs one worker per CPU of that mask and every one of
 * its threads stays on CPU 1; with `cpus` its workers are pinned to those
 * CPUs in turn while its other threads keep the mask nlb inherited; a
 * `cpus` naming a CPU outside that mask, or not a CPU list, is a
 * FILE:LINE error (`nlb -t` exits 1); a listener's steering = "cpu"
 * gives each connection to the worker on the CPU that took its SYN.  Threads are read from /proc/PID/task/TID/status;
 * workers are named nlb-worker-N and their io-wq threads iou-wrk-TID. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "px.h"

TestSuite(affinity, .init = t_setup, .fini = t_teardown);

static const char taskset[] = "/usr/bin/taskset";

/* Skips the test unless this process may run on each of the CPUs. */
static void need_cpus(const int *cpus, size_t n)
{
	cpu_set_t set;
	T_ASSERT(sched_getaffinity(0, sizeof(set), &set) == 0, ": %s", strerror(errno));
	for (size_t i = 0; i < n; i++)
		if (!CPU_ISSET(cpus[i], &set))
			cr_skip_test("CPU %d is not among this test's CPUs", cpus[i]);
}

static void need_taskset(void)
{
	if (access(taskset, X_OK) != 0)
		cr_skip_test("no %s (util-linux)", taskset);
}

/* The value of "key:\t" in a /proc status file, up to its newline. */
static void status_field(const char *path, const char *key, char *out, size_t len)
{
	out[0] = '\0';
	char *text = t_file_read(path, NULL);
	if (text == NULL)
		return;
	size_t klen = strlen(key);
	for (const char *line = text; *line; ) {
		size_t n = strcspn(line, "\n");
		if (n > klen + 1 && strncmp(line, key, klen) == 0 && line[klen] == ':' &&
		    line[klen + 1] == '\t') {
			snprintf(out, len, "%.*s", (int)(n - klen - 2), line + klen + 2);
			break;
		}
		line += n + (line[n] == '\n');
	}
	free(text);
}

/* This thread's Cpus_allowed_list: what nlb inherits from us. */
static void own_cpus(char *out, size_t len)
{
	status_field("/proc/thread-self/status", "Cpus_allowed_list", out, len);
	T_ASSERT(out[0] != '\0', ": no Cpus_allowed_list in /proc/thread-self/status");
}

struct thread {
	char name[32];
	char cpus[256];
};

#define MAX_THREADS 64

/* Name and Cpus_allowed_list of each of pid's threads; the count. */
static size_t threads_of(pid_t pid, struct thread *t, size_t max)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	T_ASSERT(d != NULL, ": %s: %s", dir, strerror(errno));
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] == '.')
			continue;
		char path[64 + sizeof(e->d_name) + 8];
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		status_field(path, "Name", t[n].name, sizeof(t[n].name));
		status_field(path, "Cpus_allowed_list", t[n].cpus, sizeof(t[n].cpus));
		if (t[n].cpus[0] != '\0')	/* not a thread that just ended */
			n++;
	}
	closedir(d);
	return n;
}

static bool is_worker(const struct thread *t)
{
	return strncmp(t->name, "nlb-worker-", 11) == 0;
}

static bool is_iowq(const struct thread *t)
{
	return strncmp(t->name, "iou-wrk-", 8) == 0;
}

/* One listener to one echo target; extra goes first (top-level keys). */
static char *write_conf(const char *extra, uint16_t listen, uint16_t target)
{
	char *path = t_write_config(
		"%s\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"web\"; } );\n"
		"target_groups = ( { name = \"web\"; algorithm = \"round_robin\";"
		" targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		extra, listen, target);
	T_ASSERT(path, ": writing the configuration: %s", strerror(errno));
	return path;
}

/* Starts argv (nlb, or taskset running nlb: it execs, so the pid is
 * nlb's) into p and waits until it serves. */
static void spawn(struct px *p, const char *const argv[], char *conf, uint16_t listen)
{
	memset(p, 0, sizeof(*p));
	p->conf.listen_port = listen;
	p->conf_path = conf;
	p->nlb = t_spawn(argv, NULL);
	T_ASSERT(p->nlb, ": starting %s: %s", argv[0], strerror(errno));
	int rc = t_nlb_wait_listening(p->nlb, listen, 5000);
	px_assert(p, rc == 0, "nlb is not listening on 127.0.0.1:%u: %s", listen,
		  rc == -ECHILD ? "it exited" : strerror(-rc));
	px_assert(p, t_nlb_log_wait(p->nlb, " running: ", 5000) == 0, "nlb did not start");
}

/* The test: under `taskset -c 1` and with no "workers" key, nlb
 * runs one worker and every thread it has (io-wq's after traffic too) may
 * run on CPU 1 only. */
T_TEST(affinity, taskset_one_cpu, .timeout = 30)
{
	need_taskset();
	need_cpus((const int[]){ 1 }, 1);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t listen = t_free_port();
	char *conf = write_conf("", listen, t_server_port(echo));
	const char *argv[] = { taskset, "-c", "1", t_nlb_bin(), "-c", conf, NULL };
	struct px p;
	spawn(&p, argv, conf, listen);
	int fd = px_connect(&p);
	px_round_trip_ok(&p, fd, "under taskset -c 1");
	t_close(fd);

	struct thread t[MAX_THREADS];
	size_t n = threads_of(p.nlb->pid, t, MAX_THREADS);
	size_t workers = 0;
	for (size_t i = 0; i < n; i++) {
		px_assert(&p, strcmp(t[i].cpus, "1") == 0, "thread %zu (%s) may run on CPUs %s, "
			  "not only 1", i, t[i].name, t[i].cpus);
		workers += is_worker(&t[i]);
	}
	px_assert(&p, n >= 3 && workers == 1, "%zu threads, %zu workers: want main, one worker "
		  "and the health thread at least", n, workers);
	px_assert(&p, t_nlb_log_contains(p.nlb, " running: 1 workers"),
		  "nlb did not log that it runs one worker");
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* cpus = "1" with this process unrestricted: one worker, pinned to CPU 1
 * (so are its io-wq threads); every other thread keeps the whole mask. */
T_TEST(affinity, cpus_pins_workers_only, .timeout = 30)
{
	need_cpus((const int[]){ 1 }, 1);
	char mine[256];
	own_cpus(mine, sizeof(mine));
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t listen = t_free_port();
	char *conf = write_conf("cpus = \"1\";", listen, t_server_port(echo));
	const char *argv[] = { t_nlb_bin(), "-c", conf, NULL };
	struct px p;
	spawn(&p, argv, conf, listen);
	px_assert(&p, t_nlb_log_contains(p.nlb, " running: 1 workers"),
		  "cpus = \"1\" did not start exactly one worker");
	int fd = px_connect(&p);
	px_round_trip_ok(&p, fd, "with cpus = \"1\"");
	t_close(fd);

	struct thread t[MAX_THREADS];
	size_t n = threads_of(p.nlb->pid, t, MAX_THREADS);
	size_t workers = 0, others = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_worker(&t[i]) || is_iowq(&t[i])) {
			px_assert(&p, strcmp(t[i].cpus, "1") == 0, "%s may run on CPUs %s, "
				  "not only 1", t[i].name, t[i].cpus);
			workers += is_worker(&t[i]);
		} else {
			px_assert(&p, strcmp(t[i].cpus, mine) == 0, "%s may run on CPUs %s, "
				  "not on nlb's own %s", t[i].name, t[i].cpus, mine);
			others++;
		}
	}
	px_assert(&p, workers == 1 && others >= 2, "%zu workers, %zu other threads", workers,
		  others);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* More workers than CPUs: they take the CPUs in turn, 0 1 0. */
T_TEST(affinity, workers_share_cpus_in_turn, .timeout = 30)
{
	need_cpus((const int[]){ 0, 1 }, 2);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t listen = t_free_port();
	char *conf = write_conf("workers = 3;\ncpus = \"0-1\";", listen, t_server_port(echo));
	const char *argv[] = { t_nlb_bin(), "-c", conf, NULL };
	struct px p;
	spawn(&p, argv, conf, listen);
	px_assert(&p, t_nlb_log_contains(p.nlb, " running: 3 workers"), "not 3 workers");
	px_connect_n(&p, 6);

	static const char *const want[] = { "0", "1", "0" };
	struct thread t[MAX_THREADS];
	size_t n = threads_of(p.nlb->pid, t, MAX_THREADS);
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned w;
		if (sscanf(t[i].name, "nlb-worker-%u", &w) != 1)
			continue;
		px_assert(&p, w < 3 && strcmp(t[i].cpus, want[w]) == 0, "%s may run on CPUs %s, "
			  "want %s", t[i].name, t[i].cpus, w < 3 ? want[w] : "no such worker");
		seen |= 1u << w;
	}
	px_assert(&p, seen == 7, "workers seen: mask %#x, want 0x7", seen);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* Runs `nlb -t` on text (through taskset -c cpu unless cpu is NULL) and
 * expects exit code 1 and "FILE:line: " followed by msg. */
static void expect_refused(const char *cpu, const char *text, int line, const char *msg)
{
	char *conf = t_write_config("%s", text);
	T_ASSERT(conf);
	const char *plain[] = { t_nlb_bin(), "-t", "-c", conf, NULL };
	const char *pinned[] = { taskset, "-c", cpu ? cpu : "", t_nlb_bin(), "-t", "-c", conf,
				 NULL };
	char *out = NULL;
	int rc = t_run(cpu ? pinned : plain, 10000, &out);
	char want[1024];
	snprintf(want, sizeof(want), "%s:%d: %s", conf, line, msg);
	T_ASSERT(rc == 1, ": nlb -t exit code %d, want 1: %s", rc, out ? out : "");
	T_ASSERT(out && strstr(out, want), ": no \"%s\" in: %s", want, out ? out : "");
	free(out);
	t_file_remove(conf);
}

T_TEST(affinity, cpus_errors_name_file_and_line, .timeout = 30)
{
	char mine[256], msg[512];
	own_cpus(mine, sizeof(mine));
	snprintf(msg, sizeof(msg), "\"cpus\": CPU 1000 is not one nlb may run on (allowed: %s)",
		 mine);
	expect_refused(NULL, "log_level = \"info\";\ncpus = \"1000\";\n", 2, msg);
	expect_refused(NULL, "cpus = \"2-1\";\n", 1, "\"cpus\": bad CPU list \"2-1\"");
	expect_refused(NULL, "\ncpus = \"0, 1\";\n", 2, "\"cpus\": bad CPU list \"0, 1\"");
	expect_refused(NULL, "cpus = \"1024\";\n", 1, "\"cpus\": bad CPU list \"1024\"");
	expect_refused(NULL, "cpus = 1;\n", 1, "\"cpus\" must be a string");
	expect_refused(NULL, "cpus = \"\";\n", 1, "\"cpus\" must not be empty");
}

/* The mask nlb checks against is the one it was started with. */
T_TEST(affinity, taskset_refuses_cpus_outside, .timeout = 30)
{
	need_taskset();
	need_cpus((const int[]){ 0, 1 }, 2);
	expect_refused("1", "cpus = \"0-1\";\n", 1,
		       "\"cpus\": CPU 0 is not one nlb may run on (allowed: 1)");
}

/* Connections made from this thread pinned to cpu: n round trips. */
static void connect_from_cpu(struct px *p, int cpu, int n)
{
	cpu_set_t set, was;
	T_ASSERT(sched_getaffinity(0, sizeof(was), &was) == 0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	T_ASSERT(sched_setaffinity(0, sizeof(set), &set) == 0, ": %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		int fd = px_connect(p);
		px_round_trip_ok(p, fd, "steered by CPU");
		t_close(fd);
	}
	T_ASSERT(sched_setaffinity(0, sizeof(was), &was) == 0);
}

static int64_t accepted_by(struct px *p, uint16_t stats, int worker)
{
	char *body = px_scrape(p, stats), series[64];
	snprintf(series, sizeof(series), "nlb_worker_accepted_total{worker=\"%d\"}", worker);
	double v = px_metric(body, series);
	free(body);
	return (int64_t)v;
}

/* steering = "cpu", two workers on CPUs 0 and 1: every connection made
 * from CPU 0 (on loopback the SYN is taken on the client's CPU) is
 * worker 0's, every one from CPU 1 worker 1's.  By the hash, 8 of 8 on
 * one worker would happen once in 128. */
T_TEST(affinity, steering_cpu_gives_each_cpu_its_worker, .timeout = 30)
{
	need_cpus((const int[]){ 0, 1 }, 2);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t stats = t_free_port();
	char top[128];
	snprintf(top, sizeof(top), "cpus = \"0-1\"; stats = { listen = \"127.0.0.1:%u\"; };", stats);
	struct px p;
	px_init(&p, "auto");
	p.conf.workers = 2;
	p.conf.top_extra = top;
	p.conf.listener_extra = "steering = \"cpu\";";
	px_target(&p, t_server_port(echo));
	px_start(&p);
	connect_from_cpu(&p, 0, 8);
	int64_t w0 = accepted_by(&p, stats, 0), w1 = accepted_by(&p, stats, 1);
	px_assert(&p, w0 == 8 && w1 == 0, "from CPU 0: worker 0 accepted %lld, worker 1 %lld",
		  (long long)w0, (long long)w1);
	connect_from_cpu(&p, 1, 8);
	w0 = accepted_by(&p, stats, 0);
	w1 = accepted_by(&p, stats, 1);
	px_assert(&p, w0 == 8 && w1 == 8, "then from CPU 1: worker 0 accepted %lld, worker 1 %lld",
		  (long long)w0, (long long)w1);
	px_assert(&p, !t_nlb_log_contains(p.nlb, "classic BPF"), "steered by classic BPF at start");
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}
