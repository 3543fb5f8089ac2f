/* seccomp = true: the allow-list of system calls nlb makes after start,
 * the io_uring restrictions of its workers' rings, and installing the
 * filter (see sandbox.h).  The lists were taken from strace over the
 * integration suites with seccomp = true, not guessed; a call missing
 * here ends nlb with SIGSYS, and `make test SECCOMP=1` runs every suite
 * with the filter to find one. */
#include "core/sandbox.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "log.h"
#include "seccomp_filter.h"

/* Every call strace saw nlb make after the filter's installation, over
 * the whole suite with seccomp = true (doc/hardening.md), by thread and
 * path, the hot ones first (the filter compares in order); and the few
 * the suite cannot reach, each with its reason.  Numbers this
 * architecture lacks (x86-64's legacy calls on AArch64, where glibc
 * makes the *at and p* forms) are left out by their #ifdef. */
static const int calls[] = {
	/* workers: the ring, inline splice and its pipes, UDP batches sent
	 * inline, connections' socket options */
	SYS_io_uring_enter,
	SYS_futex,
	SYS_setsockopt,
	SYS_splice,
	SYS_socket,
	SYS_shutdown,
	SYS_close,
	SYS_connect,
	SYS_getsockopt,
	SYS_getpeername,
	SYS_sendmmsg,
	SYS_pipe2,
	SYS_fcntl,
	SYS_io_uring_register,	/* buffer rings a reload adds (ring_register_ops) */
	/* the health, metrics, admin and access log threads: poll and epoll
	 * loops, probes (TCP, HTTP, TLS), answers, log lines */
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_ppoll,
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
	SYS_epoll_pwait,
	SYS_epoll_ctl,
	SYS_accept4,
	SYS_read,
	SYS_write,
	SYS_recvfrom,
	SYS_sendto,
	SYS_getsockname,
	/* the main thread: signals, the tick, announce's rtnetlink */
	SYS_rt_sigtimedwait,
	SYS_rt_sigprocmask,
	SYS_pread64,		/* max_memory_mb: /proc/self/statm, held open */
	/* reload: stat(2) of a file still being written, and the wait for
	 * it to keep still (control/reload.c) */
	SYS_clock_nanosleep,
	SYS_nanosleep,
	/* reload: the file, certificates, keys, ticket keys, the access log's
	 * directory checked and the log (re)opened; listeners and gateways
	 * added (bind, listen, the TUN device's ioctls) */
#ifdef SYS_open
	SYS_open,
#endif
	SYS_openat,
	SYS_newfstatat,
	SYS_lseek,
#ifdef SYS_access
	SYS_access,
#endif
	SYS_faccessat,
	SYS_bind,
	SYS_listen,
	SYS_ioctl,
	/* memory: jemalloc, OpenSSL, buffer rings */
	SYS_mmap,
	SYS_munmap,
	SYS_madvise,
	/* threads starting after the filter went on, and every exit */
	SYS_set_robust_list,
	SYS_rseq,
	SYS_prctl,		/* pthread_setname_np on the thread itself */
	SYS_sched_getaffinity,
	SYS_getpid,
	SYS_unlink,		/* the admin socket, at the stop */
	SYS_exit,
	SYS_exit_group,
	/* Not reached by the suite.  OpenSSL's random generator reseeds
	 * from getrandom(2) after hours; clocks are read through the vDSO,
	 * which falls back to the calls themselves on clock sources without
	 * it (some VMs); a call interrupted by SIGSTOP resumes through
	 * restart_syscall(2); abort() (a failed assertion) raises SIGABRT
	 * with tgkill(2) after resetting the handler and the mask, so that
	 * the core dump says where, not SIGSYS. */
	SYS_getrandom,
	SYS_clock_gettime,
	SYS_gettimeofday,
	SYS_restart_syscall,
	SYS_rt_sigreturn,
	SYS_rt_sigaction,
	SYS_gettid,
	SYS_tgkill,
#ifdef __SANITIZE_ADDRESS__
	/* `make SANITIZE=1` only (strace over the seccomp suite with an ASan
	 * nlb): ASan gives each thread an alternate signal stack as it
	 * starts, and LeakSanitizer's check at exit clones a tracer thread
	 * that stops the others with ptrace, reading /proc/self/task, while
	 * the caller waits for it.  None of it is in nlb's plain build. */
	SYS_sigaltstack,
	SYS_clone,
	SYS_wait4,
	SYS_ptrace,
#ifdef SYS_getdents
	SYS_getdents,
#endif
	SYS_getdents64,
	SYS_getppid,
	SYS_mprotect,
	SYS_sched_yield,
	SYS_kill,
#ifdef SYS_readlink
	SYS_readlink,		/* a report names the binary: /proc/self/exe */
#endif
	SYS_readlinkat,
#endif
#ifdef __SANITIZE_THREAD__
	/* `make test TSAN=1 SECCOMP=1` only (the filter's action set to
	 * SECCOMP_RET_LOG and the audit log read): the ThreadSanitizer
	 * runtime's fstat(2) of files it reads, on no other call. */
	SYS_fstat,
#endif
};

