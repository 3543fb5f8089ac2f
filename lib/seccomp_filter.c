/* The seccomp filter's program, built from an allow-list and a list of
 * refused calls, and its installation on every thread (see
 * seccomp_filter.h). */
#include "seccomp_filter.h"

#include <endian.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The architecture this build's system call numbers belong to: a filter
 * compares numbers, and the same number is another call under another
 * convention (i386's int 0x80 on x86-64), so any other is refused. */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
/* x32 shares AUDIT_ARCH_X86_64 and marks its calls with this bit. */
#define X32_BIT 0x40000000u
#elif defined(__aarch64__) && __BYTE_ORDER == __LITTLE_ENDIAN
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

int nlb_seccomp_supported(void)
{
#ifdef NATIVE_ARCH
	return 1;
#else
	return 0;
#endif
}

#define STMT(code, k) ((struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)))

/* A number a comparison may name: x32's calls are refused whole. */
static bool valid_nr(int nr)
{
	if (nr < 0)
		return false;
#ifdef X32_BIT
	if ((uint32_t)nr & X32_BIT)
		return false;
#endif
	return true;
}

/* The condition on call nr, or NULL. */
static const struct nlb_seccomp_arg *arg_of(const struct nlb_seccomp_rules *r, int nr)
{
	for (size_t i = 0; i < r->n_args; i++)
		if (r->args[i].nr == nr)
			return &r->args[i];
	return NULL;
}

static size_t args_len(const struct nlb_seccomp_rules *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_args; i++)
		n += NLB_SECCOMP_ARG_LEN(r->args[i].n_values);
	return n;
}

size_t nlb_seccomp_prog_len(const struct nlb_seccomp_rules *r)
{
	return NLB_SECCOMP_PROG_LEN(r->n_allow + r->n_refuse) + args_len(r);
}

/* Each condition names an allowed call, once, and an argument there is. */
static bool valid_args(const struct nlb_seccomp_rules *r)
{
	for (size_t i = 0; i < r->n_args; i++) {
		const struct nlb_seccomp_arg *a = &r->args[i];
		if (a->arg > 5 || (a->n_values == 0 && a->clear == 0) || arg_of(r, a->nr) != a)
			return false;
		bool allowed = false;
		for (size_t j = 0; j < r->n_allow; j++)
			allowed |= r->allow[j] == a->nr;
		if (!allowed)
			return false;
	}
	return true;
}

int nlb_seccomp_build(const struct nlb_seccomp_rules *r, struct sock_filter *prog, size_t cap)
{
#ifndef NATIVE_ARCH
	(void)r;
	(void)prog;
	(void)cap;
	return -ENOSYS;
#else
	size_t na = r->n_allow, nr = r->n_refuse, nargs = args_len(r);
	for (size_t i = 0; i < na; i++)
		if (!valid_nr(r->allow[i]))
			return -EINVAL;
	for (size_t i = 0; i < nr; i++)
		if (!valid_nr(r->refuse[i]))
			return -EINVAL;
	if (nr && (r->refuse_errno < 1 || r->refuse_errno > 4095))
		return -EINVAL;
	if (!valid_args(r))
		return -EINVAL;
	if (na + nr + nargs > NLB_SECCOMP_MAX_CALLS)
		return -E2BIG;
	size_t len = nlb_seccomp_prog_len(r);
	if (cap < len)
		return -ENOSPC;
	size_t k = 0;
	prog[k++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[k++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
	prog[k++] = STMT(BPF_RET | BPF_K, r->action);
	prog[k++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef X32_BIT
	prog[k++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, 0, 1);
	prog[k++] = STMT(BPF_RET | BPF_K, r->action);
#else
	/* the same length everywhere: NLB_SECCOMP_PROG_LEN */
	prog[k++] = JUMP(BPF_JMP | BPF_JA, 0, 0, 0);
	prog[k++] = JUMP(BPF_JMP | BPF_JA, 0, 0, 0);
#endif
	/* After the comparisons: the action's return, the refusal's, the
	 * conditions' blocks in the order of allow, the allowing return.  A
	 * jump's offset counts from the instruction after it. */
	size_t action_at = k + na + nr, allow_at = len - 1;
	size_t block_at = action_at + 2;
	for (size_t i = 0; i < na; i++, k++) {
		const struct nlb_seccomp_arg *a = arg_of(r, r->allow[i]);
		size_t to = a ? block_at : allow_at;
		if (a)
			block_at += NLB_SECCOMP_ARG_LEN(a->n_values);
		prog[k] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->allow[i],
			       (uint8_t)(to - k - 1), 0);
	}
	for (size_t j = 0; j < nr; j++, k++)	/* to the refusal's return */
		prog[k] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->refuse[j],
			       (uint8_t)(action_at - k), 0);
	prog[k++] = STMT(BPF_RET | BPF_K, r->action);
	prog[k++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((uint32_t)r->refuse_errno &
							       SECCOMP_RET_DATA));
	for (size_t i = 0; i < na; i++) {
		const struct nlb_seccomp_arg *a = arg_of(r, r->allow[i]);
		if (!a)
			continue;
		/* The argument's low word: the first on a little-endian
		 * machine (both architectures above). */
		prog[k++] = STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct seccomp_data, args) + 8 * a->arg);
		if (a->n_values) {
			for (size_t v = 0; v < a->n_values; v++, k++)
				prog[k] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->values[v],
					       (uint8_t)(allow_at - k - 1), 0);
		} else {
			prog[k] = JUMP(BPF_JMP | BPF_JSET | BPF_K, a->clear, 0,
				       (uint8_t)(allow_at - k - 1));
			k++;
		}
		prog[k++] = STMT(BPF_RET | BPF_K, r->action);
	}
	prog[k++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return (int)k;
#endif
}

int nlb_seccomp_install(const struct sock_filter *prog, size_t len)
{
	if (len == 0 || len > BPF_MAXINSNS)
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	struct sock_fprog fprog = {
		.len = (unsigned short)len,
		.filter = (struct sock_filter *)prog,
	};
	/* With TSYNC a positive return is the id of a thread that could not
	 * be synchronised. */
	long ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog);
	if (ret < 0)
		return -errno;
	return ret == 0 ? 0 : -ESRCH;
}
