/* Process plumbing for nlb-bench: the main thread waits for signals (and
 * for threads that want its attention) with sigtimedwait; every other
 * thread has them blocked. */
#ifndef BENCH_SYS_H
#define BENCH_SYS_H

#include <signal.h>

/* Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread (threads created
 * afterwards inherit it), ignores SIGPIPE. */
void bench_sys_block_signals(sigset_t *old);

/* Waits for one of those signals up to timeout_ms (-1: forever); returns
 * its number, or 0 on timeout. */
int bench_sys_wait_signal(int timeout_ms);

/* Any thread: wakes the main thread's bench_sys_wait_signal (SIGUSR1). */
void bench_sys_wake_main(void);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft
 * limit. */
unsigned long bench_sys_raise_nofile(void);

#endif
