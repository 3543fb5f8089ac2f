/* Network namespaces for tests (see netns.h): `ip` for everything that
 * configures them, setns(2) on the calling thread for the sockets and TUN
 * queues the test process opens inside them. */
#include "netns.h"

#include "ports.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nlb_process.h"
#include "registry.h"
#include "time_ms.h"

#define NETNS_DIR "/run/netns"
#define NETNS_PREFIX "nlbt-"
#define NETNS_ROLE_MAX 24
#define NETNS_ARGV_MAX 48
#define NETNS_IP_TIMEOUT_MS 5000

static char err_text[2048];

const char *t_netns_err(void)
{
	return err_text;
}

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void set_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_text, sizeof err_text, fmt, ap);
	va_end(ap);
}

/* argv joined by spaces into buf, for messages. */
static const char *joined(const char *const argv[], char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; argv[i] && n + 1 < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? " " : "", argv[i]);
	return buf;
}

/* Records that argv ended with rc and said output (trailing newlines
 * dropped). */
static void set_run_err(const char *const argv[], int rc, const char *output)
{
	char cmd[512];
	size_t len = output ? strlen(output) : 0;
	while (len && output[len - 1] == '\n')
		len--;
	if (rc >= 0)
		set_err("`%s` exited %d%s%.*s", joined(argv, cmd, sizeof cmd), rc,
			len ? ": " : "", (int)(len > 1200 ? 1200 : len), output ? output : "");
	else
		set_err("`%s`: %s%s%.*s", joined(argv, cmd, sizeof cmd), strerror(-rc),
			len ? ": " : "", (int)(len > 1200 ? 1200 : len), output ? output : "");
}

