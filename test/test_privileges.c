/* Suite "privileges": nlb started as root binds its listeners (a port
 * below 1024 among them), then runs as "user" and "group" with no
 * capability, read from /proc/PID/status; it refuses root with no user,
 * users and groups that do not exist, and a switch it cannot make when not
 * root.  "nobody" (65534) and "nogroup" (65534) are Debian's. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "helpers.h"
#include "px.h"

TestSuite(privileges, .init = t_setup, .fini = t_teardown);

/* A port below 1024 free on 127.0.0.1 now, or 0.  Started at a point that
 * depends on the pid, so tests running at once seldom try the same one. */
static uint16_t low_port(void)
{
	for (unsigned i = 0; i < 200; i++) {
		uint16_t p = (uint16_t)(800 + ((unsigned)getpid() + i * 7) % 200);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 0;
		struct sockaddr_in a = {
			.sin_family = AF_INET,
			.sin_port = htons(p),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};
		int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
		close(fd);
		if (rc == 0)
			return p;
	}
	return 0;
}

/* The line of /proc/PID/status that starts with key (e.g. "Uid:"), without
 * the key, in buf; 0 or -errno. */
static int status_field(pid_t pid, const char *key, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	char *text = t_file_read(path, NULL);
	if (!text)
		return -errno;
	int rc = -ENOENT;
	for (char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, strlen(key)) == 0) {
			char *v = l + strlen(key);
			v += strspn(v, " \t");
			size_t n = strcspn(v, "\n");
			snprintf(buf, len, "%.*s", (int)n, v);
			rc = 0;
			break;
		}
	}
	free(text);
	return rc;
}

/* Whether all four ids of the "Uid:" or "Gid:" line are id. */
static bool ids_all(pid_t pid, const char *key, unsigned id)
{
	char v[128];
	unsigned a[4];
	return status_field(pid, key, v, sizeof v) == 0 &&
	       sscanf(v, "%u %u %u %u", &a[0], &a[1], &a[2], &a[3]) == 4 &&
	       a[0] == id && a[1] == id && a[2] == id && a[3] == id;
}

/* Whether every supplementary group of pid is gid (none at all is fine). */
static bool groups_only(pid_t pid, unsigned gid)
{
	char v[512];
	if (status_field(pid, "Groups:", v, sizeof v) != 0)
		return false;
	for (char *tok = strtok(v, " \t"); tok; tok = strtok(NULL, " \t"))
		if (strtoul(tok, NULL, 10) != gid)
			return false;
	return true;
}

/* Whether the capability set on line key ("CapEff:", ...) is empty. */
static bool caps_empty(pid_t pid, const char *key)
{
	char v[64];
	return status_field(pid, key, v, sizeof v) == 0 && strtoull(v, NULL, 16) == 0;
}

static char *conf_text(const char *top, uint16_t port, uint16_t target)
{
	char *text = NULL;
	int n = asprintf(&text,
		"%s\n"
		"workers = 1;\n"
		"listeners = ( { name = \"web\"; address = \"127.0.0.1:%u\"; target_group = \"web\"; } );\n"
		"target_groups = ( { name = \"web\"; targets = ( { address = \"127.0.0.1:%u\"; } ); } );\n",
		top, port, target);
	T_ASSERT(n > 0);
	return text;
}

/* nlb on a port below 1024 with top (the privilege keys) over an echo
 * target; its config file can be read by anyone, as a reload needs. */
static void start_low(struct px *p, struct t_server **echo, const char *top)
{
	*echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(*echo);
	memset(p, 0, sizeof *p);
	p->conf.listen_port = low_port();
	T_ASSERT(p->conf.listen_port, ": no free port below 1024");
	char *text = conf_text(top, p->conf.listen_port, t_server_port(*echo));
	p->conf_path = t_write_config_exact("%s", text);
	free(text);
	T_ASSERT(p->conf_path);
	T_ASSERT(chmod(p->conf_path, 0644) == 0);
	px_spawn(p, p->conf_path);
}

static void round_trip_ok(struct px *p)
{
	int fd = px_connect(p);
	int rc = t_round_trip(fd, "ping", 4, 3000);
	px_assert(p, rc == 0, "round trip through nlb: %s", strerror(-rc));
	t_close(fd);
}

/* The test: a port below 1024 serves, and the process is nobody
 * and nogroup through and through, with no capability left. */
