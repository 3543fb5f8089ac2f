/* Suite "seccomp_filter": lib/seccomp_filter's program, installed in a
 * forked child so the test process keeps its freedom: allowed calls work,
 * any other ends the child with SIGSYS (SECCOMP_RET_KILL_PROCESS, nlb's
 * action), a refused call fails with its errno, and so do a call
 * through another architecture's convention (i386's int 0x80, and the
 * program run on a made-up i386 call) and an x32 call; the builder's
 * refusals; conditions on arguments, on the program and in the kernel;
 * and nlb's own lists (nlb/core/sandbox.c) under which a process serves
 * a socket and allocates, but cannot execve nor ptrace, open a packet
 * socket, map executable memory, or make an ioctl or prctl nlb does not. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "seccomp_filter.h"
#include "core/sandbox.h"

TestSuite(seccomp_filter, .init = t_setup, .fini = t_teardown);

/* The child's end: exit_group itself, not exit(3) or _exit(3), which
 * run (or, under ASan, intercept) more than the filter may allow. */
static void child_exit(int code)
{
	syscall(SYS_exit_group, code);
	for (;;)
		;
}

/* Runs body(arg) in a forked child after installing the filter of r;
 * returns the raw wait status.  The child exits 0 when body returns 0,
 * else 100 + body's value, and 99 when the filter could not be
 * installed. */
static int in_child_rules(const struct nlb_seccomp_rules *r, int (*body)(void *), void *arg)
{
	struct sock_filter prog[NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS)];
	int len = nlb_seccomp_build(r, prog, sizeof(prog) / sizeof(prog[0]));
	cr_assert_gt(len, 0, "nlb_seccomp_build: %s", strerror(-len));
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (nlb_seccomp_install(prog, (size_t)len) < 0)
			child_exit(99);
		int ret = body(arg);
		child_exit(ret == 0 ? 0 : 100 + ret);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* The same with the n calls of allow, nlb's action for any other. */
static int in_child(const int *allow, size_t n, int (*body)(void *), void *arg)
{
	struct nlb_seccomp_rules r = { .allow = allow, .n_allow = n,
				       .action = SECCOMP_RET_KILL_PROCESS };
	return in_child_rules(&r, body, arg);
}

