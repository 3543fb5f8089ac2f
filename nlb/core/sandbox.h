/* seccomp = true: what nlb may do once every thread has started.  The
 * system calls its threads make from then on (the seccomp filter's
 * allow-list) and the io_uring operations and registrations its workers'
 * rings use (their restrictions), with installing the filter.
 * doc/hardening.md ("Seccomp") says how the lists were found. */
#ifndef NLB_SANDBOX_H
#define NLB_SANDBOX_H

#include <stddef.h>

#include "config.h"
#include "ring.h"
#include "seccomp_filter.h"

/* What a worker's ring is restricted to when cfg->seccomp; NULL without. */
const struct nlb_ring_restrictions *sandbox_ring_restrictions(const struct nlb_config *cfg);

/* The filter's rules: the calls allowed (in the order the filter
 * compares them), those refused with EPERM, and the action for any other
 * (SECCOMP_RET_KILL_PROCESS). */
void sandbox_rules(struct nlb_seccomp_rules *r);

/* With cfg->seccomp: no_new_privs, then the filter on every thread
 * (TSYNC).  Called by the main thread once every thread has started:
 * those started later inherit it.  Logs the outcome; 0 or -errno (nlb
 * must then stop: the operator asked for the filter). */
int sandbox_install(const struct nlb_config *cfg);

#endif
