/* The admin socket: its file, and its line protocol on a poll server
 * (poll_server.h) of up to NLB_ADMIN_CLIENTS connections, each with a
 * bounded line buffer in and a reply buffer out.  A command runs to
 * completion here (target changes under rt->ctl_lock, through
 * target_set), so replies come in the order of the commands.  Nothing a
 * client sends is trusted: lines are bounded, NUL bytes and unknown
 * words are errors, and no input can stop the loop or make it buffer
 * without bound. */
#include "clock.h"
#include "control/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin_command.h"
#include "balance/pick.h"
#include "control/health.h"
#include "control/poll_server.h"
#include "health_check.h"
#include "http_rules.h"
#include "core/listener.h"
#include "core/privileges.h"
#include "core/worker.h"
#include "log.h"
#include "tls_server.h"
#include "control/reload.h"
#include "control/stats.h"
#include "balance/target_set.h"
#include "tunables.h"

/* ---- arguments -------------------------------------------------------- */

static int group_find(const struct nlb_runtime *rt, const char *name, size_t *g,
		      char *err, size_t errlen)
{
	for (size_t i = 0; i < rt->cfg->n_groups; i++) {
		/* A group a reload removed only drains: nothing to do to it. */
		if (!rt->cfg->groups[i].removed && strcmp(rt->cfg->groups[i].name, name) == 0) {
			*g = i;
			return 0;
		}
	}
	char q[NLB_ADMIN_QUOTED_MAX];
	snprintf(err, errlen, "unknown target group \"%s\"", nlb_admin_quoted(name, q));
	return -ENOENT;
}

/* ---- commands --------------------------------------------------------- */

/* Each writes its data lines into c and returns 0, or -errno with the
 * reason in err; run_line adds the final "ok" or "error: ...".  op is the
 * command (enum nlb_admin_cmd: which target change, for cmd_target), args
 * its n words after verb and noun (admin_command.h read them). */
typedef int admin_cmd_fn(struct admin *a, struct poll_client *c, int op, char **args,
			 unsigned n, char *err, size_t errlen);

static int cmd_show_targets(struct admin *a, struct poll_client *c, int op, char **args,
			    unsigned n, char *err, size_t errlen)
{
	(void)op;
	struct nlb_runtime *rt = a->rt;
	size_t only = 0;
	if (n == 1) {
		int ret = group_find(rt, args[0], &only, err, errlen);
		if (ret < 0)
			return ret;
	}
	uint64_t now = nlb_clock_ms();
	pthread_mutex_lock(&rt->ctl_lock);
	for (size_t g = 0; g < rt->cfg->n_groups; g++) {
		if (n == 1 && g != only)
			continue;
		const struct group_rt *grt = &rt->groups[g];
		for (uint32_t i = 0; i < grt->n_slots; i++) {
			const struct target_rt *t = &grt->targets[i];
			enum target_state st = target_state(rt, g, i);
			if (st == TARGET_FREE)
				continue;
			const char *health = "unchecked";
			if (grt->conf->health.enabled)
				health = nlb_hc_state_name((enum nlb_hc_state)atomic_load_explicit(
					&grt->health[i], memory_order_relaxed));
			nlb_strbuf_printf(&c->out, "group=%s target=%s weight=%u health=%s "
					  "state=%s connections=%llu", grt->conf->name,
					  t->addr_text, (unsigned)t->weight, health,
					  st == TARGET_ACTIVE ? "active" : "draining",
					  (unsigned long long)pick_active_conns(rt, g, i));
			if (st != TARGET_ACTIVE && t->drain_until_ms == TARGET_NO_DEADLINE)
				nlb_strbuf_printf(&c->out, " deadline_ms=none");
			else if (st != TARGET_ACTIVE)
				nlb_strbuf_printf(&c->out, " deadline_ms=%llu", (unsigned long long)
						  (t->drain_until_ms > now ? t->drain_until_ms - now : 0));
			nlb_strbuf_printf(&c->out, "\n");
		}
	}
	pthread_mutex_unlock(&rt->ctl_lock);
	return 0;
}