static void expect_exit0(int status, const char *what)
{
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s: the child did not exit 0 (status 0x%x: exit %d, signal %d)", what, status,
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void expect_sigsys(int status, const char *what)
{
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		  "%s: the child was not ended by SIGSYS (status 0x%x: exit %d, signal %d)", what,
		  status, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static const int small[] = { SYS_getpid, SYS_exit_group };

static int call_getpid(void *arg)
{
	(void)arg;
	return syscall(SYS_getpid) > 0 ? 0 : 1;
}

static int call_getppid(void *arg)
{
	(void)arg;
	syscall(SYS_getpid);
	syscall(SYS_getppid);	/* not on the list: the child ends here */
	return 2;
}

T_UNIT(seccomp_filter, allowed_calls_work_others_end_the_process)
{
	expect_exit0(in_child(small, 2, call_getpid, NULL), "getpid allowed");
	expect_sigsys(in_child(small, 2, call_getppid, NULL), "getppid not allowed");
}

#if defined(__x86_64__)
/* getpid through i386's int 0x80 (its number 20): the same number in
 * x86-64's table is getpid too, so only the architecture check stops it. */
static long getpid_i386(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	return ret;
}

static int call_i386(void *arg)
{
	(void)arg;
	return getpid_i386() > 0 ? 0 : 1;
}

static int call_x32(void *arg)
{
	(void)arg;
	syscall(0x40000000L | SYS_getpid);
	return 2;
}

T_UNIT(seccomp_filter, x32_calls_end_the_process)
{
	static const int allow[] = { SYS_getpid, SYS_exit_group };
	expect_sigsys(in_child(allow, 2, call_x32, NULL), "x32 getpid");
}

/* The i386 convention is only there with IA32 emulation: a control child
 * without a filter says whether it is (the next test checks the same
 * without the kernel). */
T_UNIT(seccomp_filter, i386_calls_end_the_process)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Without emulation int 0x80 faults: a plain SIGSEGV, not
		 * ASan's report of it. */
		signal(SIGSEGV, SIG_DFL);
		child_exit(getpid_i386() > 0 ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		cr_skip_test("no IA32 emulation in this kernel: int 0x80 fails without a filter");
	/* 20 is on the list, as x86-64's number: it is i386's that is refused */
	static const int with_i386_getpid[] = { 20, SYS_getpid, SYS_exit_group };
	expect_sigsys(in_child(with_i386_getpid, 3, call_i386, NULL), "i386 getpid");
}
#endif

/* The program run as the kernel would on one seccomp_data: the loads,
 * jumps and returns the builder writes, nothing else. */
/* The program run here on a made-up call with arguments args (NULL:
 * all 0), as the kernel runs it. */
static uint32_t run_prog_args(const struct sock_filter *prog, int len, uint32_t arch,
			      uint32_t nr, const uint64_t *args)
{
	struct seccomp_data d = { .nr = (int)nr, .arch = arch };
	if (args)
		memcpy(d.args, args, sizeof(d.args));
	uint32_t acc = 0;
	for (int pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			cr_assert(f->k + 4 <= sizeof(d));
			memcpy(&acc, (const char *)&d + f->k, 4);
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += acc == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += acc >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (acc & f->k) ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JA:
			pc += (int)f->k;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			cr_assert_fail("instruction 0x%x at %d", f->code, pc);
		}
	}
	cr_assert_fail("ran off the end");
	return 0;
}

static uint32_t native_arch(void)
{
#if defined(__x86_64__)
	return AUDIT_ARCH_X86_64;
#else
	return AUDIT_ARCH_AARCH64;
#endif
}

static uint32_t run_prog(const struct sock_filter *prog, int len, uint32_t arch, uint32_t nr)
{
	return run_prog_args(prog, len, arch, nr, NULL);
}

/* The architecture check and x32's bit, on the program itself: any
 * architecture but this build's is refused, whatever its number. */
T_UNIT(seccomp_filter, program_checks_the_architecture)
{
	static const int allow[] = { 0, 1, SYS_getpid };
	static const int refuse[] = { SYS_getuid };
	struct nlb_seccomp_rules r = { .allow = allow, .n_allow = 3, .refuse = refuse,
				       .n_refuse = 1, .refuse_errno = EPERM,
				       .action = SECCOMP_RET_KILL_PROCESS };
	struct sock_filter prog[NLB_SECCOMP_PROG_LEN(4)];
	int len = nlb_seccomp_build(&r, prog, NLB_SECCOMP_PROG_LEN(4));
	cr_assert_eq(len, (int)NLB_SECCOMP_PROG_LEN(4));
#if defined(__x86_64__)
	const uint32_t native = AUDIT_ARCH_X86_64, other = AUDIT_ARCH_I386;
	cr_expect_eq(run_prog(prog, len, native, 0x40000000u | SYS_getpid),
		     SECCOMP_RET_KILL_PROCESS, "x32");
#else
	const uint32_t native = AUDIT_ARCH_AARCH64, other = AUDIT_ARCH_ARM;
#endif
	cr_expect_eq(run_prog(prog, len, native, SYS_getpid), SECCOMP_RET_ALLOW);
	cr_expect_eq(run_prog(prog, len, native, 0), SECCOMP_RET_ALLOW);
	cr_expect_eq(run_prog(prog, len, native, 1), SECCOMP_RET_ALLOW);
	cr_expect_eq(run_prog(prog, len, native, SYS_getppid), SECCOMP_RET_KILL_PROCESS);
	cr_expect_eq(run_prog(prog, len, native, SYS_getuid), SECCOMP_RET_ERRNO | EPERM);
	cr_expect_eq(run_prog(prog, len, other, SYS_getpid), SECCOMP_RET_KILL_PROCESS);
	cr_expect_eq(run_prog(prog, len, other, SYS_getuid), SECCOMP_RET_KILL_PROCESS);
	cr_expect_eq(run_prog(prog, len, other, 0), SECCOMP_RET_KILL_PROCESS);
}

/* Conditions on arguments: socket's family one of two, mmap's
 * protection without PROT_EXEC; the calls around them keep their own
 * verdicts, and a refused call after them its errno. */
static const uint32_t two_families[] = { AF_INET, AF_UNIX };
static const struct nlb_seccomp_arg socket_and_mmap[] = {
	{ .nr = SYS_socket, .arg = 0, .values = two_families, .n_values = 2 },
	{ .nr = SYS_mmap, .arg = 2, .clear = PROT_EXEC },
};
static const int with_conditions[] = { SYS_getpid, SYS_socket, SYS_close, SYS_mmap,
				       SYS_munmap, SYS_exit_group };
static const int refuse_getuid[] = { SYS_getuid };

static struct nlb_seccomp_rules conditions_rules(void)
{
	return (struct nlb_seccomp_rules){
		.allow = with_conditions, .n_allow = 6, .refuse = refuse_getuid, .n_refuse = 1,
		.refuse_errno = EPERM, .action = SECCOMP_RET_KILL_PROCESS,
		.args = socket_and_mmap, .n_args = 2 };
}

T_UNIT(seccomp_filter, program_checks_arguments)
{
	struct nlb_seccomp_rules r = conditions_rules();
	struct sock_filter prog[NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS)];
	int len = nlb_seccomp_build(&r, prog, sizeof(prog) / sizeof(prog[0]));
	cr_assert_eq(len, (int)nlb_seccomp_prog_len(&r));
	cr_assert_eq(len, (int)(NLB_SECCOMP_PROG_LEN(7) + NLB_SECCOMP_ARG_LEN(2) +
				NLB_SECCOMP_ARG_LEN(0)));
	const uint32_t native = native_arch();
	const uint32_t allow = SECCOMP_RET_ALLOW, kill = SECCOMP_RET_KILL_PROCESS;
	struct { int nr; uint64_t args[6]; uint32_t want; const char *what; } cases[] = {
		{ SYS_socket, { AF_INET, SOCK_STREAM }, allow, "socket AF_INET" },
		{ SYS_socket, { AF_UNIX, SOCK_DGRAM }, allow, "socket AF_UNIX" },
		{ SYS_socket, { AF_INET6, SOCK_STREAM }, kill, "socket AF_INET6" },
		{ SYS_socket, { AF_PACKET, SOCK_RAW }, kill, "socket AF_PACKET" },
		/* an int argument: the kernel reads the low word only */
		{ SYS_socket, { (1ull << 32) | AF_INET }, allow, "AF_INET, high word set" },
		{ SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE }, allow, "mmap rw" },
		{ SYS_mmap, { 0, 4096, PROT_NONE }, allow, "mmap none" },
		{ SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC }, kill, "mmap rx" },
		{ SYS_mmap, { 0, 4096, PROT_EXEC }, kill, "mmap x" },
		{ SYS_getpid, { AF_INET6, 0, PROT_EXEC }, allow, "getpid, any arguments" },
		{ SYS_close, { 7 }, allow, "close, between the conditions" },
		{ SYS_munmap, { 0, 0, PROT_EXEC }, allow, "munmap, after them" },
		{ SYS_exit_group, { 0 }, allow, "exit_group, last" },
		{ SYS_getuid, { 0 }, SECCOMP_RET_ERRNO | EPERM, "refused getuid" },
		{ SYS_getppid, { 0 }, kill, "getppid, on no list" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(run_prog_args(prog, len, native, (uint32_t)cases[i].nr, cases[i].args),
			     cases[i].want, "%s", cases[i].what);
}

