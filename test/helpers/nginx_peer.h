/* NGINX as a test's peer: one process in the foreground (no master, one
 * worker), its configuration, logs and temp paths in a directory of its
 * own, serving the http { } server blocks the test gives. */
#ifndef NLB_TEST_NGINX_PEER_H
#define NLB_TEST_NGINX_PEER_H

#include <stdint.h>

struct t_nginx {
	char dir[64];
	struct t_nlb *proc;
};

/* Starts NGINX with servers (the text inside http { }) and waits until
 * it listens on 127.0.0.1:wait_port.  0, or -errno (its log printed). */
int t_nginx_start(struct t_nginx *n, const char *servers, uint16_t wait_port);
/* Stops it and removes its directory. */
void t_nginx_free(struct t_nginx *n);

#endif
