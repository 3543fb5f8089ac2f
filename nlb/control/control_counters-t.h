/* The control threads' own counters, kept in their structs (struct
 * health, struct admin) and read by stats_visit (control/stats.h), which
 * so needs neither thread's header.  Each is written by its thread only
 * and read with relaxed loads. */
#ifndef NLB_CONTROL_COUNTERS_T_H
#define NLB_CONTROL_COUNTERS_T_H

#include <stdatomic.h>
#include <stdint.h>

struct health_counters {
	_Atomic uint64_t probes_done;	/* probes finished, pass or fail */
	_Atomic uint64_t changes;	/* target state changes, probes and passive */
};

struct admin_counters {
	_Atomic uint64_t commands;	/* command lines answered */
	_Atomic uint64_t errors;	/* ... with an error (bad input counts) */
};

#endif