static int socket_inet(void *arg)
{
	(void)arg;
	long fd = syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	syscall(SYS_close, fd);
	void *m = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 2;
	return syscall(SYS_munmap, m, 4096) == 0 ? 0 : 3;
}

static int socket_inet6(void *arg)
{
	(void)arg;
	syscall(SYS_socket, AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return 2;
}

static int mmap_exec(void *arg)
{
	(void)arg;
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 2;
}

/* The same conditions in the kernel. */
T_UNIT(seccomp_filter, conditions_hold_in_the_kernel)
{
	struct nlb_seccomp_rules r = conditions_rules();
	expect_exit0(in_child_rules(&r, socket_inet, NULL), "AF_INET socket, rw memory");
	expect_sigsys(in_child_rules(&r, socket_inet6, NULL), "AF_INET6 socket");
	expect_sigsys(in_child_rules(&r, mmap_exec, NULL), "executable memory");
}

T_UNIT(seccomp_filter, condition_refusals)
{
	struct sock_filter prog[NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS)];
	size_t cap = sizeof(prog) / sizeof(prog[0]);
	struct nlb_seccomp_rules r = conditions_rules();
	struct nlb_seccomp_arg a[3] = { socket_and_mmap[0], socket_and_mmap[1] };
	r.args = a;
	a[0].nr = SYS_getppid;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "a call not allowed");
	a[0].nr = SYS_getuid;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "a refused call");
	a[0] = socket_and_mmap[0];
	a[0].arg = 6;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "argument 6");
	a[0].arg = 0;
	a[0].n_values = 0;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "neither values nor bits");
	a[0] = socket_and_mmap[0];
	a[2] = socket_and_mmap[0];
	r.n_args = 3;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "two on socket");
	r.n_args = 2;
	cr_expect_eq(nlb_seccomp_build(&r, prog, (size_t)nlb_seccomp_prog_len(&r) - 1), -ENOSPC);
	/* The conditions' instructions count toward the jumps' reach. */
	int many[NLB_SECCOMP_MAX_CALLS];
	uint32_t values[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (int)i;
	struct nlb_seccomp_arg eight = { .nr = 0, .arg = 0, .values = values, .n_values = 8 };
	struct nlb_seccomp_rules big = { .allow = many, .action = SECCOMP_RET_KILL_PROCESS,
					 .args = &eight, .n_args = 1 };
	big.n_allow = NLB_SECCOMP_MAX_CALLS - NLB_SECCOMP_ARG_LEN(8);
	int len = nlb_seccomp_build(&big, prog, cap);
	cr_expect_eq(len, (int)NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS), "the most there is");
	cr_expect_eq(run_prog_args(prog, len, native_arch(), 1, NULL), SECCOMP_RET_ALLOW,
		     "the farthest jump");
	cr_expect_eq(run_prog_args(prog, len, native_arch(), 0, (uint64_t[6]){ 8 }),
		     SECCOMP_RET_ALLOW, "the condition's last value");
	cr_expect_eq(run_prog_args(prog, len, native_arch(), 0, (uint64_t[6]){ 9 }),
		     SECCOMP_RET_KILL_PROCESS, "a value past them");
	big.n_allow++;
	cr_expect_eq(nlb_seccomp_build(&big, prog, cap), -E2BIG);
}