/* iproute2's ip; execv does not search PATH. */
static const char *ip_bin(void)
{
	static const char *const where[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };
	for (size_t i = 0; i < sizeof where / sizeof *where; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* t_run of argv; on failure the reason is in err_text. */
static int run(const char *const argv[], int timeout_ms, char **output)
{
	char *out = NULL;
	int rc = t_run(argv, timeout_ms, &out);
	if (rc != 0)
		set_run_err(argv, rc, out);
	if (output)
		*output = out;
	else
		free(out);
	return rc;
}

/* Runs `ip` with args (NULL-terminated list after the first); 0, -EIO or
 * -errno. */
static int ip_run(const char *const args[])
{
	const char *argv[NETNS_ARGV_MAX];
	size_t n = 0;
	argv[n++] = ip_bin();
	if (!argv[0]) {
		set_err("iproute2's ip is not installed (looked in /usr/sbin, /sbin, /usr/bin, /bin)");
		return -ENOENT;
	}
	for (size_t i = 0; args[i] && n < NETNS_ARGV_MAX - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int rc = run(argv, NETNS_IP_TIMEOUT_MS, NULL);
	return rc > 0 ? -EIO : rc;
}

bool t_netns_exists(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, NETNS_DIR "/%s", name);
	return access(path, F_OK) == 0;
}

/* SIGKILLs every process whose network namespace is /run/netns/name
 * (what `ip netns pids` lists), never this one.  Returns how many. */
static int kill_inside(const char *name)
{
	char path[PATH_MAX];
	struct stat ns, st;
	snprintf(path, sizeof path, NETNS_DIR "/%s", name);
	if (stat(path, &ns) != 0)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
		if (stat(path, &st) == 0 && st.st_dev == ns.st_dev && st.st_ino == ns.st_ino &&
		    kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* ip netns del name; 0 or -errno (reason in err_text). */
static int delete_ns(const char *name)
{
	const char *args[] = { "netns", "del", name, NULL };
	return ip_run(args);
}

void t_netns_free(struct t_netns *ns)
{
	if (!ns)
		return;
	kill_inside(ns->name);
	if (t_netns_exists(ns->name) && delete_ns(ns->name) != 0)
		fprintf(stderr, "netns: deleting %s: %s\n", ns->name, t_netns_err());
	t_unregister(T_KIND_FILE, ns);
	free(ns);
}

static void netns_reclaim(void *obj)
{
	t_netns_free(obj);
}

int t_netns_sweep(void)
{
	DIR *d = opendir(NETNS_DIR);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid;
		if (sscanf(e->d_name, NETNS_PREFIX "%d-", &pid) != 1 || pid <= 0 ||
		    pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		kill_inside(e->d_name);
		if (delete_ns(e->d_name) == 0) {
			fprintf(stderr, "netns: deleted %s, left by a test process that is gone\n",
				e->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

struct t_netns *t_netns_new(const char *role)
{
	static unsigned seq;
	static pid_t swept;
	size_t len = strlen(role);
	if (len == 0 || len > NETNS_ROLE_MAX || strspn(role, "abcdefghijklmnopqrstuvwxyz0123456789-") != len) {
		set_err("netns role \"%s\": want 1..%d of [a-z0-9-]", role, NETNS_ROLE_MAX);
		errno = EINVAL;
		return NULL;
	}
	/* Once per test process (Criterion forks one per test). */
	if (swept != getpid()) {
		swept = getpid();
		t_netns_sweep();
	}
	struct t_netns *ns = calloc(1, sizeof *ns);
	if (!ns)
		return NULL;
	snprintf(ns->name, sizeof ns->name, NETNS_PREFIX "%d-%u-%s", (int)getpid(), ++seq, role);
	const char *add[] = { "netns", "add", ns->name, NULL };
	int rc = ip_run(add);
	if (rc != 0) {
		free(ns);
		errno = -rc;
		return NULL;
	}
	t_register(T_KIND_FILE, ns, netns_reclaim);
	/* A new namespace's lo is down: even 127.0.0.1 would not work.  And
	 * no duplicate address detection on the interfaces made later: not
	 * only for the addresses tests add (those get nodad), but for the
	 * link-local ones too, which a router needs at once -- until its
	 * link-local address on a link has passed DAD (1 s or more) it sends
	 * no neighbour solicitation there, so it cannot forward IPv6. */
	rc = t_netns_ip(ns, "link set lo up");
	if (rc == 0) {
		const char *argv[] = { "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
				       "net.ipv6.conf.default.accept_dad=0", NULL };
		rc = t_netns_run(ns, argv, NETNS_IP_TIMEOUT_MS, NULL);
		rc = rc > 0 ? -EIO : rc;
	}
	if (rc != 0) {
		char why[sizeof err_text];
		snprintf(why, sizeof why, "%s", err_text);
		t_netns_free(ns);
		snprintf(err_text, sizeof err_text, "%s", why);
		errno = -rc;
		return NULL;
	}
	return ns;
}

/* argv for `ip netns exec NAME cmd...` into out (NETNS_ARGV_MAX). */
static int exec_argv(const struct t_netns *ns, const char *const cmd[], const char **out)
{
	size_t n = 0;
	out[n++] = ip_bin();
	if (!out[0]) {
		set_err("iproute2's ip is not installed");
		return -ENOENT;
	}
	out[n++] = "netns";
	out[n++] = "exec";
	out[n++] = ns->name;
	for (size_t i = 0; cmd[i]; i++) {
		if (n == NETNS_ARGV_MAX - 1) {
			set_err("netns: more than %d arguments", NETNS_ARGV_MAX - 5);
			return -E2BIG;
		}
		out[n++] = cmd[i];
	}
	out[n] = NULL;
	return 0;
}

int t_netns_run(const struct t_netns *ns, const char *const argv[], int timeout_ms,
		char **output)
{
	const char *full[NETNS_ARGV_MAX];
	if (output)
		*output = NULL;
	int rc = exec_argv(ns, argv, full);
	return rc ? rc : run(full, timeout_ms, output);
}

int t_netns_sh(const struct t_netns *ns, int timeout_ms, char **output, const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	const char *argv[] = { "sh", "-c", cmd, NULL };
	int rc = t_netns_run(ns, argv, timeout_ms, output);
	free(cmd);
	return rc;
}

int t_netns_ip(const struct t_netns *ns, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof line) {
		set_err("netns: ip command too long: %s", fmt);
		return -E2BIG;
	}
	const char *args[NETNS_ARGV_MAX];
	size_t n = 0;
	args[n++] = "-n";
	args[n++] = ns->name;
	char *save;
	for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n == NETNS_ARGV_MAX - 2) {
			set_err("netns: too many words in ip %s", fmt);
			return -E2BIG;
		}
		args[n++] = w;
	}
	args[n] = NULL;
	return ip_run(args);
}

struct t_nlb *t_netns_spawn(const struct t_netns *ns, const char *const argv[])
{
	const char *full[NETNS_ARGV_MAX];
	int rc = exec_argv(ns, argv, full);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	struct t_nlb *h = t_spawn(full, NULL);
	if (!h) {
		char cmd[512];
		set_err("starting `%s`: %s", joined(full, cmd, sizeof cmd), strerror(errno));
	}
	return h;
}

int t_netns_sysctl(const struct t_netns *ns, const char *key, const char *value)
{
	char kv[256];
	snprintf(kv, sizeof kv, "%s=%s", key, value);
	const char *argv[] = { "sysctl", "-q", "-w", kv, NULL };
	int rc = t_netns_run(ns, argv, NETNS_IP_TIMEOUT_MS, NULL);
	return rc > 0 ? -EIO : rc;
}

int t_netns_addr(const struct t_netns *ns, const char *ifname, const char *cidr)
{
	if (strchr(cidr, ':'))
		return t_netns_ip(ns, "-6 addr add %s dev %s nodad", cidr, ifname);
	return t_netns_ip(ns, "addr add %s dev %s", cidr, ifname);
}

int t_netns_veth(const struct t_netns *a, const char *a_if, const char *a_cidr,
		 const struct t_netns *b, const char *b_if, const char *b_cidr)
{
	int rc = t_netns_ip(a, "link add %s type veth peer name %s netns %s", a_if, b_if, b->name);
	if (rc == 0 && a_cidr)
		rc = t_netns_addr(a, a_if, a_cidr);
	if (rc == 0 && b_cidr)
		rc = t_netns_addr(b, b_if, b_cidr);
	if (rc == 0)
		rc = t_netns_ip(a, "link set %s up", a_if);
	if (rc == 0)
		rc = t_netns_ip(b, "link set %s up", b_if);
	return rc;
}

/* Moves the calling thread into ns; *back is its own namespace, for
 * leave().  0 or -errno. */
static int enter(const struct t_netns *ns, int *back)
{
	char path[PATH_MAX];
	*back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*back < 0)
		return -errno;
	snprintf(path, sizeof path, NETNS_DIR "/%s", ns->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = fd < 0 || setns(fd, CLONE_NEWNET) != 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (rc) {
		set_err("entering netns %s: %s", ns->name, strerror(-rc));
		close(*back);
	}
	return rc;
}

static void leave(int back)
{
	/* Going on in the wrong namespace would make every later result a
	 * lie. */
	if (setns(back, CLONE_NEWNET) != 0) {
		perror("netns: setns back to the test's own namespace");
		abort();
	}
	close(back);
}

int t_netns_socket(const struct t_netns *ns, int domain, int type, int protocol)
{
	int back;
	int rc = enter(ns, &back);
	if (rc)
		return rc;
	int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
	int e = errno;
	leave(back);
	if (fd < 0) {
		set_err("socket(%d, %d, %d) in netns %s: %s", domain, type, protocol, ns->name,
			strerror(e));
		return -e;
	}
	return fd;
}

uint16_t t_inet_checksum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int t_netns_ping(const struct t_netns *ns, const char *addr, int timeout_ms)
{
	static unsigned calls;
	struct sockaddr_storage to = { 0 };
	struct sockaddr_in *to4 = (struct sockaddr_in *)&to;
	struct sockaddr_in6 *to6 = (struct sockaddr_in6 *)&to;
	bool v6 = strchr(addr, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, addr, &to6->sin6_addr) != 1
	       : inet_pton(AF_INET, addr, &to4->sin_addr) != 1) {
		set_err("ping: \"%s\" is not an IP address", addr);
		return -EINVAL;
	}
	to.ss_family = v6 ? AF_INET6 : AF_INET;
	socklen_t to_len = v6 ? sizeof *to6 : sizeof *to4;
	int fd = t_netns_socket(ns, to.ss_family, SOCK_RAW, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0)
		return fd;
	uint16_t id = (uint16_t)(getpid() * 31 + ++calls);
	int64_t deadline = t_now_ms() + timeout_ms, next = 0;
	unsigned sent = 0;
	int rc = -ETIMEDOUT;
	while (rc == -ETIMEDOUT && t_now_ms() < deadline) {
		if (t_now_ms() >= next) {
			uint8_t req[24] = { v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO, 0, 0, 0,
					    (uint8_t)(id >> 8), (uint8_t)id,
					    (uint8_t)(sent >> 8), (uint8_t)sent };
			memcpy(req + 8, "nlb-test-ping!!!", 16);
			if (!v6) {	/* the kernel sums ICMPv6 itself */
				uint16_t c = t_inet_checksum(req, sizeof req);
				req[2] = (uint8_t)(c >> 8);
				req[3] = (uint8_t)c;
			}
			if (sendto(fd, req, sizeof req, 0, (struct sockaddr *)&to, to_len) < 0 &&
			    errno != EHOSTUNREACH && errno != ENETUNREACH) {
				rc = -errno;
				set_err("ping %s from netns %s: sendto: %s", addr, ns->name,
					strerror(errno));
				break;
			}
			sent++;
			next = t_now_ms() + 200;
		}
		int64_t until = next < deadline ? next : deadline;
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, t_left_ms(until)) != 1)
			continue;
		uint8_t buf[2048];
		struct sockaddr_storage from;
		socklen_t from_len = sizeof from;
		ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from,
				     &from_len);
		if (n <= 0)
			continue;
		const uint8_t *icmp = buf;
		if (!v6) {	/* IPv4 raw sockets get the IP header too */
			size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
			if ((size_t)n < ihl + 8)
				continue;
			icmp = buf + ihl;
			n -= (ssize_t)ihl;
		}
		bool same_src = v6 ? !memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr,
					     &to6->sin6_addr, 16)
				   : ((struct sockaddr_in *)&from)->sin_addr.s_addr ==
					     to4->sin_addr.s_addr;
		if (n >= 8 && icmp[0] == (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) &&
		    icmp[4] == (uint8_t)(id >> 8) && icmp[5] == (uint8_t)id && same_src)
			rc = 0;
	}
	if (rc == -ETIMEDOUT)
		set_err("ping %s from netns %s: no echo reply within %d ms (%u requests sent)",
			addr, ns->name, timeout_ms, sent);
	close(fd);
	return rc;
}

