/* The admin socket: a Unix stream socket (admin { socket; mode; }) that
 * its own thread serves, one command per line (nlbctl, or any client):
 * show targets, listeners and counters; add, reweight, drain and remove
 * targets; reload.  Changes go through target_set under rt->ctl_lock. */
#ifndef NLB_ADMIN_H
#define NLB_ADMIN_H

#include <stddef.h>
#include <sys/types.h>

#include "control/control_counters-t.h"
#include "control/control_thread.h"
#include "control/poll_server.h"
#include "core/runtime.h"

struct health;
struct worker;

struct admin {
	struct nlb_runtime *rt;
	const struct worker *workers;	/* show stats reads their counters */
	unsigned n_workers;
	const struct health_counters *health;	/* show stats reads them */
	const char *path;		/* cfg->admin_socket; NULL: no socket */
	dev_t dev;			/* of the socket file we made: removed at */
	ino_t ino;			/* exit only if it is still ours */
	int lfd;
	struct control_thread thread;	/* "nlb-admin" */
	struct poll_server server;	/* NLB_ADMIN_CLIENTS connections */
	struct admin_counters counters;
};

/* Creates and listens on the socket cfg->admin_socket, if there is one:
 * its directory is created if missing (0755), a stale socket file is
 * replaced (not another kind of file, nor a socket something still
 * listens on), and the mode is exactly admin_mode whatever the umask.
 * Call before privileges are dropped (the directory is root's).  0, or
 * -errno with the reason in err (nothing left open). */
int admin_open(struct admin *a, struct nlb_runtime *rt, char *err, size_t errlen);

/* Starts the thread once the workers (whose counters it reports) and the
 * health thread run.  0 or -errno; nothing to do without a socket. */
int admin_start(struct admin *a, const struct worker *workers, unsigned n_workers,
		const struct health *h);

/* Stops the thread, closes every connection and removes the socket file
 * (if it is still the one admin_open made).  After admin_open only. */
void admin_stop(struct admin *a);

#endif
