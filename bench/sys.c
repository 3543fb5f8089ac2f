/* Signals and limits for nlb-bench. */
#include "sys.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void wait_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR1);
}

/* SIGUSR1 only wakes the main thread; one left pending when the mask is
 * restored must not kill the process (an ignored signal would be dropped
 * at generation, so it gets a handler that does nothing instead). */
static void on_wake(int sig)
{
	(void)sig;
}

void bench_sys_block_signals(sigset_t *old)
{
	sigset_t set;
	wait_set(&set);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

int bench_sys_wait_signal(int timeout_ms)
{
	sigset_t set;
	wait_set(&set);
	for (;;) {
		int sig;
		if (timeout_ms < 0) {
			sig = sigwaitinfo(&set, NULL);
		} else {
			struct timespec ts = {
				.tv_sec = timeout_ms / 1000,
				.tv_nsec = (long)(timeout_ms % 1000) * 1000000L,
			};
			sig = sigtimedwait(&set, NULL, &ts);
		}
		if (sig > 0)
			return sig;
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return 0;
	}
}

void bench_sys_wake_main(void)
{
	kill(getpid(), SIGUSR1);
}

unsigned long bench_sys_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return (unsigned long)rl.rlim_cur;
}
