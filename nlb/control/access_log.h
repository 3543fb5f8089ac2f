/* The access log: workers format a line per HTTP request into a ring of
 * their own (never waiting: a full ring drops the line, counted), and a
 * thread of this module writes the rings out to access_log's path,
 * reopening it on SIGHUP, "nlbctl reopen" and a changed path (logrotate). */
#ifndef NLB_CONTROL_ACCESS_LOG_H
#define NLB_CONTROL_ACCESS_LOG_H

#include <stddef.h>

#include "control/control_thread.h"
#include "core/runtime.h"

struct access_log {
	struct control_thread thread;
	struct nlb_runtime *rt;
	int fd;				/* the file, or -1 */
	char *path;			/* its path, as opened */
	uint32_t reopen_seen;
	char *buf;
};

/* Before the workers start, as the user nlb runs as: the workers' rings,
 * and the file when the configuration names one.  0, or -errno with err
 * written (the file cannot be opened: nlb does not start). */
int access_log_init(struct access_log *a, struct nlb_runtime *rt, char *err, size_t errlen);
/* The writer thread.  0 or -errno. */
int access_log_start(struct access_log *a);
/* After the workers have stopped: the last lines out, the file closed,
 * the rings freed. */
void access_log_stop(struct access_log *a);

#endif
