/* Privileges: the check made before anything is bound (root needs "user"
 * or allow_root; user and group must exist and be reachable) and the drop
 * to that user once every socket is bound, verified, keeping no capability
 * (CAP_NET_ADMIN alone with announce). */
#ifndef NLB_PRIVILEGES_H
#define NLB_PRIVILEGES_H

#include <sys/types.h>

#include "config.h"

/* Before any socket is bound: refuses root with no "user" unless
 * allow_root, a user or group that does not exist, and (not root) a user or
 * group other than the current one.  Logs the reason; 0 or -errno. */
int privileges_check(const struct nlb_config *cfg);

/* After every socket nlb needs privileges for is bound and before any
 * thread or ring exists (an io_uring's kernel io-wq threads copy the
 * credentials they were created with; glibc's setuid does not reach
 * them).  With "user" set: supplementary groups
 * (initgroups), gid, uid, all three of real, effective and saved; then
 * checks that they changed, that setuid(0) fails and that no capability is
 * left but CAP_NET_ADMIN when announce = { } is configured (its routes).
 * As that user already: only drops capabilities.  Logs the outcome;
 * 0 or -errno (nlb must then exit: it may be half-dropped). */
int privileges_drop(const struct nlb_config *cfg);
/* The group nlb runs as once dropped ("group", or the user's primary
 * one): 0 and *gid, -ENOENT without "user", or another -errno. */
int privileges_group(const struct nlb_config *cfg, gid_t *gid);

#endif
