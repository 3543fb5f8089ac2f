/* Configuration reload (SIGHUP, the admin socket): re-reads the file,
 * keeps running on the old configuration when it is invalid, and
 * otherwise applies it as a difference: listeners and target groups
 * added, removed (what they hold drains) and changed in place. */
#ifndef NLB_RELOAD_H
#define NLB_RELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/runtime.h"

/* now_ms (CLOCK_MONOTONIC) starts the drain of removed targets.
 * Returns 0 when the file was valid and applied (the few changes that
 * need a restart are logged as such and not applied), or a negative errno with
 * the reason logged.  Either way the outcome, as logged (the summary, or
 * the FILE:LINE error), goes into msg.  Callable from any thread: reloads
 * run one at a time (rt->reload_lock), so each applies the file as it
 * read it, in the order they were asked for. */
int reload_config(struct nlb_runtime *rt, const char *path, uint64_t now_ms,
		  char *msg, size_t msglen);

#endif
