/* A seccomp filter as classic BPF, built from lists of system call
 * numbers: the program (architecture check, x32 refused, one comparison
 * per call allowed or refused with an errno), and installing it on every
 * thread of the process.  Which calls are on the lists is the caller's:
 * nlb's are in nlb/core/sandbox.c. */
#ifndef NLB_SECCOMP_FILTER_H
#define NLB_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* What a filter does with each call: allow's run, refuse's fail with
 * refuse_errno (calls a program can do without, its fallback taken),
 * any other gets action (SECCOMP_RET_KILL_PROCESS, ...).  Numbers are
 * this build's architecture's; the hot ones first: they are compared in
 * order, allow's before refuse's. */
struct nlb_seccomp_rules {
	const int *allow;
	size_t n_allow;
	const int *refuse;
	size_t n_refuse;
	int refuse_errno;
	uint32_t action;
};

/* A program's length for n calls in all (the largest there is). */
#define NLB_SECCOMP_PROG_LEN(n) ((n) + 9)

/* Most calls one program names, allowed and refused: a comparison jumps
 * at most 255 instructions ahead, to the allowing return at the end. */
#define NLB_SECCOMP_MAX_CALLS 254

/* Whether this build knows its architecture's AUDIT_ARCH_* value: x86-64
 * and AArch64.  Elsewhere nlb_seccomp_build returns -ENOSYS. */
int nlb_seccomp_supported(void);

/* Writes into prog (room for cap instructions) the filter of r, which
 * also gives r->action to a call made with another architecture's
 * convention (32-bit int 0x80 on x86-64) and to x32's calls.  Returns
 * the number of instructions written, -E2BIG (more than
 * NLB_SECCOMP_MAX_CALLS), -ENOSPC (cap too small), -ENOSYS (architecture
 * unknown) or -EINVAL (a negative number, one with x32's bit, an errno
 * outside 1..4095). */
int nlb_seccomp_build(const struct nlb_seccomp_rules *r, struct sock_filter *prog, size_t cap);

/* Sets no_new_privs (a filter needs it without CAP_SYS_ADMIN, and it
 * keeps an execve from gaining privileges), then installs prog with
 * SECCOMP_FILTER_FLAG_TSYNC: every thread of the process is filtered
 * from this call on, and those it starts later inherit the filter.
 * 0, -errno, or -ESRCH when a thread could not be synchronised (it has a
 * filter of its own). */
int nlb_seccomp_install(const struct sock_filter *prog, size_t len);

#endif
