/* Time for tests in milliseconds (see time_ms.h). */
#include "time_ms.h"

#include <errno.h>
#include <time.h>

#include "clock.h"

int64_t t_now_ms(void)
{
	return (int64_t)nlb_clock_ms();
}

void t_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int t_left_ms(int64_t deadline)
{
	int64_t l = deadline - t_now_ms();
	return l < 0 ? 0 : (int)l;
}