T_TEST(privileges, drops_to_nobody_after_binding_a_low_port, .timeout = 30)
{
	struct px p;
	struct t_server *echo;
	start_low(&p, &echo, "user = \"nobody\";");
	round_trip_ok(&p);
	pid_t pid = p.nlb->pid;
	px_assert(&p, ids_all(pid, "Uid:", 65534), "Uid is not 65534 x4");
	px_assert(&p, ids_all(pid, "Gid:", 65534), "Gid is not 65534 x4");
	px_assert(&p, groups_only(pid, 65534), "supplementary groups other than nogroup");
	px_assert(&p, caps_empty(pid, "CapEff:") && caps_empty(pid, "CapPrm:") &&
		  caps_empty(pid, "CapInh:") && caps_empty(pid, "CapAmb:"),
		  "capabilities left after the drop");
	px_assert(&p, t_nlb_log_contains(p.nlb, "privileges: running as user nobody (uid 65534), "
					  "group nogroup (gid 65534)"), "no privileges line");
	round_trip_ok(&p);
	px_stop_ok(&p);
	cr_expect_eq(px_stat(&p, "accepted"), 2);
	px_free(&p);
	t_server_free(echo);
}

/* SIGHUP re-reads the file as the user: a file only root can read is
 * refused (and nlb keeps running), the same file readable is applied. */
