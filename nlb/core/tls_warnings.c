/* TLS settings worth a warning (core/tls_warnings.h). */
#include "core/tls_warnings.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned check_file(const struct nlb_config *cfg, int line, const char *what,
			   const char *path, void (*warn)(const char *, void *), void *arg)
{
	if (!path || access(path, R_OK) == 0)
		return 0;
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s:%d: %s %s cannot be read as the user nlb runs as (%s): "
		 "a reload will fail until it can (see nlb.conf(5), TLS)", cfg->path, line, what,
		 path, strerror(errno));
	warn(msg, arg);
	return 1;
}

unsigned tls_warnings(const struct nlb_config *cfg, bool check_access,
		      void (*warn)(const char *line, void *arg), void *arg)
{
	unsigned n = 0;
	char msg[512];
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct nlb_group_conf *gc = &cfg->groups[g];
		if (!gc->tls.enabled || gc->removed)
			continue;
		if (!gc->tls.ca) {
			snprintf(msg, sizeof(msg), "%s:%d: target group %s: tls without \"ca\": "
				 "traffic to its targets is encrypted but not verified", cfg->path,
				 gc->tls.line, gc->name);
			warn(msg, arg);
			n++;
		}
		if (check_access)
			n += check_file(cfg, gc->tls.line, "CA file", gc->tls.ca, warn, arg);
	}
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_tls_listener_conf *tc = &cfg->listeners[l].tls;
		if (tc->ticket_keys && tc->session_tickets == 0) {
			snprintf(msg, sizeof(msg), "%s:%d: listener %s: ticket_keys with "
				 "session_tickets = 0: no session resumes, the keys are "
				 "unused", cfg->path, tc->line, cfg->listeners[l].name);
			warn(msg, arg);
			n++;
		}
		if (!check_access)
			continue;
		for (size_t i = 0; i < tc->n_certs; i++) {
			n += check_file(cfg, tc->certs[i].line, "certificate", tc->certs[i].cert,
					warn, arg);
			n += check_file(cfg, tc->certs[i].line, "key", tc->certs[i].key, warn, arg);
		}
		n += check_file(cfg, tc->line, "ticket key file", tc->ticket_keys, warn, arg);
	}
	return n;
}