int t_netns_listeners(const struct t_netns *ns, uint16_t port)
{
	int back;
	int rc = enter(ns, &back);
	if (rc)
		return rc;
	/* /proc/thread-self/net is the calling thread's namespace, now ns. */
	int n = t_listeners_in("/proc/thread-self/net/tcp", port) +
		t_listeners_in("/proc/thread-self/net/tcp6", port);
	leave(back);
	return n;
}

int t_netns_wait_listening(const struct t_netns *ns, struct t_nlb *h, uint16_t port,
			   int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	for (;;) {
		int n = t_netns_listeners(ns, port);
		if (n > 0)
			return 0;
		if (n < 0)
			return n;
		if (h && t_nlb_wait(h, 0) != -ETIMEDOUT) {
			set_err("netns %s: the process meant to listen on port %u exited", ns->name,
				port);
			return -ECHILD;
		}
		if (t_now_ms() >= deadline) {
			set_err("netns %s: nothing listens on TCP port %u after %d ms", ns->name, port,
				timeout_ms);
			return -ETIMEDOUT;
		}
		t_sleep_ms(10);
	}
}

int t_netns_tun_queue(const struct t_netns *ns, const char *dev)
{
	int back;
	int rc = enter(ns, &back);
	if (rc)
		return rc;
	/* The tun file takes the namespace it is opened in: TUNSETIFF finds
	 * dev there. */
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE };
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
	rc = fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0 ? -errno : 0;
	leave(back);
	if (rc) {
		set_err("%s queue of TUN %s in netns %s: %s", fd < 0 ? "opening /dev/net/tun for a"
			: "TUNSETIFF: attaching a", dev, ns->name, strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}