static int cmd_show_listeners(struct admin *a, struct poll_client *c, int op, char **args,
			      unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n, (void)err, (void)errlen;
	const struct nlb_runtime *rt = a->rt;
	for (size_t l = 0; l < rt->cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &rt->cfg->listeners[l];
		enum listener_state st = atomic_load_explicit(&rt->listeners[l].state,
							      memory_order_relaxed);
		if (st == LISTENER_CLOSED)
			continue;
		nlb_strbuf_printf(&c->out, "listener=%s protocol=%s address=%s group=%s",
				  lc->name, nlb_protocol_name(lc->protocol), lc->addr_text,
				  lc->target_group);
		if (st == LISTENER_CLOSING)
			nlb_strbuf_printf(&c->out, " state=closing");
		if (nlb_proto_tcp(lc->protocol)) {
			uint64_t open = 0;
			for (unsigned i = 0; i < a->n_workers; i++)
				if (l < a->workers[i].n_stats)
					open += atomic_load_explicit(&a->workers[i].stats[l].active,
								     memory_order_relaxed);
			nlb_strbuf_printf(&c->out, " connections=%llu", (unsigned long long)open);
		}
		if (nlb_proto_udp(lc->protocol))
			nlb_strbuf_printf(&c->out, " flows=%u", (unsigned)atomic_load_explicit(
				&rt->listeners[l].udp_flows, memory_order_relaxed));
		nlb_strbuf_printf(&c->out, "\n");
	}
	return 0;
}

static int cmd_show_announce(struct admin *a, struct poll_client *c, int op, char **args,
			     unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n;
	const struct nlb_runtime *rt = a->rt;
	const struct nlb_config *cfg = rt->cfg;
	if (!cfg->announce_enabled || !rt->announced) {
		snprintf(err, errlen, "no announce in the configuration");
		return -ENOENT;
	}
	for (size_t i = 0; i < cfg->n_announce; i++)
		nlb_strbuf_printf(&c->out, "prefix=%s table=%u protocol=249 metric=%u state=%s\n",
				  cfg->announce_prefixes[i].text, cfg->announce_table,
				  (unsigned)getpid(), atomic_load_explicit(&rt->announced[i],
				  memory_order_relaxed) ? "announced" : "withdrawn");
	return 0;
}

static void stat_line(void *arg, const char *name, uint64_t value)
{
	struct poll_client *c = arg;
	nlb_strbuf_printf(&c->out, "%s=%llu\n", name, (unsigned long long)value);
}

static int cmd_show_stats(struct admin *a, struct poll_client *c, int op, char **args,
			  unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n, (void)err, (void)errlen;
	stats_visit(a->workers, a->n_workers, a->rt, a->health, &a->counters, stat_line, c);
	return 0;
}

/* add, set weight, drain, remove: the group first (an unknown one is the
 * error, whatever follows), then ADDR [...] as admin_command.h reads
 * them; the change is made under ctl_lock. */
static int cmd_target(struct admin *a, struct poll_client *c, int op, char **args, unsigned n,
		      char *err, size_t errlen)
{
	(void)c;
	size_t g;
	struct nlb_target_conf tc;
	bool weight_given;
	int ret = group_find(a->rt, args[0], &g, err, errlen);
	if (ret < 0)
		return ret;
	ret = nlb_admin_target_parse((enum nlb_admin_cmd)op, args, n, &tc, &weight_given, err,
				     errlen);
	if (ret < 0)
		return ret;
	struct nlb_runtime *rt = a->rt;
	uint64_t now = nlb_clock_ms();
	pthread_mutex_lock(&rt->ctl_lock);
	switch (op) {
	case NLB_ADMIN_ADD_TARGET:
		ret = targets_add_one(rt, g, &tc, weight_given, err, errlen);
		break;
	case NLB_ADMIN_SET_WEIGHT:
		ret = targets_set_weight(rt, g, &tc.addr, tc.addr_text, tc.weight, err, errlen);
		break;
	case NLB_ADMIN_DRAIN_TARGET:
		ret = targets_drain_one(rt, g, &tc.addr, tc.addr_text, now, err, errlen);
		break;
	case NLB_ADMIN_REMOVE_TARGET:
		ret = targets_remove_one(rt, g, &tc.addr, tc.addr_text, now, err, errlen);
		break;
	}
	pthread_mutex_unlock(&rt->ctl_lock);
	return ret;
}

