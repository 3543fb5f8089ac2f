/* max_memory_mb (memory_budget.h).  The measure is nlb's resident set
 * (/proc/self/statm): what a memory cgroup charges for the process's own
 * pages, the workers' buffers, OpenSSL's state and the allocator's
 * caches included.  The kernel's socket buffers are not in it; the
 * operator leaves room for them in the cgroup (doc/hardening.md). */
#include "control/memory_budget.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

/* jemalloc's, when nlb is linked with it (not in the sanitizer builds):
 * freed pages go back to the kernel only after a decay of seconds, and
 * over the budget they must count as free at once. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
	__attribute__((weak));
/* The sanitizers' allocator, in those builds. */
extern void __sanitizer_purge_allocator(void) __attribute__((weak));

#define SAMPLE_MS 100u
#define SAMPLE_NEAR_MS 10u	/* from 80% of the budget */

int memory_budget_open(struct memory_budget *mb)
{
	mb->over = false;
	long page = sysconf(_SC_PAGESIZE);
	mb->page_bytes = page > 0 ? (uint64_t)page : 4096u;
	mb->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	return mb->statm_fd < 0 ? -errno : 0;
}

static int resident_bytes(const struct memory_budget *mb, uint64_t *out)
{
	char buf[128];
	ssize_t n = pread(mb->statm_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	unsigned long long size, resident;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return -EIO;
	*out = resident * mb->page_bytes;
	return 0;
}

static void purge_allocator(void)
{
	if (mallctl)	/* MALLCTL_ARENAS_ALL is 4096 */
		mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	else if (__sanitizer_purge_allocator)
		__sanitizer_purge_allocator();
	else
		malloc_trim(0);
}

unsigned memory_budget_tick(struct memory_budget *mb, struct nlb_runtime *rt)
{
	uint64_t rss;
	if (mb->statm_fd < 0 || resident_bytes(mb, &rss) < 0)
		return SAMPLE_MS;
	uint64_t budget = (uint64_t)rt->cfg->max_memory_mb << 20;
	if (budget && rss >= budget / 100 * 80 && !mb->over) {
		/* Near the budget, what is freed must show before judging. */
		purge_allocator();
		resident_bytes(mb, &rss);
	}
	atomic_store_explicit(&rt->resident_bytes, rss, memory_order_relaxed);
	bool over = budget && (mb->over ? rss >= budget / 100 * 95 : rss >= budget);
	if (over != mb->over) {
		mb->over = over;
		atomic_store_explicit(&rt->memory_over, over, memory_order_relaxed);
		if (over)
			nlb_warn("memory: resident %" PRIu64 " MiB, max_memory_mb = %u: refusing new "
				 "connections and flows", rss >> 20, rt->cfg->max_memory_mb);
		else
			nlb_info("memory: resident %" PRIu64 " MiB, under 95%% of max_memory_mb = %u: "
				 "taking new connections and flows again", rss >> 20,
				 rt->cfg->max_memory_mb);
	}
	if (over)
		purge_allocator();
	return budget && rss >= budget / 100 * 80 ? SAMPLE_NEAR_MS : SAMPLE_MS;
}

void memory_budget_close(struct memory_budget *mb)
{
	if (mb->statm_fd >= 0)
		close(mb->statm_fd);
	mb->statm_fd = -1;
}
