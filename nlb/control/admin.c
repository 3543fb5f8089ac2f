/* The admin socket's thread: one poll loop over the listening socket and
 * up to NLB_ADMIN_CLIENTS non-blocking connections, each with a bounded
 * line buffer in and a reply buffer out.  A command runs to completion
 * here (target changes under rt->ctl_lock, through target_set), so
 * replies come in the order of the commands.  Nothing a client sends is
 * trusted: lines are bounded, NUL bytes and unknown words are errors,
 * and no input can stop the loop or make it buffer without bound. */
#include "clock.h"
#include "control/admin.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "balance/pick.h"
#include "control/health.h"
#include "health_check.h"
#include "core/listener.h"
#include "core/worker.h"
#include "log.h"
#include "control/reload.h"
#include "control/stats.h"
#include "balance/target_set.h"
#include "tunables.h"

struct admin_client {
	int fd;				/* -1: the slot is free */
	char in[NLB_ADMIN_LINE_MAX + 1];	/* room for a longest line and its '\n' */
	size_t in_len;
	char *out;			/* replies not sent yet: out[out_off, out_len) */
	size_t out_off, out_len, out_cap;
	bool out_failed;		/* a reply did not fit in memory */
	bool eof;			/* the client shut its side down */
	bool closing;			/* close once the replies are out */
	bool lingering;			/* ... they are: reading to the client's EOF */
	size_t discarded;		/* bytes read and dropped while lingering */
	uint64_t last_ms;		/* of the last byte in or out */
};

/* Words in a command line: the longest command has six. */
#define ADMIN_MAX_WORDS 8


/* ---- replies ---------------------------------------------------------- */

static size_t out_pending(const struct admin_client *c)
{
	return c->out_len - c->out_off;
}

static void out_printf(struct admin_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Room for more than need bytes after out_len; false when memory ran out. */
static bool out_reserve(struct admin_client *c, size_t need)
{
	if (c->out_cap - c->out_len > need)
		return true;
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap - c->out_len <= need)
		cap *= 2;
	char *p = realloc(c->out, cap);
	if (!p)
		return false;
	c->out = p;
	c->out_cap = cap;
	return true;
}

static void out_printf(struct admin_client *c, const char *fmt, ...)
{
	size_t need = 255;	/* most lines fit: format once */
	while (!c->out_failed) {
		if (!out_reserve(c, need)) {
			c->out_failed = true;
			return;
		}
		size_t room = c->out_cap - c->out_len;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(c->out + c->out_len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			c->out_failed = true;
		else if ((size_t)n < room)
			c->out_len += (size_t)n;
		else
			need = (size_t)n;	/* and again, in room enough */
		if (n < 0 || (size_t)n < room)
			return;
	}
}

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
typedef int admin_cmd_fn(struct admin *a, struct admin_client *c, int op, char **args,
			 unsigned n, char *err, size_t errlen);

static int cmd_show_targets(struct admin *a, struct admin_client *c, int op, char **args,
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
			out_printf(c, "group=%s target=%s weight=%u health=%s state=%s "
				   "connections=%llu", grt->conf->name, t->addr_text,
				   (unsigned)t->weight, health,
				   st == TARGET_ACTIVE ? "active" : "draining",
				   (unsigned long long)pick_active_conns(rt, g, i));
			if (st != TARGET_ACTIVE && t->drain_until_ms == TARGET_NO_DEADLINE)
				out_printf(c, " deadline_ms=none");
			else if (st != TARGET_ACTIVE)
				out_printf(c, " deadline_ms=%llu", (unsigned long long)
					   (t->drain_until_ms > now ? t->drain_until_ms - now : 0));
			out_printf(c, "\n");
		}
	}
	pthread_mutex_unlock(&rt->ctl_lock);
	return 0;
}