/* The same reload as SIGHUP's; reload_config takes its own locks (and
 * serialises with a SIGHUP arriving meanwhile). */
static int cmd_reload(struct admin *a, struct poll_client *c, int op, char **args,
		      unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n;
	char msg[1024];
	nlb_info("admin: reloading %s", a->rt->cfg->path);
	int ret = reload_config(a->rt, a->rt->cfg->path, nlb_clock_ms(), msg, sizeof(msg));
	if (ret < 0) {
		snprintf(err, errlen, "%s", msg);
		return ret;
	}
	nlb_strbuf_printf(&c->out, "%s\n", msg);
	return 0;
}

static int cmd_reopen(struct admin *a, struct poll_client *c, int op, char **args,
		      unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n, (void)err, (void)errlen;
	atomic_fetch_add_explicit(&a->rt->access_log_reopen, 1, memory_order_relaxed);
	nlb_info("admin: reopening the access log");
	nlb_strbuf_printf(&c->out, "the access log reopens within %d ms\n", NLB_ACCESS_LOG_FLUSH_MS);
	return 0;
}

static int cmd_help(struct admin *a, struct poll_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen);

static int cmd_quit(struct admin *a, struct poll_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen)
{
	(void)a, (void)op, (void)args, (void)n, (void)err, (void)errlen;
	c->closing = true;
	return 0;
}

/* Each tls listener's certificates, as loaded by the configuration in
 * force: file, subject, names, key type and expiry, one line each. */
static int cmd_show_certificates(struct admin *a, struct poll_client *c, int op, char **args,
				 unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n, (void)err, (void)errlen;
	const struct nlb_config *cfg = a->rt->cfg;
	time_t now = time(NULL);
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		if (!nlb_proto_tls(lc->protocol) || lc->removed || !lc->tls.server)
			continue;
		for (size_t i = 0; i < nlb_tls_server_n_certs(lc->tls.server); i++) {
			const struct nlb_tls_cert_info *ci = nlb_tls_server_cert(lc->tls.server, i);
			char when[32] = "?";
			time_t t = (time_t)ci->not_after;
			struct tm tm;
			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			nlb_strbuf_printf(&c->out, "listener=%s file=%s default=%s key=%s not_after=%s "
					  "days_left=%lld names=%s subject=\"%s\"\n", lc->name,
					  ci->file, i == 0 ? "yes" : "no", ci->key_type, when,
					  (long long)((ci->not_after - (int64_t)now) / 86400),
					  ci->names[0] ? ci->names : "-", ci->subject);
		}
	}
	return 0;
}

/* Each http listener's rules in priority order, as loaded (their
 * canonical text), with their matches; then its default action's. */