T_TEST(privileges, reload_reads_the_file_as_the_user, .timeout = 30)
{
	struct px p;
	struct t_server *echo;
	start_low(&p, &echo, "user = \"nobody\";");
	char *text = t_file_read(p.conf_path, NULL);
	T_ASSERT(text);
	T_ASSERT(chmod(p.conf_path, 0600) == 0);
	int rc = px_reload_text(&p, text);
	px_assert(&p, rc == 0, "a reload of a file nobody cannot read was not refused (%d)", rc);
	px_assert(&p, t_nlb_log_contains(p.nlb, "Permission denied"),
		  "the refusal does not say why");
	round_trip_ok(&p);
	T_ASSERT(chmod(p.conf_path, 0644) == 0);
	rc = px_reload_text(&p, text);
	px_assert(&p, rc == 1, "a reload of a readable file was not applied (%d)", rc);
	free(text);
	round_trip_ok(&p);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* group = names the group; the supplementary groups are the user's
 * (nobody has none) and that group. */
T_TEST(privileges, group_set_explicitly, .timeout = 30)
{
	struct group *g = getgrnam("daemon");
	if (!g)
		cr_skip_test("no group \"daemon\" here");
	unsigned gid = (unsigned)g->gr_gid;
	struct px p;
	struct t_server *echo;
	start_low(&p, &echo, "user = \"nobody\";\ngroup = \"daemon\";");
	round_trip_ok(&p);
	pid_t pid = p.nlb->pid;
	px_assert(&p, ids_all(pid, "Uid:", 65534), "Uid is not 65534 x4");
	px_assert(&p, ids_all(pid, "Gid:", gid), "Gid is not %u x4", gid);
	px_assert(&p, groups_only(pid, gid), "supplementary groups other than daemon");
	char line[128];
	snprintf(line, sizeof line, "running as user nobody (uid 65534), group daemon (gid %u)",
		 gid);
	px_assert(&p, t_nlb_log_contains(p.nlb, line), "no line \"%s\"", line);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* Runs nlb on text (written as is) and expects exit 1 with msg in its
 * output, and nothing left listening on port. */
static void expect_refused(const char *text, uint16_t port, const char *msg)
{
	char *path = t_write_config_exact("%s", text);
	T_ASSERT(path);
	const char *argv[] = { t_nlb_bin(), "-c", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	T_ASSERT(out);
	if (rc != 1 || !strstr(out, msg))
		fprintf(stderr, "---- nlb output ----\n%s----\n", out);
	T_ASSERT(rc == 1, ": exit code %d, want 1", rc);
	T_ASSERT(strstr(out, msg), ": no \"%s\" in the output", msg);
	/* Refused before binding: no socket was ever opened. */
	T_ASSERT(!strstr(out, "listener web:"), ": it got as far as the listeners");
	T_ASSERT(t_listeners(port) == 0);
	free(out);
	t_file_remove(path);
}

/* Root with neither user nor allow_root is refused at start; nlb -t only
 * checks the file, so it passes. */
T_TEST(privileges, root_without_user_is_refused, .timeout = 30)
{
	T_ASSERT(geteuid() == 0, ": the suite runs as root");
	uint16_t port = t_free_port();
	char *text = conf_text("", port, 9);
	expect_refused(text, port, "running as root with no \\\"user\\\" set: set user = "
		       "\\\"nlb\\\"; (or allow_root = true;)");

	char *path = t_write_config_exact("%s", text);
	T_ASSERT(path);
	const char *argv[] = { t_nlb_bin(), "-t", "-c", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	T_ASSERT(rc == 0, ": nlb -t exit code %d: %s", rc, out ? out : "");
	free(out);
	t_file_remove(path);
	free(text);
}

T_TEST(privileges, unknown_user_or_group_is_refused, .timeout = 30)
{
	uint16_t port = t_free_port();
	char *text = conf_text("user = \"nlb-no-such-user\";", port, 9);
	expect_refused(text, port, "user \\\"nlb-no-such-user\\\" (the \\\"user\\\" key) does not "
		       "exist on this system");
	free(text);
	text = conf_text("user = \"nobody\"; group = \"nlb-no-such-group\";", port, 9);
	expect_refused(text, port, "group \\\"nlb-no-such-group\\\" (the \\\"group\\\" key) does "
		       "not exist on this system");
	free(text);
	text = conf_text("user = \"root\";", port, 9);
	expect_refused(text, port, "user \\\"root\\\" is uid 0");
	free(text);
}

/* setpriv (util-linux) runs nlb as nobody: a switch to another user is
 * refused; "user" naming nobody itself is no switch and runs, with no
 * capability. */
T_TEST(privileges, not_root_runs_only_as_itself, .timeout = 30)
{
	const char *setpriv = "/usr/bin/setpriv";
	if (access(setpriv, X_OK) != 0)
		cr_skip_test("no %s", setpriv);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t port = t_free_port();
	char *text = conf_text("user = \"daemon\";", port, t_server_port(echo));
	char *path = t_write_config_exact("%s", text);
	free(text);
	T_ASSERT(path && chmod(path, 0644) == 0);
	const char *argv[] = { setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			       t_nlb_bin(), "-c", path, NULL };
	char *out = NULL;
	int rc = t_run(argv, 10000, &out);
	T_ASSERT(rc == 1, ": exit code %d, want 1: %s", rc, out ? out : "");
	T_ASSERT(strstr(out, "running as uid 65534, not root, so nlb cannot switch to user "
			"daemon"), ": %s", out);
	free(out);
	t_file_remove(path);

	text = conf_text("user = \"nobody\";", port, t_server_port(echo));
	path = t_write_config_exact("%s", text);
	free(text);
	T_ASSERT(path && chmod(path, 0644) == 0);
	argv[5] = "-c";
	argv[6] = path;
	struct px p;
	memset(&p, 0, sizeof p);
	p.conf.listen_port = port;
	p.conf_path = path;
	p.nlb = t_spawn(argv, NULL);
	T_ASSERT(p.nlb);
	rc = t_nlb_log_wait(p.nlb, " running: ", 5000);
	px_assert(&p, rc == 0, "nlb as nobody did not start");
	px_assert(&p, t_nlb_log_contains(p.nlb, "running as user nobody (uid 65534), group "
					  "nogroup (gid 65534), already"), "no privileges line");
	px_assert(&p, ids_all(p.nlb->pid, "Uid:", 65534) && caps_empty(p.nlb->pid, "CapEff:"));
	round_trip_ok(&p);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* systemd's other way (User=nlb, AmbientCapabilities=CAP_NET_BIND_SERVICE):
 * nlb starts as nobody holding that one capability, binds a port below
 * 1024 with it, and drops it. */
T_TEST(privileges, ambient_capability_dropped_after_binding, .timeout = 30)
{
	const char *setpriv = "/usr/bin/setpriv";
	if (access(setpriv, X_OK) != 0)
		cr_skip_test("no %s", setpriv);
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	struct px p;
	memset(&p, 0, sizeof p);
	p.conf.listen_port = low_port();
	T_ASSERT(p.conf.listen_port, ": no free port below 1024");
	char *text = conf_text("user = \"nobody\";", p.conf.listen_port, t_server_port(echo));
	p.conf_path = t_write_config_exact("%s", text);
	free(text);
	T_ASSERT(p.conf_path && chmod(p.conf_path, 0644) == 0);
	const char *argv[] = { setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			       "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
			       t_nlb_bin(), "-c", p.conf_path, NULL };
	p.nlb = t_spawn(argv, NULL);
	T_ASSERT(p.nlb);
	int rc = t_nlb_log_wait(p.nlb, " running: ", 5000);
	px_assert(&p, rc == 0, "nlb as nobody with CAP_NET_BIND_SERVICE did not start");
	round_trip_ok(&p);
	pid_t pid = p.nlb->pid;
	px_assert(&p, ids_all(pid, "Uid:", 65534), "Uid is not 65534 x4");
	px_assert(&p, caps_empty(pid, "CapEff:") && caps_empty(pid, "CapPrm:") &&
		  caps_empty(pid, "CapInh:") && caps_empty(pid, "CapAmb:"),
		  "the capability is still held after binding");
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
}

/* The kernel forgets a process's parent-death signal when its uid
 * changes; nlb sets it again, so a supervisor (here a child of the test
 * that asked for SIGKILL) that dies still takes nlb with it. */
T_TEST(privileges, parent_death_signal_survives_the_drop, .timeout = 30)
{
	struct t_server *echo = t_server_start(T_SRV_ECHO, 0);
	T_ASSERT(echo);
	uint16_t port = t_free_port();
	char *text = conf_text("user = \"nobody\";", port, t_server_port(echo));
	char *path = t_write_config_exact("%s", text);
	free(text);
	T_ASSERT(path);
	int pfd[2];
	T_ASSERT(pipe(pfd) == 0);
	pid_t sup = fork();
	T_ASSERT(sup >= 0);
	if (sup == 0) {
		pid_t nlb = fork();
		if (nlb == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			int null = open("/dev/null", O_RDWR);
			dup2(null, 1);
			dup2(null, 2);
			execl(t_nlb_bin(), t_nlb_bin(), "-c", path, (char *)NULL);
			_exit(127);
		}
		if (write(pfd[1], &nlb, sizeof nlb) != sizeof nlb)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	pid_t nlb = 0;
	T_ASSERT(read(pfd[0], &nlb, sizeof nlb) == sizeof nlb && nlb > 0);
	close(pfd[0]);
	/* Dropped: the uid changed and the listener is up. */
	int64_t deadline = t_now_ms() + 5000;
	while (t_now_ms() < deadline && !(ids_all(nlb, "Uid:", 65534) && t_listeners(port) > 0))
		t_sleep_ms(10);
	bool dropped = ids_all(nlb, "Uid:", 65534) && t_listeners(port) > 0;
	kill(sup, SIGKILL);
	waitpid(sup, NULL, 0);
	/* Gone, or a zombie waiting for init. */
	bool gone = false;
	deadline = t_now_ms() + 5000;
	while (!gone && t_now_ms() < deadline) {
		char state[64];
		gone = kill(nlb, 0) != 0 || (status_field(nlb, "State:", state, sizeof state) == 0 &&
					     state[0] == 'Z');
		if (!gone)
			t_sleep_ms(10);
	}
	if (!gone)
		kill(nlb, SIGKILL);
	t_file_remove(path);
	t_server_free(echo);
	T_ASSERT(dropped, ": nlb did not start as nobody");
	T_ASSERT(gone, ": nlb outlived its parent after the drop");
}

/* Whether a process with uid and gid (no supplementary group) may
 * connect to the Unix socket at path: 0, or the errno it got. */
static int connect_as(const char *path, uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(126);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		_exit(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ? 0 : errno);
	}
	int st;
	T_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The admin socket after the drop: root's file in the group nlb runs as,
 * with exactly the configured mode; with 0660 a member of that group may
 * connect and another user may not, with 0600 neither. */
static void admin_socket_owner(unsigned mode)
{
	char sock[64], top[256];
	snprintf(sock, sizeof(sock), "/tmp/nlb-priv-%d.sock", (int)getpid());
	snprintf(top, sizeof(top), "user = \"nobody\"; group = \"nogroup\";\n"
		 "admin = { socket = \"%s\"; mode = 0%o; };", sock, mode);
	struct px p;
	struct t_server *echo;
	start_low(&p, &echo, top);
	struct stat st;
	px_assert(&p, stat(sock, &st) == 0, "no admin socket: %s", strerror(errno));
	px_assert(&p, st.st_uid == 0 && st.st_gid == 65534 && (st.st_mode & 07777) == mode,
		  "admin socket %u:%u mode %04o, want 0:65534 mode %04o", (unsigned)st.st_uid,
		  (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777), mode);
	/* uid 1 (daemon): in nogroup for the first, in its own group next */
	int member = connect_as(sock, 1, 65534), other = connect_as(sock, 1, 1);
	if (mode == 0660)
		cr_expect_eq(member, 0, "a member of nlb's group was refused: %s", strerror(member));
	else
		cr_expect_eq(member, EACCES, "mode 0600 let a group member in (%s)", strerror(member));
	cr_expect_eq(other, EACCES, "another user could connect (%s)", strerror(other));
	cr_expect_eq(connect_as(sock, 0, 0), 0, "root could not connect");
	round_trip_ok(&p);
	px_stop_ok(&p);
	px_free(&p);
	t_server_free(echo);
	unlink(sock);
}

T_TEST(privileges, admin_socket_0660_opens_to_nlbs_group_only, .timeout = 30)
{
	admin_socket_owner(0660);
}

T_TEST(privileges, admin_socket_0600_opens_to_root_only, .timeout = 30)
{
	admin_socket_owner(0600);
}
