/* Network namespaces for tests that need addresses of their own: made
 * with a unique name and registered (t_teardown deletes them even after a
 * failure, and kills what still runs inside), commands and daemons run
 * inside them through `ip netns exec`, veth links between them, sysctls,
 * and sockets, pings and TUN queues opened inside them from the test
 * process itself (setns(2) on the calling thread, and back).
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's `ip`.
 * Names are "nlbt-<pid>-<n>-<role>": the test process's pid, so a
 * namespace left by a test that crashed (no teardown runs then) is known
 * as stale and deleted by the next t_netns_new of any test process.
 *
 * Everything that can fail returns -errno (or a command's exit code,
 * where it says so) and leaves the reason -- the command, its exit code
 * and its output -- in t_netns_err(), for the assertion's message:
 *
 *	struct t_netns *ns = t_netns_new("client");
 *	T_ASSERT(ns, ": %s", t_netns_err());
 *	int rc = t_netns_ip(ns, "addr add 10.0.0.1/24 dev lo");
 *	T_ASSERT(rc == 0, ": %s", t_netns_err());
 *
 * The registry has no kind of its own for namespaces: they are registered
 * as T_KIND_FILE (a named namespace is the file /run/netns/NAME), so the
 * leak check counts one not freed as a temp file not removed. */
#ifndef NLB_TEST_NETNS_H
#define NLB_TEST_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define T_NETNS_NAME_MAX 64

struct t_netns {
	char name[T_NETNS_NAME_MAX];	/* nlbt-<pid>-<n>-<role> */
};

struct t_nlb;

/* Why the last failing call of this file failed (empty if none did). */
const char *t_netns_err(void);

/* Creates namespace "nlbt-<pid>-<n>-<role>" with lo up and IPv6
 * duplicate address detection off (net.ipv6.conf.{all,default}.accept_dad
 * = 0: every IPv6 address usable at once, link-local ones included),
 * registered for t_teardown.  role: lowercase letters, digits and '-', at most 24.
 * NULL (errno set) on failure.  First deletes stale namespaces, once per
 * process (t_netns_sweep). */
struct t_netns *t_netns_new(const char *role);

/* Kills every process inside ns (SIGKILL; a t_spawn handle of one is
 * still to be freed by its owner, its exit status then says SIGKILL),
 * deletes it (its interfaces go with it, a veth end's peer too) and frees
 * ns.  NULL is a no-op.  Stop what runs inside first to see it exit
 * cleanly. */
void t_netns_free(struct t_netns *ns);

/* Whether /run/netns/name exists. */
bool t_netns_exists(const char *name);

/* Deletes the namespaces "nlbt-<pid>-..." whose pid is no longer a
 * process (left by a test that crashed or was killed), after killing
 * what runs in them.  Returns how many, or -errno. */
int t_netns_sweep(void);

/* Runs `ip netns exec NAME argv...` to completion (SIGKILL after
 * timeout_ms).  Returns its exit code like t_run (0..255, 128+signal,
 * -ETIMEDOUT, -errno); *output (if not NULL) gets stdout+stderr,
 * malloc'd.  argv[0] is looked up in PATH. */
int t_netns_run(const struct t_netns *ns, const char *const argv[], int timeout_ms,
		char **output);

/* The same for `sh -c CMD`, CMD formatted from fmt. */
int t_netns_sh(const struct t_netns *ns, int timeout_ms, char **output, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Runs `ip -n NAME ARGS`, ARGS formatted from fmt and split at spaces
 * (no quoting: no argument may contain a space).  0, or -EIO when ip
 * failed (its words in t_netns_err), -ETIMEDOUT after 5 s, -errno. */
int t_netns_ip(const struct t_netns *ns, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Starts `ip netns exec NAME argv...` with t_spawn: the handle's pid is
 * argv's program itself (ip execs it after entering ns), registered like
 * any t_spawn child.  NULL (errno set) on failure. */
struct t_nlb *t_netns_spawn(const struct t_netns *ns, const char *const argv[]);

/* sysctl -w key=value inside ns (key as sysctl(8) writes it:
 * "net.ipv4.conf.eth0.rp_filter").  0 or -EIO / -errno. */
int t_netns_sysctl(const struct t_netns *ns, const char *key, const char *value);

/* Adds address cidr ("10.0.0.1/24", "fd00::1/64") to interface ifname
 * in ns; IPv6 addresses with nodad (usable at once).  0 or -errno. */
int t_netns_addr(const struct t_netns *ns, const char *ifname, const char *cidr);

/* A veth pair: a_if in a, b_if in b (made there directly, never in the
 * test's own namespace), each end with its address (cidr, or NULL for
 * none) and up.  0 or -errno. */
int t_netns_veth(const struct t_netns *a, const char *a_if, const char *a_cidr,
		 const struct t_netns *b, const char *b_if, const char *b_cidr);

/* socket(2) made inside ns: it stays there for its whole life, whichever
 * thread uses it; the calling thread is back in its own namespace on
 * return.  An fd (close it) or -errno.  Not registered with the fd leak
 * check's client list: the test closes it. */
int t_netns_socket(const struct t_netns *ns, int domain, int type, int protocol);

/* The Internet checksum (RFC 1071) of p, complemented, as a header's
 * checksum field holds it. */
uint16_t t_inet_checksum(const uint8_t *p, size_t n);

/* ICMP echo from ns to addr (an IPv4 or IPv6 literal) over a raw socket,
 * one request every 200 ms until a reply comes: 0 once one does,
 * -ETIMEDOUT after timeout_ms, -errno.  No ping binary needed. */
int t_netns_ping(const struct t_netns *ns, const char *addr, int timeout_ms);

/* Number of TCP sockets in LISTEN on port in ns (any address, IPv4 and
 * IPv6; read from ns's /proc/net/tcp and tcp6), or -errno.  t_listeners
 * (ports.h) sees only the test's own namespace. */
int t_netns_listeners(const struct t_netns *ns, uint16_t port);

/* Waits until something listens on TCP port in ns, up to timeout_ms:
 * 0, -ETIMEDOUT, or -ECHILD if h (when not NULL) exited first. */
int t_netns_wait_listening(const struct t_netns *ns, struct t_nlb *h, uint16_t port,
			   int timeout_ms);

/* Opens a queue of the multi-queue TUN device dev in ns (IFF_TUN,
 * IFF_NO_PI, IFF_MULTI_QUEUE: as nlb's workers will), non-blocking: each
 * call adds a queue.  An fd (closing it detaches the queue) or -errno. */
int t_netns_tun_queue(const struct t_netns *ns, const char *dev);

#endif