static int cmd_show_listeners(struct admin *a, struct admin_client *c, int op, char **args,
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
		out_printf(c, "listener=%s protocol=%s address=%s group=%s", lc->name,
			   nlb_protocol_name(lc->protocol), lc->addr_text, lc->target_group);
		if (st == LISTENER_CLOSING)
			out_printf(c, " state=closing");
		if (lc->protocol != NLB_PROTO_UDP) {
			uint64_t open = 0;
			for (unsigned i = 0; i < a->n_workers; i++)
				if (l < a->workers[i].n_stats)
					open += atomic_load_explicit(&a->workers[i].stats[l].active,
								     memory_order_relaxed);
			out_printf(c, " connections=%llu", (unsigned long long)open);
		}
		if (lc->protocol != NLB_PROTO_TCP)
			out_printf(c, " flows=%u", (unsigned)atomic_load_explicit(
				&rt->listeners[l].udp_flows, memory_order_relaxed));
		out_printf(c, "\n");
	}
	return 0;
}

static void stat_line(void *arg, const char *name, uint64_t value)
{
	out_printf(arg, "%s=%llu\n", name, (unsigned long long)value);
}

static int cmd_show_stats(struct admin *a, struct admin_client *c, int op, char **args,
			  unsigned n, char *err, size_t errlen)
{
	(void)op, (void)args, (void)n, (void)err, (void)errlen;
	stats_visit(a->workers, a->n_workers, a->health, a, stat_line, c);
	return 0;
}

/* add, set weight, drain, remove: parses GROUP ADDR [...] and makes the
 * change, under ctl_lock. */