static int cmd_show_rules(struct admin *a, struct poll_client *c, int op, char **args,
			  unsigned n, char *err, size_t errlen)
{
	(void)op;
	const struct nlb_config *cfg = a->rt->cfg;
	bool found = false;
	for (size_t l = 0; l < cfg->n_listeners; l++) {
		const struct nlb_listener_conf *lc = &cfg->listeners[l];
		if (!nlb_proto_http(lc->protocol) || lc->removed || (n && strcmp(args[0], lc->name)))
			continue;
		found = true;
		const struct nlb_http_rules *r = lc->http.rules;
		const char *line = r ? r->text : "";
		for (size_t i = 0; r && i < r->n && *line; i++) {
			const char *nl = strchr(line, '\n');
			int len = nl ? (int)(nl - line) : (int)strlen(line);
			nlb_strbuf_printf(&c->out, "listener=%s %.*s matches=%llu\n", lc->name, len, line,
					  (unsigned long long)nlb_http_rules_hits(r, i));
			line = nl ? nl + 1 : line + len;
		}
		nlb_strbuf_printf(&c->out, "listener=%s priority=default -> forward %s matches=%llu\n",
				  lc->name, lc->target_group,
				  (unsigned long long)(r ? nlb_http_rules_hits(r, r->n) : 0));
	}
	if (n && !found) {
		char q[NLB_ADMIN_QUOTED_MAX];
		snprintf(err, errlen, "no http listener \"%s\"", nlb_admin_quoted(args[0], q));
		return -ENOENT;
	}
	return 0;
}

/* What runs each command of admin_command.h's table. */
static admin_cmd_fn *const run[NLB_ADMIN_CMD_COUNT] = {
	[NLB_ADMIN_SHOW_TARGETS] = cmd_show_targets,
	[NLB_ADMIN_SHOW_LISTENERS] = cmd_show_listeners,
	[NLB_ADMIN_SHOW_STATS] = cmd_show_stats,
	[NLB_ADMIN_SHOW_CERTIFICATES] = cmd_show_certificates,
	[NLB_ADMIN_SHOW_RULES] = cmd_show_rules,
	[NLB_ADMIN_SHOW_ANNOUNCE] = cmd_show_announce,
	[NLB_ADMIN_ADD_TARGET] = cmd_target,
	[NLB_ADMIN_SET_WEIGHT] = cmd_target,
	[NLB_ADMIN_DRAIN_TARGET] = cmd_target,
	[NLB_ADMIN_REMOVE_TARGET] = cmd_target,
	[NLB_ADMIN_RELOAD] = cmd_reload,
	[NLB_ADMIN_REOPEN] = cmd_reopen,
	[NLB_ADMIN_HELP] = cmd_help,
	[NLB_ADMIN_QUIT] = cmd_quit,
};

static int cmd_help(struct admin *a, struct poll_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen)
{
	(void)a, (void)op, (void)args, (void)n, (void)err, (void)errlen;
	for (int i = NLB_ADMIN_NONE + 1; i < NLB_ADMIN_CMD_COUNT; i++) {
		const struct nlb_admin_syntax *s = nlb_admin_syntax((enum nlb_admin_cmd)i);
		nlb_strbuf_printf(&c->out, "%-34s %s\n", s->usage, s->help);
	}
	return 0;
}

static void reply_error(struct admin *a, struct poll_client *c, const char *msg)
{
	atomic_fetch_add_explicit(&a->counters.errors, 1, memory_order_relaxed);
	nlb_strbuf_printf(&c->out, "error: %s\n", msg);
}

/* One command line (its '\n' taken off, len bytes, NUL-terminated). */
static void run_line(struct admin *a, struct poll_client *c, char *line, size_t len)
{
	struct nlb_admin_command cmd;
	char err[1280];
	int ret = nlb_admin_parse(line, len, &cmd, err, sizeof(err));
	if (ret == 0 && cmd.cmd == NLB_ADMIN_NONE)
		return;		/* an empty line is no command: no reply */
	atomic_fetch_add_explicit(&a->counters.commands, 1, memory_order_relaxed);
	if (ret < 0) {
		reply_error(a, c, err);
		return;
	}
	const struct nlb_admin_syntax *s = nlb_admin_syntax(cmd.cmd);
	nlb_debug("admin: %s%s%s", s->verb, s->noun ? " " : "", s->noun ? s->noun : "");
	ret = run[cmd.cmd](a, c, cmd.cmd, cmd.args, cmd.n_args, err, sizeof(err));
	if (ret < 0)
		reply_error(a, c, err);
	else
		nlb_strbuf_printf(&c->out, "ok\n");
}

