/* Starting, naming and stopping a control-plane thread (control_thread.h). */
#include "control/control_thread.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void *control_thread_run(void *arg)
{
	struct control_thread *t = arg;
	pthread_setname_np(pthread_self(), t->name);
	t->main(t->arg);
	control_thread_sleeping(t);	/* for good: it reads nothing more */
	return NULL;
}

int control_thread_start(struct control_thread *t, const char *name, struct nlb_runtime *rt,
			 unsigned which, control_thread_fn *main, void *arg)
{
	*t = (struct control_thread){ .rt = rt, .reader = NLB_QSBR_READER(rt, which),
				      .main = main, .arg = arg };
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_fd < 0)
		return -errno;
	int ret = pthread_create(&t->id, NULL, control_thread_run, t);
	if (ret != 0) {
		close(t->stop_fd);
		t->stop_fd = -1;
		return -ret;
	}
	t->running = true;
	return 0;
}

void control_thread_stop(struct control_thread *t)
{
	if (!t->running)
		return;
	uint64_t one = 1;
	ssize_t w = write(t->stop_fd, &one, sizeof(one));
	(void)w;	/* an eventfd write of 1 fails only on overflow */
	pthread_join(t->id, NULL);
	close(t->stop_fd);
	t->stop_fd = -1;
	t->running = false;
}
