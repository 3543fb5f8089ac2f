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

/* Words in a command line: the longest command has six. */
#define ADMIN_MAX_WORDS 8


/* ---- replies ---------------------------------------------------------- */

/* Text a client sent, fit to quote in a reply or the log: printable
 * ASCII as it is, anything else as \xNN, at most 48 bytes of it. */
#define QUOTED_MAX (48 * 4 + 8)
static const char *quoted(const char *s, char *buf)
{
	size_t o = 0, i = 0;
	for (; s[i] && i < 48; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", ch);
	}
	if (s[i])
		o += (size_t)snprintf(buf + o, 4, "...");
	buf[o] = '\0';
	return buf;
}

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
	char q[QUOTED_MAX];
	snprintf(err, errlen, "unknown target group \"%s\"", quoted(name, q));
	return -ENOENT;
}

/* GROUP ADDR: the group's index and the target's address. */
static int target_args(const struct nlb_runtime *rt, char **args, size_t *g,
		       struct nlb_target_conf *tc, char *err, size_t errlen)
{
	int ret = group_find(rt, args[0], g, err, errlen);
	if (ret < 0)
		return ret;
	memset(tc, 0, sizeof(*tc));
	tc->weight = 1;		/* as the configuration's default */
	if (strlen(args[1]) >= sizeof(tc->addr_text) || nlb_addr_parse(args[1], 0, &tc->addr) < 0) {
		char q[QUOTED_MAX];
		snprintf(err, errlen, "bad address \"%s\" (expected host:port or [v6]:port, "
			 "numeric)", quoted(args[1], q));
		return -EINVAL;
	}
	memcpy(tc->addr_text, args[1], strlen(args[1]) + 1);
	return 0;
}

static int weight_arg(const char *s, uint32_t *w, char *err, size_t errlen)
{
	uint32_t v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9' && i < 5; i++)
		v = v * 10 + (uint32_t)(s[i] - '0');
	if (i == 0 || s[i] || v > NLB_TARGET_WEIGHT_MAX) {
		char q[QUOTED_MAX];
		snprintf(err, errlen, "weight must be an integer from 0 to %u (got \"%s\")",
			 NLB_TARGET_WEIGHT_MAX, quoted(s, q));
		return -ERANGE;
	}
	*w = v;
	return 0;
}

/* ---- commands --------------------------------------------------------- */

enum target_change {
	CHANGE_ADD = 0,		/* GROUP ADDR [weight N] */
	CHANGE_WEIGHT,		/* GROUP ADDR N */
	CHANGE_DRAIN,		/* GROUP ADDR */
	CHANGE_REMOVE,		/* GROUP ADDR */
};

/* Each writes its data lines into c and returns 0, or -errno with the
 * reason in err; run_line adds the final "ok" or "error: ...".  op is the
 * command's entry in the table (which target change, for cmd_target). */
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

/* add, set weight, drain, remove: parses GROUP ADDR [...] and makes the
 * change, under ctl_lock. */
static int cmd_target(struct admin *a, struct poll_client *c, int op, char **args, unsigned n,
		      char *err, size_t errlen)
{
	(void)c;
	size_t g;
	struct nlb_target_conf tc;
	int ret = target_args(a->rt, args, &g, &tc, err, errlen);
	if (ret < 0)
		return ret;
	bool weight_given = op == CHANGE_WEIGHT || (op == CHANGE_ADD && n == 4);
	if (op == CHANGE_ADD && n == 4 && strcmp(args[2], "weight") != 0) {
		snprintf(err, errlen, "usage: add target GROUP ADDR [weight N]");
		return -EINVAL;
	}
	if (weight_given && (ret = weight_arg(args[n - 1], &tc.weight, err, errlen)) < 0)
		return ret;
	struct nlb_runtime *rt = a->rt;
	uint64_t now = nlb_clock_ms();
	pthread_mutex_lock(&rt->ctl_lock);
	switch (op) {
	case CHANGE_ADD:
		ret = targets_add_one(rt, g, &tc, weight_given, err, errlen);
		break;
	case CHANGE_WEIGHT:
		ret = targets_set_weight(rt, g, &tc.addr, tc.addr_text, tc.weight, err, errlen);
		break;
	case CHANGE_DRAIN:
		ret = targets_drain_one(rt, g, &tc.addr, tc.addr_text, now, err, errlen);
		break;
	case CHANGE_REMOVE:
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
		char q[QUOTED_MAX];
		snprintf(err, errlen, "no http listener \"%s\"", quoted(args[0], q));
		return -ENOENT;
	}
	return 0;
}

struct admin_cmd {
	const char *verb, *noun;	/* noun NULL: a one-word command */
	unsigned min_args, max_args;	/* words after verb and noun */
	admin_cmd_fn *run;
	int op;				/* passed to run */
	const char *usage, *help;
};