static int build(const int *allow, size_t n, struct sock_filter *prog, size_t cap)
{
	struct nlb_seccomp_rules r = { .allow = allow, .n_allow = n,
				       .action = SECCOMP_RET_KILL_PROCESS };
	return nlb_seccomp_build(&r, prog, cap);
}

T_UNIT(seccomp_filter, builder_refusals)
{
	struct sock_filter prog[NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS + 1)];
	int many[NLB_SECCOMP_MAX_CALLS + 1];
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (int)i;
	size_t cap = sizeof(prog) / sizeof(prog[0]);
	cr_expect_eq(build(many, NLB_SECCOMP_MAX_CALLS + 1, prog, cap), -E2BIG);
	cr_expect_eq(build(many, NLB_SECCOMP_MAX_CALLS, prog, cap),
		     (int)NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS));
	cr_expect_eq(build(many, 10, prog, NLB_SECCOMP_PROG_LEN(10) - 1), -ENOSPC);
	int bad[] = { SYS_getpid, -1 };
	cr_expect_eq(build(bad, 2, prog, cap), -EINVAL);
#if defined(__x86_64__)
	int x32[] = { 0x40000000 | SYS_getpid };
	cr_expect_eq(build(x32, 1, prog, cap), -EINVAL);
#endif
	struct nlb_seccomp_rules r = { .allow = many, .n_allow = 10, .refuse = many + 10,
				       .n_refuse = 1, .refuse_errno = 0,
				       .action = SECCOMP_RET_KILL_PROCESS };
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "errno 0");
	r.refuse_errno = 4096;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -EINVAL, "errno 4096");
	r.n_refuse = NLB_SECCOMP_MAX_CALLS - 9;
	r.refuse_errno = EPERM;
	cr_expect_eq(nlb_seccomp_build(&r, prog, cap), -E2BIG, "allowed and refused together");
}

