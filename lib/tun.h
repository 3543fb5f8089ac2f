/* The TUN device of a gateway: one queue per worker (IFF_MULTI_QUEUE),
 * IP packets without a header (IFF_NO_PI).  A device that exists (made
 * persistent by the operator, owned by nlb's user) is attached to with no
 * capability; one that does not is created, which needs CAP_NET_ADMIN,
 * and is then brought up with NLB_TUN_MTU. */
#ifndef NLB_TUN_H
#define NLB_TUN_H

#include <stdbool.h>
#include <stddef.h>

/* The gateway's inner MTU: an appliance takes 8,500 + 68 bytes. */
#define NLB_TUN_MTU 8500

/* Opens n queues of TUN device name into fds[0..n), non-blocking.
 * *created says whether nlb made the device.  0, or -errno with nothing
 * left open (-EPERM: it does not exist and nlb may not create it, or it
 * belongs to another user; -EINVAL: it exists without multi_queue). */
int nlb_tun_open(const char *name, size_t n, int *fds, bool *created);

#endif
