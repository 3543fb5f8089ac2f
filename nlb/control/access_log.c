/* The access log's writer (access_log.h): every 100 ms, or sooner when
 * asked to stop, it moves what the workers' rings hold into the file with
 * plain write(2) calls.  A disk that stalls stalls this thread only: the
 * rings fill and the workers drop lines, counting them. */
#include "control/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spsc_ring.h"
#include "tunables.h"

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return fd < 0 ? -errno : fd;
}

/* The file as the configuration in force names it, opened again when
 * asked or when the path changed. */
static void follow_config(struct access_log *a)
{
	const char *want = a->rt->cfg->access_log_path;
	uint32_t reopen = atomic_load_explicit(&a->rt->access_log_reopen, memory_order_relaxed);
	bool same = want && a->path && strcmp(want, a->path) == 0;
	if (same && reopen == a->reopen_seen && a->fd >= 0)
		return;
	a->reopen_seen = reopen;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	free(a->path);
	a->path = NULL;
	if (!want)
		return;
	int fd = open_log(want);
	if (fd < 0) {
		nlb_warn_rl("access log: cannot open %s: %s; lines are dropped until a "
			    "reopen succeeds", want, strerror(-fd));
		return;
	}
	a->fd = fd;
	a->path = strdup(want);
}

/* Everything the rings hold, out. */
static void drain(struct access_log *a)
{
	for (unsigned w = 0; w < a->rt->n_workers; w++) {
		size_t n;
		while ((n = nlb_spsc_ring_pop(&a->rt->access_rings[w], a->buf,
					      NLB_ACCESS_LOG_CHUNK)) > 0) {
			for (size_t off = 0; a->fd >= 0 && off < n;) {
				ssize_t r = write(a->fd, a->buf + off, n - off);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0) {
					nlb_warn_rl("access log: write to %s: %s", a->path,
						    r < 0 ? strerror(errno) : "nothing written");
					break;
				}
				off += (size_t)r;
			}
		}
	}
}

static void access_log_main(void *arg)
{
	struct access_log *a = arg;
	struct pollfd stop = { a->thread.stop_fd, POLLIN, 0 };
	for (;;) {
		control_thread_awake(&a->thread);
		follow_config(a);
		drain(a);
		control_thread_sleeping(&a->thread);
		if (poll(&stop, 1, NLB_ACCESS_LOG_FLUSH_MS) > 0)
			break;
	}
}

int access_log_init(struct access_log *a, struct nlb_runtime *rt, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->rt = rt;
	a->fd = -1;
	a->buf = malloc(NLB_ACCESS_LOG_CHUNK);
	rt->access_rings = calloc(rt->n_workers, sizeof(*rt->access_rings));
	if (!a->buf || !rt->access_rings) {
		snprintf(err, errlen, "access log: out of memory");
		return -ENOMEM;
	}
	for (unsigned w = 0; w < rt->n_workers; w++)
		if (nlb_spsc_ring_init(&rt->access_rings[w], NLB_ACCESS_LOG_RING) < 0) {
			snprintf(err, errlen, "access log: out of memory");
			return -ENOMEM;
		}
	const struct nlb_config *cfg = rt->cfg;
	if (!cfg->access_log_path)
		return 0;
	int fd = open_log(cfg->access_log_path);
	if (fd < 0) {
		snprintf(err, errlen, "%s:%d: access_log: cannot open %s as the user nlb runs as: %s",
			 cfg->path, cfg->access_log_line, cfg->access_log_path, strerror(-fd));
		return fd;
	}
	a->fd = fd;
	a->path = strdup(cfg->access_log_path);
	return 0;
}

int access_log_start(struct access_log *a)
{
	a->reopen_seen = atomic_load_explicit(&a->rt->access_log_reopen, memory_order_relaxed);
	return control_thread_start(&a->thread, "nlb-accesslog", a->rt, NLB_QSBR_ACCESS_LOG,
				    access_log_main, a);
}

void access_log_stop(struct access_log *a)
{
	control_thread_stop(&a->thread);
	if (a->rt && a->rt->access_rings) {
		drain(a);
		for (unsigned w = 0; w < a->rt->n_workers; w++)
			nlb_spsc_ring_free(&a->rt->access_rings[w]);
		free(a->rt->access_rings);
		a->rt->access_rings = NULL;
	}
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	free(a->path);
	free(a->buf);
	a->path = a->buf = NULL;
}