/* ---- connections ------------------------------------------------------ */

/* Room for a longest line and its '\n'; a line cut short by EOF is
 * NUL-terminated in place, in the room a longest one leaves. */
#define ADMIN_IN_MAX (NLB_ADMIN_LINE_MAX + 1)

/* Runs the complete lines received while replies do not pile up. */
static void admin_input(void *arg, struct poll_client *c)
{
	struct admin *a = arg;
	while (!c->closing && poll_client_out_pending(c) < NLB_ADMIN_OUT_HIGH) {
		size_t len;
		int n = nlb_admin_line_next(c->in, c->in_len, ADMIN_IN_MAX, c->eof, &len);
		if (n > 0) {
			run_line(a, c, c->in, len);
			poll_client_consume(c, (size_t)n);
			continue;
		}
		if (n == -EMSGSIZE) {
			/* No '\n' within a longest line and its '\n': the rest
			 * is not read, so the connection ends here. */
			char msg[80];
			snprintf(msg, sizeof(msg), "line longer than %u bytes; closing the "
				 "connection", NLB_ADMIN_LINE_MAX);
			atomic_fetch_add_explicit(&a->counters.commands, 1, memory_order_relaxed);
			reply_error(a, c, msg);
			poll_client_consume(c, c->in_len);
			c->closing = true;
		}
		break;
	}
}

static void admin_idle(void *arg, struct poll_client *c)
{
	(void)arg, (void)c;
	nlb_debug("admin socket: closing a connection idle for %u ms", NLB_ADMIN_IDLE_MS);
}

static const struct poll_server_conf admin_server = {
	.name = "admin socket",
	.max_clients = NLB_ADMIN_CLIENTS,
	.in_max = ADMIN_IN_MAX,
	.out_keep = NLB_ADMIN_OUT_HIGH,	/* a long show: do not keep it */
	.idle_ms = NLB_ADMIN_IDLE_MS,
	.linger_max = NLB_ADMIN_LINGER_MAX,
	.on_input = admin_input,
	.on_timeout = admin_idle,
};

static void admin_main(void *arg)
{
	struct admin *a = arg;
	poll_server_run(&a->server, &a->thread);
}

/* ---- the socket ------------------------------------------------------- */

/* mkdir -p of path's directory, each created one 0755 whatever the umask
 * (the socket's own mode is what restricts access). */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *end = strrchr(dir, '/');
	if (!end || end == dir)
		return 0;
	*end = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char was = *p;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			chmod(dir, 0755);
			nlb_info("admin socket: created directory %s", dir);
		} else if (errno != EEXIST) {
			int e = errno;
			snprintf(err, errlen, "admin socket %s: cannot create directory %s: %s",
				 path, dir, strerror(e));
			return -e;
		}
		*p = was;
		if (!was)
			return 0;
	}
}

/* A socket file left by an nlb that did not exit cleanly is removed; a
 * socket something still answers on is taken over only in a binary
 * upgrade (nlb -u: the old nlb keeps serving the clients it has, new ones
 * reach this one); any other file is left alone. */
static int remove_stale(const struct sockaddr_un *sun, bool upgrade, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(sun->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		snprintf(err, errlen, "admin socket %s: %s", sun->sun_path, strerror(e));
		return -e;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "admin socket %s: the file exists and is not a socket; "
			 "not removing it", sun->sun_path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "admin socket %s: %s", sun->sun_path, strerror(e));
		return -e;
	}
	int in_use = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (in_use && !upgrade) {
		snprintf(err, errlen, "admin socket %s: in use by another process (another nlb? "
			 "for a binary upgrade, start the new one with -u)", sun->sun_path);
		return -EADDRINUSE;
	}
	if (in_use)
		nlb_info("admin socket %s: taken over from the running nlb (-u)", sun->sun_path);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT) {
		int e = errno;
		snprintf(err, errlen, "admin socket %s: cannot remove the stale socket: %s",
			 sun->sun_path, strerror(e));
		return -e;
	}
	return 0;
}

