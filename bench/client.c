/* nlb-bench client modes: starts the load threads, waits for them (printing
 * a progress line each second when stdout is a terminal, or with
 * --interval each interval's figures), merges their results and prints the
 * report.  SIGINT/SIGTERM end the run early with a
 * report of what was done. */
#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "load.h"
#include "report.h"
#include "sys.h"

static void progress(const struct load_worker *ws, unsigned n, uint64_t start,
		     uint64_t now, uint64_t *last_resp)
{
	uint64_t req = 0, resp = 0, err = 0;
	for (unsigned i = 0; i < n; i++) {
		req += atomic_load_explicit(&ws[i].p_requests, memory_order_relaxed);
		resp += atomic_load_explicit(&ws[i].p_responses, memory_order_relaxed);
		err += atomic_load_explicit(&ws[i].p_errors, memory_order_relaxed);
	}
	printf("%6.1fs  requests %" PRIu64 "  answered %" PRIu64 "  errors %" PRIu64
	       "  %" PRIu64 "/s\n", (double)(now - start) / 1e9, req, resp, err,
	       resp - *last_resp);
	fflush(stdout);
	*last_resp = resp;
}

/* --interval: what the last line counted up to. */
struct interval_state {
	unsigned n;
	uint64_t last_ns;
	struct load_stats last;		/* the threads' totals then */
	struct nlb_hist *hist;		/* scratch: the interval's latencies */
	struct nlb_hist *shist;		/* and from each request's real start */
};

/* Prints the line of the interval ending now: each thread's totals and
 * latencies since the last line, taken under its lock.  The last one
 * (final) is left out when nothing happened in it (the deadline fell on an
 * interval's end). */
static void take_interval(const struct bench_opts *o, struct load_run *run,
			  struct load_worker *ws, unsigned n, struct interval_state *is,
			  uint64_t now, int final)
{
	struct load_stats cur, d;
	memset(&cur, 0, sizeof(cur));
	nlb_hist_reset(is->hist);
	nlb_hist_reset(is->shist);
	for (unsigned i = 0; i < n; i++) {
		struct load_worker *w = &ws[i];
		pthread_mutex_lock(&w->ilock);
		cur.responses += w->st.responses;
		for (int k = 0; k < LOAD_ERR_KINDS; k++)
			cur.errors[k] += w->st.errors[k];
		cur.corrupt_bytes += w->st.corrupt_bytes;
		cur.late += w->st.late;
		if (w->ihist) {
			nlb_hist_merge(is->hist, w->ihist);
			nlb_hist_reset(w->ihist);
			nlb_hist_merge(is->shist, w->shist);
			nlb_hist_reset(w->shist);
		}
		pthread_mutex_unlock(&w->ilock);
	}
	memset(&d, 0, sizeof(d));
	d.responses = cur.responses - is->last.responses;
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		d.errors[k] = cur.errors[k] - is->last.errors[k];
	d.corrupt_bytes = cur.corrupt_bytes - is->last.corrupt_bytes;
	d.late = cur.late - is->last.late;
	uint64_t happened = d.responses + d.corrupt_bytes + d.late + nlb_hist_count(is->hist);
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		happened += d.errors[k];
	if (final && happened == 0)
		return;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	is->n++;
	bench_report_interval(stdout, o, is->n, (double)(now - run->start_ns) / 1e9,
			      (double)wall.tv_sec + (double)wall.tv_nsec / 1e9,
			      (double)(now - is->last_ns) / 1e9, &d, is->hist, is->shist);
	fflush(stdout);
	is->last = cur;
	is->last_ns = now;
}

static void stop_all(struct load_run *run, int *stopped)
{
	if (*stopped)
		return;
	uint64_t one = 1;
	if (write(run->stop_fd, &one, sizeof(one)) != sizeof(one))
		perror("nlb-bench: eventfd write");
	*stopped = 1;
}

/* Waits for the threads, printing progress; returns once all are done. */
static void wait_threads(const struct bench_opts *o, struct load_run *run,
			 struct load_worker *ws, unsigned started, struct interval_state *is)
{
	int tty = !o->json && !is && isatty(STDOUT_FILENO);
	uint64_t next_progress = run->start_ns + CLIENT_PROGRESS_NS;
	uint64_t step = is ? (uint64_t)(o->interval_s * 1e9) : 0;
	uint64_t next_interval = run->start_ns + step;
	if (is)
		is->last_ns = run->start_ns;
	uint64_t guard = o->duration_s > 0 ?
		run->start_ns + (uint64_t)(o->duration_s * 1e9) + CLIENT_GUARD_NS : 0;
	uint64_t last_resp = 0;
	int stopped = 0;

	while (atomic_load(&run->done) < started) {
		uint64_t now = nlb_clock_ns();
		uint64_t wake = UINT64_MAX;
		if (tty)
			wake = next_progress;
		if (is && next_interval < wake)
			wake = next_interval;
		if (guard && !stopped && guard < wake)
			wake = guard;
		int ms = -1;
		if (wake != UINT64_MAX)
			ms = wake > now ? (int)((wake - now) / 1000000u) + 1 : 0;
		int sig = bench_sys_wait_signal(ms);
		if (sig == SIGINT || sig == SIGTERM)
			stop_all(run, &stopped);
		now = nlb_clock_ns();
		if (guard && now >= guard)
			stop_all(run, &stopped);
		if (tty && now >= next_progress && atomic_load(&run->done) < started) {
			progress(ws, started, run->start_ns, now, &last_resp);
			while (next_progress <= now)
				next_progress += CLIENT_PROGRESS_NS;
		}
		if (is && now >= next_interval && atomic_load(&run->done) < started) {
			take_interval(o, run, ws, started, is, now, 0);
			while (next_interval <= now)
				next_interval += step;
		}
	}
	/* The rest of the run, so that the lines add up to the totals. */
	if (is)
		take_interval(o, run, ws, started, is, nlb_clock_ns(), 1);
}

