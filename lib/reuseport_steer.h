/* Steering datagrams within one SO_REUSEPORT group of UDP sockets by a
 * byte of their payload: the byte names the slot (0 .. n-1) of the
 * socket that gets the datagram, whatever other sockets join or leave
 * the group (another nlb's, during a binary upgrade).  Gateway mode
 * steers returned GENEVE packets to the worker their cookie names. */
#ifndef NLB_REUSEPORT_STEER_H
#define NLB_REUSEPORT_STEER_H

#include <stddef.h>

/* Steers the group of fds[0 .. n) (bound, SO_REUSEPORT, n <= 256) by
 * the payload byte at offset: an eBPF program (BPF_PROG_TYPE_SK_REUSEPORT)
 * choosing from a map of these n sockets by slot, so that the order of
 * the group does not matter and the newest program attached wins for
 * the whole group.  Where eBPF is refused (no CAP_BPF: a gateway added
 * by a reload once nlb runs as its user), a classic BPF program returns
 * the byte as the socket's index in the group, right only while these
 * sockets are the group, in order.  Returns 1 (eBPF), 0 (classic) or
 * -errno.  A datagram too short, or whose byte names no slot, goes by
 * the group's hash. */
int nlb_steer_by_payload_byte(const int *fds, unsigned n, unsigned offset);

#endif
