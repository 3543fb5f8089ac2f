/* libFuzzer target for nlb_config_load.  The loader takes a path, so each
 * input is written to one memfd made per process and loaded through
 * /proc/self/fd/N; ASan and LeakSanitizer check memory every iteration,
 * and this file checks descriptors and the loader's contract (config on
 * success only, one "FILE..." error line on failure; a health check's
 * path is one the probe can send, in the room it has for it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "health_check.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_config: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static int fd = -1;
static char path[64];
/* The lowest free descriptor: it moves when the load leaks one.  Taken
 * around each load, not once: libFuzzer opens files between runs. */
static int lowest_free_fd(void)
{
	int probe = dup(fd);
	CHECK(probe >= 0);
	close(probe);
	return probe;
}

/* libconfig's @include reads another file (any path, even a device that
 * never ends); that is libconfig's code, not the loader's, and only
 * makes runs slow or hang.  Inputs naming it are skipped. */
static int has_include(const uint8_t *data, size_t size)
{
	static const char word[] = "@include";
	size_t n = sizeof(word) - 1;

	for (size_t i = 0; i + n <= size; i++) {
		size_t j = 0;
		while (j < n && (data[i + j] | 0x20) == (word[j] | 0x20))
			j++;
		if (j == n)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (has_include(data, size))
		return 0;
	if (fd < 0) {
		fd = memfd_create("nlb-fuzz-config", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	for (size_t done = 0; done < size; ) {
		ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
		CHECK(w > 0);
		done += (size_t)w;
	}

	struct nlb_config *cfg = (struct nlb_config *)&cfg;	/* must be reset */
	char err[512];
	int free_fd = lowest_free_fd();
	int r = nlb_config_load(path, &cfg, err, sizeof(err));
	if (r == 0) {
		CHECK(cfg != NULL);
		CHECK(cfg->workers >= 1 && cfg->workers <= NLB_CONFIG_MAX_WORKERS);
		for (size_t i = 0; i < cfg->n_listeners; i++)
			CHECK(cfg->listeners[i].group < cfg->n_groups);
		/* The longest Host a probe sends: a target's address text. */
		static const char host[] = "[fe80::1234:5678:9abc:def0%enp0s31f6]:65535";
		static char req[NLB_HC_REQUEST_ROOM(sizeof(host) - 1)];
		for (size_t i = 0; i < cfg->n_groups; i++)
			if (cfg->groups[i].health.enabled)
				CHECK(nlb_hc_http_request(req, sizeof(req), cfg->groups[i].health.path,
							  host) > 0);
		nlb_config_free(cfg);
	} else {
		CHECK(r == -EINVAL || r == -ENOMEM);
		CHECK(cfg == NULL);
		/* One line, naming the file first. */
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(err[strlen(path)] == ':');
		CHECK(strchr(err, '\n') == NULL);
	}
	CHECK(lowest_free_fd() == free_fd);
	return 0;
}
