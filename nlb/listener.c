/* Listening sockets: one SO_REUSEPORT socket per listener per worker, so
 * the kernel spreads new connections across workers with no shared
 * accept queue and no lock. */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunables.h"

static int open_one(const struct nlb_listener_conf *lc)
{
	int fd = socket(lc->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	/* [::]:80 means IPv6 only, as in NGINX: an operator who wants both
	 * families writes both listeners. */
	if (lc->addr.ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&lc->addr.ss, lc->addr.len) < 0 ||
	    listen(fd, NLB_LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:;
	int err = -errno;
	close(fd);
	return err;
}

int listeners_open(struct nlb_runtime *rt, char *err, size_t errlen)
{
	const struct nlb_config *cfg = rt->cfg;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		struct listener_rt *lr = &rt->listeners[l];
		lr->fds = malloc(rt->n_workers * sizeof(int));
		if (!lr->fds) {
			snprintf(err, errlen, "out of memory");
			listeners_close(rt);
			return -ENOMEM;
		}
		for (unsigned i = 0; i < rt->n_workers; i++)
			lr->fds[i] = -1;
		for (unsigned i = 0; i < rt->n_workers; i++) {
			int fd = open_one(lr->conf);
			if (fd < 0) {
				snprintf(err, errlen, "%s:%d: listener \"%s\": cannot listen on %s: %s",
					 cfg->path, lr->conf->line, lr->conf->name,
					 lr->conf->addr_text, strerror(-fd));
				listeners_close(rt);
				return fd;
			}
			lr->fds[i] = fd;
		}
	}
	return 0;
}

void listeners_close(struct nlb_runtime *rt)
{
	for (size_t l = 0; l < rt->cfg->n_listeners; l++) {
		struct listener_rt *lr = &rt->listeners[l];
		if (!lr->fds)
			continue;
		for (unsigned i = 0; i < rt->n_workers; i++) {
			if (lr->fds[i] >= 0)
				close(lr->fds[i]);
		}
		free(lr->fds);
		lr->fds = NULL;
	}
}