/* Conditions on arguments, where a call allowed above can do much more
 * than nlb asks of it.  Each list is what strace saw over the suite
 * (doc/hardening.md), and a value outside it ends nlb as any call off
 * the list does. */

/* socket(2)'s family: TCP and UDP sockets of both families (targets,
 * probes, listeners and gateways a reload adds, the TUN device's
 * configuration), and AF_UNIX, which glibc's if_nametoindex opens for
 * its ioctl (a gateway's TUN device a reload adds, an IPv6 scope).  Not
 * AF_NETLINK (announce's socket is opened before), AF_PACKET, AF_ALG,
 * AF_XDP, AF_VSOCK...: families whose kernel code nlb does not need once
 * started. */
static const uint32_t socket_families[] = {
	AF_INET,
	AF_INET6,
	AF_UNIX,
};

/* ioctl(2)'s request: a gateway's TUN device a reload adds (attaching
 * its queues, TUNSETIFF; the MTU and flags of one nlb creates, which
 * needs root, so the suite's reloads, as nlb's user, never set them)
 * and if_nametoindex's SIOCGIFINDEX.  Any other request on any
 * descriptor ends nlb. */
static const uint32_t ioctl_requests[] = {
	TUNSETIFF,
	SIOCGIFINDEX,
	SIOCSIFMTU,
	SIOCGIFFLAGS,
	SIOCSIFFLAGS,
};

/* prctl(2)'s option: a thread naming itself (pthread_setname_np). */
static const uint32_t prctl_options[] = {
	PR_SET_NAME,
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer's check at exit (its StopTheWorld): nlb made
	 * dumpable for the check when it is not (once it dropped to its
	 * user), its tracer allowed to ptrace it, the tracer set to die
	 * with it.  strace saw the first and the third; the others run in
	 * a non-dumpable nlb and in the untraced tracer. */
	PR_GET_DUMPABLE,
	PR_SET_DUMPABLE,
	PR_SET_PTRACER,
	PR_SET_PDEATHSIG,
#endif
};

static const struct nlb_seccomp_arg conditions[] = {
	{ .nr = SYS_socket, .arg = 0, .values = socket_families,
	  .n_values = sizeof(socket_families) / sizeof(socket_families[0]) },
	{ .nr = SYS_ioctl, .arg = 1, .values = ioctl_requests,
	  .n_values = sizeof(ioctl_requests) / sizeof(ioctl_requests[0]) },
	{ .nr = SYS_prctl, .arg = 0, .values = prctl_options,
	  .n_values = sizeof(prctl_options) / sizeof(prctl_options[0]) },
	/* No memory made executable after start: jemalloc, OpenSSL and the
	 * buffer rings map data only. */
	{ .nr = SYS_mmap, .arg = 2, .clear = PROT_EXEC },
#ifdef __SANITIZE_ADDRESS__
	{ .nr = SYS_mprotect, .arg = 2, .clear = PROT_EXEC },
#endif
};

/* Calls nlb makes after start but can do without, answered EPERM: a
 * gateway added by a reload steers its GENEVE sockets with eBPF (bpf(2),
 * lib/reuseport_steer.c), and falls back to classic BPF when refused, as
 * it does when not root.  bpf(2) as root is too much to leave open. */
static const int refused[] = {
	SYS_bpf,
};

