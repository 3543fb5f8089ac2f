/* A seccomp filter as classic BPF, built from lists of system call
 * numbers: the program (architecture check, x32 refused, one comparison
 * per call allowed or refused with an errno, and conditions on one
 * argument of an allowed call), and installing it on every thread of
 * the process.  Which calls are on the lists is the caller's:
 * nlb's are in nlb/core/sandbox.c. */
#ifndef NLB_SECCOMP_FILTER_H
#define NLB_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* A condition on one argument of an allowed call, read as its low 32
 * bits (the whole of an int or unsigned int argument; a flag in the low
 * word of a long): the call is allowed only when the argument is one of
 * values (n_values > 0), or has none of the bits of clear set (clear,
 * with n_values 0).  Otherwise it gets the rules' action. */
struct nlb_seccomp_arg {
	int nr;			/* a call of the allow list */
	unsigned arg;		/* 0 to 5 */
	const uint32_t *values;
	size_t n_values;
	uint32_t clear;
};

/* What a filter does with each call: allow's run (if it has a condition
 * in args, when that holds), refuse's fail with refuse_errno (calls a
 * program can do without, its fallback taken), any other gets action
 * (SECCOMP_RET_KILL_PROCESS, ...).  Numbers are this build's
 * architecture's; the hot ones first: they are compared in order,
 * allow's before refuse's.  At most one condition per call. */
struct nlb_seccomp_rules {
	const int *allow;
	size_t n_allow;
	const int *refuse;
	size_t n_refuse;
	int refuse_errno;
	uint32_t action;
	const struct nlb_seccomp_arg *args;
	size_t n_args;
};

/* A program's length for n calls in all, without conditions. */
#define NLB_SECCOMP_PROG_LEN(n) ((n) + 9)

/* What one condition adds to it: the argument's load, a comparison per
 * value (or the one bit test), the action's return. */
#define NLB_SECCOMP_ARG_LEN(n_values) ((n_values) ? (n_values) + 2 : 3)

/* Most comparisons one program holds, calls allowed and refused and
 * conditions' instructions together: a comparison jumps at most 255
 * instructions ahead, to the allowing return at the end. */
#define NLB_SECCOMP_MAX_CALLS 254

/* The length of r's program (what nlb_seccomp_build writes when it
 * succeeds). */
size_t nlb_seccomp_prog_len(const struct nlb_seccomp_rules *r);

/* Whether this build knows its architecture's AUDIT_ARCH_* value: x86-64
 * and AArch64.  Elsewhere nlb_seccomp_build returns -ENOSYS. */
int nlb_seccomp_supported(void);

/* Writes into prog (room for cap instructions) the filter of r, which
 * also gives r->action to a call made with another architecture's
 * convention (32-bit int 0x80 on x86-64) and to x32's calls.  Returns
 * the number of instructions written, -E2BIG (more than
 * NLB_SECCOMP_MAX_CALLS), -ENOSPC (cap too small), -ENOSYS (architecture
 * unknown) or -EINVAL (a negative number, one with x32's bit, an errno
 * outside 1..4095; a condition on a call not allowed, a second one on a
 * call, one on an argument past 5, or one with neither values nor bits). */
int nlb_seccomp_build(const struct nlb_seccomp_rules *r, struct sock_filter *prog, size_t cap);

/* Sets no_new_privs (a filter needs it without CAP_SYS_ADMIN, and it
 * keeps an execve from gaining privileges), then installs prog with
 * SECCOMP_FILTER_FLAG_TSYNC: every thread of the process is filtered
 * from this call on, and those it starts later inherit the filter.
 * 0, -errno, or -ESRCH when a thread could not be synchronised (it has a
 * filter of its own). */
int nlb_seccomp_install(const struct sock_filter *prog, size_t len);

#endif