/* A refused call fails with the errno and the process goes on; a call on
 * neither list still ends it. */
static int call_refused(void *arg)
{
	(void)arg;
	long ret = syscall(SYS_getppid);
	return ret == -1 && errno == EPERM ? 0 : 1;
}

static int call_refused_then_other(void *arg)
{
	(void)arg;
	syscall(SYS_getppid);
	syscall(SYS_gettid);
	return 2;
}

T_UNIT(seccomp_filter, refused_calls_fail_with_the_errno)
{
	static const int allow[] = { SYS_getpid, SYS_exit_group };
	static const int refuse[] = { SYS_getuid, SYS_getppid };
	struct nlb_seccomp_rules r = { .allow = allow, .n_allow = 2, .refuse = refuse,
				       .n_refuse = 2, .refuse_errno = EPERM,
				       .action = SECCOMP_RET_KILL_PROCESS };
	expect_exit0(in_child_rules(&r, call_refused, NULL), "getppid refused");
	expect_sigsys(in_child_rules(&r, call_refused_then_other, NULL), "gettid on no list");
}

/* The largest list: its first and last calls are both reached (the
 * first's jump is the longest there is). */
static int call_first_and_last(void *arg)
{
	(void)arg;
	return syscall(SYS_getpid) > 0 && syscall(SYS_gettid) > 0 ? 0 : 1;
}

T_UNIT(seccomp_filter, longest_list_reaches_both_ends)
{
	int list[NLB_SECCOMP_MAX_CALLS];
	list[0] = SYS_getpid;
	for (size_t i = 1; i < NLB_SECCOMP_MAX_CALLS - 2; i++)
		list[i] = 1000 + (int)i;	/* numbers no call has */
	list[NLB_SECCOMP_MAX_CALLS - 2] = SYS_exit_group;
	list[NLB_SECCOMP_MAX_CALLS - 1] = SYS_gettid;
	expect_exit0(in_child(list, NLB_SECCOMP_MAX_CALLS, call_first_and_last, NULL),
		     "first and last of 255");
	expect_sigsys(in_child(list, NLB_SECCOMP_MAX_CALLS, call_getppid, NULL),
		      "none of 255");
}

/* What nlb's threads do, under nlb's own list: a UDP socket bound to
 * loopback sends itself a datagram, memory is mapped, touched and given
 * back, a pipe is made. */
