/* Time for tests, in milliseconds on CLOCK_MONOTONIC (lib/clock.h): now,
 * a sleep, and what is left of a deadline. */
#ifndef NLB_TEST_TIME_MS_H
#define NLB_TEST_TIME_MS_H

#include <stdint.h>

int64_t t_now_ms(void);
void t_sleep_ms(int ms);

/* Milliseconds left until deadline (a t_now_ms() value), never negative:
 * a poll(2) timeout. */
int t_left_ms(int64_t deadline);

#endif
