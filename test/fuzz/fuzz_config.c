/* libFuzzer target for nlb_config_parse, the loader after its one read
 * of the file: each input is copied into a buffer of its own size plus
 * the '\0' libconfig needs, so ASan catches a read past it.  ASan and
 * LeakSanitizer check memory every iteration, and this file checks the
 * parser's contract: a config on success only, one "FILE..." error line
 * on failure, no descriptor opened (an @include is refused before
 * libconfig could open what it names), and a health check's path one the
 * probe can send, in the room it has for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Named in errors only: the parser never opens it. */
static const char path[] = "fuzz.conf";

/* The lowest free descriptor: it moves when the parser leaks one.  Taken
 * around each parse, not once: libFuzzer opens files between runs. */
static int lowest_free_fd(void)
{
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(probe >= 0);
	close(probe);
	return probe;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	CHECK(text != NULL);
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';

	struct nlb_config *cfg = (struct nlb_config *)&cfg;	/* must be reset */
	char err[512];
	int free_fd = lowest_free_fd();
	int r = nlb_config_parse(path, text, size, &cfg, err, sizeof(err));
	if (r == 0) {
		CHECK(cfg != NULL);
		CHECK(strcmp(cfg->path, path) == 0);
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
	free(text);
	return 0;
}