static int serve_like_nlb(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
		return 2;
	if (sendto(fd, "ping", 4, 0, (struct sockaddr *)&a, alen) != 4)
		return 3;
	char buf[4];
	if (recvfrom(fd, buf, 4, 0, NULL, NULL) != 4 || memcmp(buf, "ping", 4) != 0)
		return 4;
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 5;
	memset(m, 1, 4096);
	if (madvise(m, 1 << 20, MADV_DONTNEED) != 0 || munmap(m, 1 << 20) != 0)
		return 6;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return 7;
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	return 0;
}

static int call_execve(void *arg)
{
	(void)arg;
	char *const argv[] = { "/bin/true", NULL };
	char *const envp[] = { NULL };
	syscall(SYS_execve, "/bin/true", argv, envp);
	return 2;
}

#ifndef __SANITIZE_ADDRESS__
static int call_ptrace(void *arg)
{
	(void)arg;
	syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
	return 2;
}
#endif

static int call_bpf(void *arg)
{
	(void)arg;
	long ret = syscall(SYS_bpf, 0, NULL, 0);
	return ret == -1 && errno == EPERM ? 0 : 1;
}

static int call_packet_socket(void *arg)
{
	(void)arg;
	syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0);
	return 2;
}

/* announce's rtnetlink socket is opened before the filter. */
static int call_netlink_socket(void *arg)
{
	(void)arg;
	syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	return 2;
}

static int call_mmap_exec(void *arg)
{
	(void)arg;
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 2;
}

/* FIONREAD on a pipe: harmless, and no request nlb makes. */
static int call_other_ioctl(void *arg)
{
	(void)arg;
	int pfd[2], n;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return 1;
	syscall(SYS_ioctl, pfd[0], FIONREAD, &n);
	return 2;
}

static int call_prctl_keepcaps(void *arg)
{
	(void)arg;
	syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
	return 2;
}

/* What nlb's conditions allow: its socket families, a thread's name,
 * an ioctl nlb makes (SIOCGIFINDEX of lo, through glibc). */
static int within_conditions(void *arg)
{
	(void)arg;
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		long fd = syscall(SYS_socket, families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 1;
		close((int)fd);
	}
	if (syscall(SYS_prctl, PR_SET_NAME, "nlb-test", 0, 0, 0) != 0)
		return 3;
	return if_nametoindex("lo") > 0 ? 0 : 4;
}

T_UNIT(seccomp_filter, nlbs_list_serves_but_cannot_exec)
{
	struct nlb_seccomp_rules r;
	sandbox_rules(&r);
	cr_assert_gt(r.n_allow, 30);
	cr_assert_leq(r.n_allow + r.n_refuse, NLB_SECCOMP_MAX_CALLS);
	cr_expect_eq(r.action, SECCOMP_RET_KILL_PROCESS);
	expect_exit0(in_child_rules(&r, serve_like_nlb, NULL), "sockets, memory, pipes");
	expect_exit0(in_child_rules(&r, call_bpf, NULL), "bpf refused with EPERM");
	expect_sigsys(in_child_rules(&r, call_execve, NULL), "execve");
	cr_expect_geq(r.n_args, 4);
	expect_exit0(in_child_rules(&r, within_conditions, NULL), "families, a name, an ioctl");
	expect_sigsys(in_child_rules(&r, call_packet_socket, NULL), "an AF_PACKET socket");
	expect_sigsys(in_child_rules(&r, call_netlink_socket, NULL), "a netlink socket");
	expect_sigsys(in_child_rules(&r, call_mmap_exec, NULL), "executable memory");
	expect_sigsys(in_child_rules(&r, call_other_ioctl, NULL), "another ioctl");
	expect_sigsys(in_child_rules(&r, call_prctl_keepcaps, NULL), "another prctl option");
#ifndef __SANITIZE_ADDRESS__
	/* LeakSanitizer stops threads with ptrace at exit: an ASan build's
	 * list has it (sandbox.c). */
	expect_sigsys(in_child_rules(&r, call_ptrace, NULL), "ptrace");
#endif
}
