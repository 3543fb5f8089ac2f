/* Steering within one SO_REUSEPORT group, whatever other sockets join or
 * leave it (another nlb's, during a binary upgrade): datagrams of UDP
 * sockets by a byte of their payload, which names the slot (0 .. n-1) of
 * the socket that gets the datagram (gateway mode steers returned GENEVE
 * packets to the worker their cookie names); or connections and
 * datagrams by the CPU that processes them, to the socket of the worker
 * pinned there (a listener's steering = "cpu"). */
#ifndef NLB_REUSEPORT_STEER_H
#define NLB_REUSEPORT_STEER_H

#include <stddef.h>
#include <stdint.h>

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

/* Steers the group of fds[0 .. n) (bound, SO_REUSEPORT, n <= 1024;
 * fds[i] is read by a worker pinned to cpus[i] < 1024) by the CPU the
 * kernel takes the SYN or datagram on: to the socket of the first worker
 * pinned to that CPU, else by the group's hash.  eBPF with a socket map
 * keyed by CPU; where eBPF is refused, a classic BPF program comparing
 * the CPU with each worker's (right only while these sockets are the
 * group, in order).  Returns 1 (eBPF), 0 (classic) or -errno. */
int nlb_steer_by_cpu(const int *fds, const uint32_t *cpus, unsigned n);

#endif