int admin_open(struct admin *a, struct nlb_runtime *rt, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->rt = rt;
	a->lfd = -1;
	a->path = rt->cfg->admin_socket;
	if (!a->path)
		return 0;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);	/* length checked at load */
	int ret = make_parents(a->path, err, errlen);
	if (ret < 0)
		return ret;
	if ((ret = remove_stale(&sun, rt->upgrade, err, errlen)) < 0)
		return ret;
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "admin socket %s: %s", a->path, strerror(errno));
		goto fail;
	}
	if (bind(a->lfd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "admin socket %s: bind: %s", a->path, strerror(errno));
		goto fail;
	}
	/* Owner and mode are set before listen(): until then nobody can
	 * connect, so the umask's mode never lets anyone in.  The file
	 * stays root's; its group is the one nlb drops to, so that mode
	 * 0660 opens it to that group's members (as docker.sock's). */
	struct stat st;
	gid_t gid = getegid();
	if (privileges_group(rt->cfg, &gid) < 0)
		gid = getegid();
	if (chown(a->path, (uid_t)-1, gid) < 0 || chmod(a->path, (mode_t)rt->cfg->admin_mode) < 0 ||
	    lstat(a->path, &st) < 0 || listen(a->lfd, NLB_ADMIN_BACKLOG) < 0) {
		ret = -errno;
		snprintf(err, errlen, "admin socket %s: %s", a->path, strerror(errno));
		unlink(a->path);
		goto fail;
	}
	/* What was asked is what the file has (a filesystem that ignores
	 * modes or owners would leave the socket open to others). */
	if ((st.st_mode & 07777) != (mode_t)rt->cfg->admin_mode || st.st_uid != geteuid() ||
	    st.st_gid != gid) {
		ret = -EPERM;
		snprintf(err, errlen, "admin socket %s: mode %04o, owner %u:%u after setting "
			 "%04o, %u:%u", a->path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
			 (unsigned)st.st_gid, (unsigned)rt->cfg->admin_mode, (unsigned)geteuid(),
			 (unsigned)gid);
		unlink(a->path);
		goto fail;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	nlb_info("admin socket %s (mode %04o, owner %u:%u)", a->path,
		 (unsigned)rt->cfg->admin_mode, (unsigned)st.st_uid, (unsigned)st.st_gid);
	return 0;
fail:
	if (a->lfd >= 0)
		close(a->lfd);
	a->lfd = -1;
	a->path = NULL;
	return ret;
}

int admin_start(struct admin *a, const struct worker *workers, unsigned n_workers,
		const struct health *h)
{
	if (!a->path)
		return 0;
	a->workers = workers;
	a->n_workers = n_workers;
	a->health = &h->counters;
	int ret = poll_server_init(&a->server, &admin_server, a->lfd, a);
	if (ret < 0)
		return ret;
	return control_thread_start(&a->thread, "nlb-admin", a->rt, NLB_QSBR_ADMIN, admin_main, a);
}

void admin_stop(struct admin *a)
{
	if (!a->path)
		return;
	control_thread_stop(&a->thread);
	poll_server_free(&a->server);
	close(a->lfd);
	/* Only our own file: another nlb may have replaced it meanwhile.
	 * After a privilege drop the directory may not let us; the next
	 * start removes the stale socket then. */
	struct stat st;
	if (lstat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino &&
	    unlink(a->path) < 0)
		nlb_info("admin socket %s left in place: %s (the next start replaces it)",
			 a->path, strerror(errno));
	a->path = NULL;
}