/* What the workers submit (nlb/stream, nlb/http, nlb/gateway, nlb/core):
 * accepts, receives and sends (plain and msg, multishot), connects under
 * linked timeouts, closes, cancels, polls (splice's readiness), reads and
 * writes of eventfds, the tick's timeout, NOPs that end links, and
 * MSG_RING between workers. */
static const uint8_t ring_sqe_ops[] = {
	IORING_OP_NOP,
	IORING_OP_READ,
	IORING_OP_WRITE,
	IORING_OP_ACCEPT,
	IORING_OP_CONNECT,
	IORING_OP_RECV,
	IORING_OP_RECVMSG,
	IORING_OP_SEND,
	IORING_OP_SENDMSG,
	IORING_OP_POLL_ADD,
	IORING_OP_TIMEOUT,
	IORING_OP_LINK_TIMEOUT,
	IORING_OP_ASYNC_CANCEL,
	IORING_OP_CLOSE,
	IORING_OP_MSG_RING,
};

/* What is registered after the ring is enabled: io-wq's limits
 * (core/loop.c), buffer rings (at start and when a reload adds
 * listeners or groups, freed with them), and the ring fd's
 * unregistration in io_uring_queue_exit. */
static const uint8_t ring_register_ops[] = {
	IORING_REGISTER_IOWQ_AFF,
	IORING_REGISTER_IOWQ_MAX_WORKERS,
	IORING_REGISTER_PBUF_RING,
	IORING_UNREGISTER_PBUF_RING,
	IORING_UNREGISTER_RING_FDS,
};

static const struct nlb_ring_restrictions ring_restrictions = {
	.sqe_ops = ring_sqe_ops,
	.n_sqe_ops = sizeof(ring_sqe_ops),
	.register_ops = ring_register_ops,
	.n_register_ops = sizeof(ring_register_ops),
	.sqe_flags = IOSQE_IO_LINK | IOSQE_BUFFER_SELECT | IOSQE_CQE_SKIP_SUCCESS,
};

const struct nlb_ring_restrictions *sandbox_ring_restrictions(const struct nlb_config *cfg)
{
	return cfg->seccomp ? &ring_restrictions : NULL;
}

/* What a call outside both lists does. */
static uint32_t sandbox_action(void)
{
	/* As systemd's SystemCallFilter= by default: a call nlb never makes
	 * is a bug or an attack, and either is better stopped than
	 * answered with an error nlb's code was never written for.  The
	 * kernel logs it (audit type 1326, the call's number) and the exit
	 * status says SIGSYS. */
	return SECCOMP_RET_KILL_PROCESS;
}

void sandbox_rules(struct nlb_seccomp_rules *r)
{
	*r = (struct nlb_seccomp_rules){
		.allow = calls,
		.n_allow = sizeof(calls) / sizeof(calls[0]),
		.refuse = refused,
		.n_refuse = sizeof(refused) / sizeof(refused[0]),
		.refuse_errno = EPERM,
		.action = sandbox_action(),
		.args = conditions,
		.n_args = sizeof(conditions) / sizeof(conditions[0]),
	};
}

int sandbox_install(const struct nlb_config *cfg)
{
	if (!cfg->seccomp)
		return 0;
	struct nlb_seccomp_rules r;
	sandbox_rules(&r);
	struct sock_filter prog[NLB_SECCOMP_PROG_LEN(NLB_SECCOMP_MAX_CALLS)];
	int len = nlb_seccomp_build(&r, prog, sizeof(prog) / sizeof(prog[0]));
	if (len < 0) {
		nlb_err("seccomp: cannot build the filter: %s%s", strerror(-len),
			len == -ENOSYS ? " (this architecture is not known to nlb: set "
			"seccomp = false)" : "");
		return len;
	}
	int ret = nlb_seccomp_install(prog, (size_t)len);
	if (ret < 0) {
		nlb_err("seccomp: the kernel refused the filter: %s (seccomp = true needs "
			"CONFIG_SECCOMP_FILTER; set seccomp = false to run without)", strerror(-ret));
		return ret;
	}
	nlb_info("seccomp: filter installed on every thread: %zu system calls allowed (%zu "
		 "of them for some arguments only), %zu refused (EPERM), any other ends nlb "
		 "(SIGSYS); io_uring restricted to %zu operations", r.n_allow, r.n_args,
		 r.n_refuse, sizeof(ring_sqe_ops));
	return 0;
}