static int report(const struct bench_opts *o, struct load_run *run,
		  struct load_worker *ws, unsigned n)
{
	struct bench_result r = {
		.o = o,
		.threads = n,
		.conns = o->conns,
	};
	struct nlb_hist *hist = nlb_hist_new();
	if (!hist)
		return -ENOMEM;
	uint64_t end = run->start_ns;
	for (unsigned i = 0; i < n; i++) {
		const struct load_stats *s = &ws[i].st;
		r.st.requests += s->requests;
		r.st.responses += s->responses;
		r.st.in_flight += s->in_flight;
		for (int k = 0; k < LOAD_ERR_KINDS; k++)
			r.st.errors[k] += s->errors[k];
		r.st.bytes_out += s->bytes_out;
		r.st.bytes_in += s->bytes_in;
		r.st.dgrams_out += s->dgrams_out;
		r.st.dgrams_in += s->dgrams_in;
		r.st.corrupt_bytes += s->corrupt_bytes;
		r.st.late += s->late;
		if (s->end_ns > end)
			end = s->end_ns;
		if (ws[i].hist)
			nlb_hist_merge(hist, ws[i].hist);
	}
	r.duration_s = (double)(end - run->start_ns) / 1e9;
	r.hist = hist;
	if (o->json)
		bench_report_json(stdout, &r);
	else
		bench_report_text(stdout, &r);
	fflush(stdout);
	nlb_hist_free(hist);
	return 0;
}

int bench_client(const struct bench_opts *o)
{
	unsigned nt = o->threads;
	struct load_worker *ws = calloc(nt, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	struct interval_state is;
	memset(&is, 0, sizeof(is));
	if (o->interval_s > 0 && (!(is.hist = nlb_hist_new()) || !(is.shist = nlb_hist_new()))) {
		nlb_hist_free(is.hist);
		free(ws);
		return -ENOMEM;
	}
	struct load_run run;
	memset(&run, 0, sizeof(run));
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.cond, NULL);
	run.total_conns = o->conns;
	run.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (run.stop_fd < 0) {
		nlb_hist_free(is.hist);
		nlb_hist_free(is.shist);
		free(ws);
		return -errno;
	}

	/* Connections and the -n count are split as evenly as they go. */
	uint32_t first = 0;
	for (unsigned i = 0; i < nt; i++) {
		struct load_worker *w = &ws[i];
		pthread_mutex_init(&w->ilock, NULL);
		w->o = o;
		w->mode = o->mode == BENCH_UDP_RR ? &load_mode_udp :
			o->mode == BENCH_UDP_STREAM ? &load_mode_udp_stream : &load_mode_tcp;
		w->run = &run;
		w->id = i;
		w->nconns = o->conns / nt + (i < o->conns % nt);
		w->first_conn = first;
		first += w->nconns;
		w->quota = o->count ? o->count / nt + (i < o->count % nt) : UINT64_MAX;
	}

	sigset_t old;
	bench_sys_block_signals(&old);
	int ret = 0;
	unsigned started = 0;
	for (; started < nt; started++) {
		ret = -pthread_create(&ws[started].tid, NULL, load_worker_main, &ws[started]);
		if (ret < 0) {
			fprintf(stderr, "nlb-bench: pthread_create: %s\n", strerror(-ret));
			break;
		}
	}

	pthread_mutex_lock(&run.lock);
	while (run.ready < started)
		pthread_cond_wait(&run.cond, &run.lock);
	int failed = started < nt;
	for (unsigned i = 0; i < started; i++)
		failed |= ws[i].err != 0;
	run.abort = failed;
	run.start_ns = nlb_clock_ns();
	run.go = 1;
	pthread_cond_broadcast(&run.cond);
	pthread_mutex_unlock(&run.lock);

	wait_threads(o, &run, ws, started, is.hist ? &is : NULL);
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (failed) {
		ret = ret ? ret : -EIO;
		for (unsigned i = 0; i < started; i++)
			if (ws[i].err)
				ret = ws[i].err;
	} else {
		ret = report(o, &run, ws, started);
		for (unsigned i = 0; i < started && ret == 0; i++)
			if (ws[i].err)
				ret = ws[i].err;
	}
	for (unsigned i = 0; i < nt; i++) {
		nlb_hist_free(ws[i].hist);
		nlb_hist_free(ws[i].ihist);
		nlb_hist_free(ws[i].shist);
		pthread_mutex_destroy(&ws[i].ilock);
	}
	nlb_hist_free(is.hist);
	nlb_hist_free(is.shist);
	close(run.stop_fd);
	pthread_cond_destroy(&run.cond);
	pthread_mutex_destroy(&run.lock);
	free(ws);
	return ret;
}