static const struct admin_cmd commands[] = {
	{ "show", "targets", 0, 1, cmd_show_targets, 0, "show targets [GROUP]",
	  "targets in use: weight, health, state, connections, drain deadline" },
	{ "show", "listeners", 0, 0, cmd_show_listeners, 0, "show listeners",
	  "listeners: protocol, address, group, open connections and flows" },
	{ "show", "stats", 0, 0, cmd_show_stats, 0, "show stats",
	  "the counters of the exit stats line, now" },
	{ "show", "certificates", 0, 0, cmd_show_certificates, 0, "show certificates",
	  "tls listeners' certificates: file, key, expiry, names, subject" },
	{ "show", "rules", 0, 1, cmd_show_rules, 0, "show rules [LISTENER]",
	  "http listeners' rules by priority, with their matches" },
	{ "show", "announce", 0, 0, cmd_show_announce, 0, "show announce",
	  "the prefixes of announce, each announced or withdrawn" },
	{ "add", "target", 2, 4, cmd_target, CHANGE_ADD, "add target GROUP ADDR [weight N]",
	  "a new target, or a draining one back" },
	{ "set", "weight", 3, 3, cmd_target, CHANGE_WEIGHT, "set weight GROUP ADDR N",
	  "an active target's weight, 0..1000" },
	{ "drain", "target", 2, 2, cmd_target, CHANGE_DRAIN, "drain target GROUP ADDR",
	  "no new flows; open ones stay, no deadline, until add or remove" },
	{ "remove", "target", 2, 2, cmd_target, CHANGE_REMOVE, "remove target GROUP ADDR",
	  "as a reload dropping it: drains, reset at deregistration_delay_ms" },
	{ "reload", NULL, 0, 0, cmd_reload, 0, "reload",
	  "re-read the configuration file, as SIGHUP does" },
	{ "reopen", NULL, 0, 0, cmd_reopen, 0, "reopen",
	  "open the access log file again (after logrotate moved it)" },
	{ "help", NULL, 0, 0, cmd_help, 0, "help", "this list" },
	{ "quit", NULL, 0, 0, cmd_quit, 0, "quit", "close this connection" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(struct admin *a, struct poll_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen)
{
	(void)a, (void)op, (void)args, (void)n, (void)err, (void)errlen;
	for (size_t i = 0; i < N_COMMANDS; i++)
		nlb_strbuf_printf(&c->out, "%-34s %s\n", commands[i].usage, commands[i].help);
	return 0;
}

/* Splits line at spaces and tabs; returns the number of words, at most
 * max (more words than that also return max + 1). */
static unsigned split_words(char *line, char **w, unsigned max)
{
	unsigned n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = t;
	}
	return n;
}

static void reply_error(struct admin *a, struct poll_client *c, const char *msg)
{
	atomic_fetch_add_explicit(&a->counters.errors, 1, memory_order_relaxed);
	nlb_strbuf_printf(&c->out, "error: %s\n", msg);
}

/* One command line (its '\n' taken off, len bytes, NUL-terminated). */
static void run_line(struct admin *a, struct poll_client *c, char *line, size_t len)
{
	if (len && line[len - 1] == '\r')	/* telnet and nc -C end lines so */
		line[--len] = '\0';
	char *w[ADMIN_MAX_WORDS];
	bool nul = memchr(line, '\0', len) != NULL;
	unsigned n = nul ? 1 : split_words(line, w, ADMIN_MAX_WORDS);
	if (n == 0)
		return;		/* an empty line is no command: no reply */
	atomic_fetch_add_explicit(&a->counters.commands, 1, memory_order_relaxed);
	if (nul) {
		reply_error(a, c, "NUL byte in the command line");
		return;
	}
	const struct admin_cmd *cmd = NULL;
	bool verb_known = false;
	for (size_t i = 0; i < N_COMMANDS && !cmd; i++) {
		if (strcmp(commands[i].verb, w[0]) != 0)
			continue;
		verb_known = true;
		if (!commands[i].noun || (n > 1 && strcmp(commands[i].noun, w[1]) == 0))
			cmd = &commands[i];
	}
	char err[1280], q1[QUOTED_MAX], q2[QUOTED_MAX];
	if (!cmd) {
		if (verb_known && n > 1)
			snprintf(err, sizeof(err), "unknown command \"%s %s\" (help lists them)",
				 quoted(w[0], q1), quoted(w[1], q2));
		else
			snprintf(err, sizeof(err), "unknown command \"%s\" (help lists them)",
				 quoted(w[0], q1));
		reply_error(a, c, err);
		return;
	}
	unsigned skip = cmd->noun ? 2 : 1;
	if (n > ADMIN_MAX_WORDS || n - skip < cmd->min_args || n - skip > cmd->max_args) {
		snprintf(err, sizeof(err), "usage: %s", cmd->usage);
		reply_error(a, c, err);
		return;
	}
	nlb_debug("admin: %s%s%s", cmd->verb, cmd->noun ? " " : "", cmd->noun ? cmd->noun : "");
	int ret = cmd->run(a, c, cmd->op, w + skip, n - skip, err, sizeof(err));
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
		char *nl = memchr(c->in, '\n', c->in_len);
		if (nl) {
			size_t len = (size_t)(nl - c->in);
			*nl = '\0';
			run_line(a, c, c->in, len);
			poll_client_consume(c, len + 1);
			continue;
		}
		if (c->in_len == ADMIN_IN_MAX) {
			/* No '\n' within a longest line and its '\n': the rest
			 * is not read, so the connection ends here. */
			char msg[80];
			snprintf(msg, sizeof(msg), "line longer than %u bytes; closing the "
				 "connection", NLB_ADMIN_LINE_MAX);
			atomic_fetch_add_explicit(&a->counters.commands, 1, memory_order_relaxed);
			reply_error(a, c, msg);
			poll_client_consume(c, c->in_len);
			c->closing = true;
		} else if (c->eof && c->in_len) {
			/* The last line may lack its '\n' (echo -n | nc -U). */
			c->in[c->in_len] = '\0';
			run_line(a, c, c->in, c->in_len);
			poll_client_consume(c, c->in_len);
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
