/* An nlb runtime without workers: the configuration, target slots and
 * published tables, built as nlb's main builds them, for tests of the
 * code that reads them (target sets, picking).  Not in helpers.h: the
 * tests that need it include it, with nlb's headers. */
#ifndef NLB_TEST_NLB_RUNTIME_H
#define NLB_TEST_NLB_RUNTIME_H

#include "core/runtime.h"

/* Loads text (as t_write_config writes it) and builds rt for n_workers
 * workers with targets_init; the test fails if either fails. */
void t_runtime_start(struct nlb_runtime *rt, unsigned n_workers, const char *text);
void t_runtime_stop(struct nlb_runtime *rt);

#endif
