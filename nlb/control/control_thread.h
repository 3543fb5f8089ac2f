/* A control-plane thread (health, metrics, admin): started named, told
 * to stop through an eventfd its loop waits on, joined; and its part in
 * QSBR (runtime.h): offline while it waits, quiescent when it wakes, so
 * a thread asleep never holds a reload's reclamation back. */
#ifndef NLB_CONTROL_THREAD_H
#define NLB_CONTROL_THREAD_H

#include <pthread.h>
#include <stdbool.h>

#include "core/runtime.h"

typedef void control_thread_fn(void *arg);

/* A zeroed struct is a thread that does not run: stopping it is a no-op. */
struct control_thread {
	char name[16];			/* "nlb-health": top -H, perf, /proc */
	struct nlb_runtime *rt;
	unsigned reader;		/* QSBR reader, NLB_QSBR_READER(rt, which) */
	int stop_fd;			/* eventfd, readable once stop is asked */
	control_thread_fn *main;
	void *arg;
	pthread_t id;
	bool running;
};

/* Starts main(arg) on a thread named name that reads configurations as
 * QSBR reader which (NLB_QSBR_HEALTH, ...).  main returns once stop_fd
 * is readable; the thread then goes offline for good.  0 or -errno
 * (nothing left open). */
int control_thread_start(struct control_thread *t, const char *name, struct nlb_runtime *rt,
			 unsigned which, control_thread_fn *main, void *arg);

/* Asks the thread to stop, joins it and closes stop_fd; a no-op for a
 * thread that does not run. */
void control_thread_stop(struct control_thread *t);

/* About to wait (poll, epoll_wait): holds nothing from a configuration. */
static inline void control_thread_sleeping(struct control_thread *t)
{
	nlb_qsbr_offline(&t->rt->qsbr, t->reader);
}

/* Awake: holds nothing from before, reads configurations until the next
 * sleep (or the next call). */
static inline void control_thread_awake(struct control_thread *t)
{
	nlb_qsbr_quiescent(&t->rt->qsbr, t->reader);
}

#endif