static int cmd_target(struct admin *a, struct admin_client *c, int op, char **args, unsigned n,
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
static int cmd_reload(struct admin *a, struct admin_client *c, int op, char **args,
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
	out_printf(c, "%s\n", msg);
	return 0;
}

static int cmd_help(struct admin *a, struct admin_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen);

static int cmd_quit(struct admin *a, struct admin_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen)
{
	(void)a, (void)op, (void)args, (void)n, (void)err, (void)errlen;
	c->closing = true;
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
	{ "help", NULL, 0, 0, cmd_help, 0, "help", "this list" },
	{ "quit", NULL, 0, 0, cmd_quit, 0, "quit", "close this connection" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(struct admin *a, struct admin_client *c, int op, char **args,
		    unsigned n, char *err, size_t errlen)
{
	(void)a, (void)op, (void)args, (void)n, (void)err, (void)errlen;
	for (size_t i = 0; i < N_COMMANDS; i++)
		out_printf(c, "%-34s %s\n", commands[i].usage, commands[i].help);
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

static void reply_error(struct admin *a, struct admin_client *c, const char *msg)
{
	atomic_fetch_add_explicit(&a->errors, 1, memory_order_relaxed);
	out_printf(c, "error: %s\n", msg);
}

/* One command line (its '\n' taken off, len bytes, NUL-terminated). */
static void run_line(struct admin *a, struct admin_client *c, char *line, size_t len)
{
	if (len && line[len - 1] == '\r')	/* telnet and nc -C end lines so */
		line[--len] = '\0';
	char *w[ADMIN_MAX_WORDS];
	bool nul = memchr(line, '\0', len) != NULL;
	unsigned n = nul ? 1 : split_words(line, w, ADMIN_MAX_WORDS);
	if (n == 0)
		return;		/* an empty line is no command: no reply */
	atomic_fetch_add_explicit(&a->commands, 1, memory_order_relaxed);
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
		out_printf(c, "ok\n");
}

/* ---- connections ------------------------------------------------------ */

static void client_close(struct admin_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
}

/* Sends what it can of the replies; -errno when the connection is gone. */
static int client_send(struct admin_client *c, uint64_t now)
{
	if (c->out_failed)
		return -ENOMEM;
	while (out_pending(c)) {
		ssize_t w = send(c->fd, c->out + c->out_off, out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->out_off += (size_t)w;
		c->last_ms = now;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > NLB_ADMIN_OUT_HIGH) {	/* a long show: do not keep it */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

/* Runs the complete lines received while replies do not pile up, sends,
 * and closes the connection once it is done with. */
static void client_progress(struct admin *a, struct admin_client *c, uint64_t now)
{
	while (!c->closing && out_pending(c) < NLB_ADMIN_OUT_HIGH) {
		char *nl = memchr(c->in, '\n', c->in_len);
		if (nl) {
			size_t len = (size_t)(nl - c->in);
			*nl = '\0';
			run_line(a, c, c->in, len);
			c->in_len -= len + 1;
			memmove(c->in, nl + 1, c->in_len);
			continue;
		}
		if (c->in_len == sizeof(c->in)) {
			/* No '\n' within a longest line and its '\n': the rest
			 * is not read, so the connection ends here. */
			char msg[80];
			snprintf(msg, sizeof(msg), "line longer than %u bytes; closing the "
				 "connection", NLB_ADMIN_LINE_MAX);
			atomic_fetch_add_explicit(&a->commands, 1, memory_order_relaxed);
			reply_error(a, c, msg);
			c->in_len = 0;
			c->closing = true;
		} else if (c->eof && c->in_len) {
			/* The last line may lack its '\n' (echo -n | nc -U). */
			c->in[c->in_len] = '\0';
			run_line(a, c, c->in, c->in_len);
			c->in_len = 0;
		}
		break;
	}
	if (client_send(c, now) < 0) {
		client_close(c);
		return;
	}
	if (out_pending(c))
		return;
	if (c->closing && !c->eof) {
		/* Closing with unread bytes would reset the connection, and
		 * a client could lose the error line it has not read yet:
		 * send our FIN and drop what comes until the client's. */
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		c->in_len = 0;
	} else if (c->closing || (c->eof && c->in_len == 0)) {
		client_close(c);
	}
}

static void client_event(struct admin *a, struct admin_client *c, short revents, uint64_t now)
{
	if ((revents & POLLOUT) && client_send(c, now) < 0) {
		client_close(c);
		return;
	}
	/* POLLHUP and POLLERR come unasked, also while the line buffer is
	 * full and replies wait: a recv of 0 bytes would read as EOF. */
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && c->in_len < sizeof(c->in)) {
		ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (r < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(c);
			return;
		}
		if (r == 0)
			c->eof = true;
		if (r > 0 && c->lingering) {
			c->discarded += (size_t)r;	/* in_len stays 0 */
		} else if (r > 0) {
			c->in_len += (size_t)r;
			c->last_ms = now;
		}
	}
	if (!c->lingering)
		client_progress(a, c, now);
	else if (c->eof || c->discarded > NLB_ADMIN_LINGER_MAX)
		client_close(c);
}

/* Takes waiting connections into free slots; 0, or -errno when accept
 * fails for want of descriptors (the caller pauses a while, rather than
 * spin on a socket that stays readable). */
static int accept_clients(struct admin *a, uint64_t now)
{
	for (unsigned k = 0; k < NLB_ADMIN_CLIENTS; k++) {
		struct admin_client *c = &a->clients[k];
		if (c->fd >= 0)
			continue;
		int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return 0;
			nlb_warn("admin socket: accept: %s", strerror(errno));
			return -errno;
		}
		c->fd = fd;
		c->in_len = c->discarded = 0;
		c->out_failed = c->eof = c->closing = c->lingering = false;
		c->last_ms = now;
	}
	return 0;
}

static void *admin_main(void *arg)
{
	struct admin *a = arg;
	struct pollfd pfd[2 + NLB_ADMIN_CLIENTS];
	uint64_t accept_resume_ms = 0;
	for (;;) {
		uint64_t now = nlb_clock_ms();
		uint64_t wake = UINT64_MAX;
		bool room = false;
		pfd[0] = (struct pollfd){ .fd = a->stop_fd, .events = POLLIN };
		for (unsigned k = 0; k < NLB_ADMIN_CLIENTS; k++) {
			struct admin_client *c = &a->clients[k];
			struct pollfd *p = &pfd[2 + k];
			*p = (struct pollfd){ .fd = c->fd };	/* -1 is ignored */
			if (c->fd < 0) {
				room = true;
				continue;
			}
			p->events = out_pending(c) ? POLLOUT : POLLIN;
			if (c->last_ms + NLB_ADMIN_IDLE_MS < wake)
				wake = c->last_ms + NLB_ADMIN_IDLE_MS;
		}
		/* When full, new clients wait in the backlog. */
		bool listen_now = room && now >= accept_resume_ms;
		pfd[1] = (struct pollfd){ .fd = listen_now ? a->lfd : -1, .events = POLLIN };
		if (room && !listen_now && accept_resume_ms < wake)
			wake = accept_resume_ms;
		int timeout = wake == UINT64_MAX ? -1 : wake > now ? (int)(wake - now) : 0;
		/* Commands read the configuration between polls only:
		 * offline while waiting (QSBR, runtime.h). */
		nlb_qsbr_offline(&a->rt->qsbr, NLB_QSBR_READER(a->rt, NLB_QSBR_ADMIN));
		int n = poll(pfd, 2 + NLB_ADMIN_CLIENTS, timeout);
		nlb_qsbr_quiescent(&a->rt->qsbr, NLB_QSBR_READER(a->rt, NLB_QSBR_ADMIN));
		if (n < 0 && errno != EINTR) {
			nlb_err("admin socket: poll: %s", strerror(errno));
			break;
		}
		now = nlb_clock_ms();
		if (n > 0 && pfd[0].revents)
			break;
		if (n > 0 && (pfd[1].revents & POLLIN) && accept_clients(a, now) < 0)
			accept_resume_ms = now + NLB_ACCEPT_PAUSE_MS;
		for (unsigned k = 0; k < NLB_ADMIN_CLIENTS; k++) {
			struct admin_client *c = &a->clients[k];
			if (n > 0 && c->fd >= 0 && pfd[2 + k].fd == c->fd && pfd[2 + k].revents)
				client_event(a, c, pfd[2 + k].revents, now);
			if (c->fd >= 0 && now >= c->last_ms + NLB_ADMIN_IDLE_MS) {
				nlb_debug("admin socket: closing a connection idle for %u ms",
					  NLB_ADMIN_IDLE_MS);
				client_close(c);
			}
		}
	}
	nlb_qsbr_offline(&a->rt->qsbr, NLB_QSBR_READER(a->rt, NLB_QSBR_ADMIN));
	return NULL;
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
 * socket something still answers on, or any other file, is not. */
static int remove_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
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
	if (in_use) {
		snprintf(err, errlen, "admin socket %s: in use by another process (another nlb?)",
			 sun->sun_path);
		return -EADDRINUSE;
	}
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
	a->lfd = a->stop_fd = -1;
	a->path = rt->cfg->admin_socket;
	if (!a->path)
		return 0;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);	/* length checked at load */
	int ret = make_parents(a->path, err, errlen);
	if (ret < 0)
		return ret;
	if ((ret = remove_stale(&sun, err, errlen)) < 0)
		return ret;
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->lfd < 0 || a->stop_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "admin socket %s: %s", a->path, strerror(errno));
		goto fail;
	}
	if (bind(a->lfd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "admin socket %s: bind: %s", a->path, strerror(errno));
		goto fail;
	}
	/* The mode is set before listen(): until then nobody can connect,
	 * so the umask's mode never lets anyone in. */
	struct stat st;
	if (chmod(a->path, (mode_t)rt->cfg->admin_mode) < 0 || lstat(a->path, &st) < 0 ||
	    listen(a->lfd, NLB_ADMIN_BACKLOG) < 0) {
		ret = -errno;
		snprintf(err, errlen, "admin socket %s: %s", a->path, strerror(errno));
		unlink(a->path);
		goto fail;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	nlb_info("admin socket %s (mode %04o)", a->path, (unsigned)rt->cfg->admin_mode);
	return 0;
fail:
	if (a->lfd >= 0)
		close(a->lfd);
	if (a->stop_fd >= 0)
		close(a->stop_fd);
	a->lfd = a->stop_fd = -1;
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
	a->health = h;
	a->clients = calloc(NLB_ADMIN_CLIENTS, sizeof(*a->clients));
	if (!a->clients)
		return -ENOMEM;
	for (unsigned k = 0; k < NLB_ADMIN_CLIENTS; k++)
		a->clients[k].fd = -1;
	int ret = pthread_create(&a->thread, NULL, admin_main, a);
	if (ret != 0)
		return -ret;
	a->running = true;
	return 0;
}

void admin_stop(struct admin *a)
{
	if (!a->path)
		return;
	if (a->running) {
		uint64_t one = 1;
		ssize_t w = write(a->stop_fd, &one, sizeof(one));
		(void)w;
		pthread_join(a->thread, NULL);
		a->running = false;
	}
	for (unsigned k = 0; a->clients && k < NLB_ADMIN_CLIENTS; k++)
		if (a->clients[k].fd >= 0)
			client_close(&a->clients[k]);
	free(a->clients);
	a->clients = NULL;
	close(a->lfd);
	close(a->stop_fd);
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
