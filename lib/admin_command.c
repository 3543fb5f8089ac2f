/* The admin socket's line protocol without I/O (admin_command.h): the
 * command table, line framing, a line's words and a target command's
 * arguments.  Nothing a client sends is trusted: lines are bounded, NUL
 * bytes and unknown words are errors, and any client byte an error
 * reply repeats is quoted, so no reply line can be forged. */
#include "admin_command.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

static const struct nlb_admin_syntax syntax[NLB_ADMIN_CMD_COUNT] = {
	[NLB_ADMIN_SHOW_TARGETS] = { "show", "targets", 0, 1, "show targets [GROUP]",
		"targets in use: weight, health, state, connections, drain deadline" },
	[NLB_ADMIN_SHOW_LISTENERS] = { "show", "listeners", 0, 0, "show listeners",
		"listeners: protocol, address, group, open connections and flows" },
	[NLB_ADMIN_SHOW_STATS] = { "show", "stats", 0, 0, "show stats",
		"the counters of the exit stats line, now" },
	[NLB_ADMIN_SHOW_CERTIFICATES] = { "show", "certificates", 0, 0, "show certificates",
		"tls listeners' certificates: file, key, expiry, names, subject" },
	[NLB_ADMIN_SHOW_RULES] = { "show", "rules", 0, 1, "show rules [LISTENER]",
		"http listeners' rules by priority, with their matches" },
	[NLB_ADMIN_SHOW_ANNOUNCE] = { "show", "announce", 0, 0, "show announce",
		"the prefixes of announce, each announced or withdrawn" },
	[NLB_ADMIN_ADD_TARGET] = { "add", "target", 2, 4, "add target GROUP ADDR [weight N]",
		"a new target, or a draining one back" },
	[NLB_ADMIN_SET_WEIGHT] = { "set", "weight", 3, 3, "set weight GROUP ADDR N",
		"an active target's weight, 0..1000" },
	[NLB_ADMIN_DRAIN_TARGET] = { "drain", "target", 2, 2, "drain target GROUP ADDR",
		"no new flows; open ones stay, no deadline, until add or remove" },
	[NLB_ADMIN_REMOVE_TARGET] = { "remove", "target", 2, 2, "remove target GROUP ADDR",
		"as a reload dropping it: drains, reset at deregistration_delay_ms" },
	[NLB_ADMIN_RELOAD] = { "reload", NULL, 0, 0, "reload",
		"re-read the configuration file, as SIGHUP does" },
	[NLB_ADMIN_REOPEN] = { "reopen", NULL, 0, 0, "reopen",
		"open the access log file again (after logrotate moved it)" },
	[NLB_ADMIN_HELP] = { "help", NULL, 0, 0, "help", "this list" },
	[NLB_ADMIN_QUIT] = { "quit", NULL, 0, 0, "quit", "close this connection" },
};

const struct nlb_admin_syntax *nlb_admin_syntax(enum nlb_admin_cmd cmd)
{
	return &syntax[cmd];
}

const char *nlb_admin_quoted(const char *s, char *buf)
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

int nlb_admin_line_next(char *in, size_t in_len, size_t in_max, bool eof, size_t *line_len)
{
	char *nl = memchr(in, '\n', in_len);
	if (nl) {
		*nl = '\0';
		*line_len = (size_t)(nl - in);
		return (int)(*line_len + 1);
	}
	if (in_len >= in_max)
		return -EMSGSIZE;
	if (eof && in_len) {
		/* The last line may lack its '\n' (echo -n | nc -U); the
		 * buffer's last byte is room for its NUL. */
		in[in_len] = '\0';
		*line_len = in_len;
		return (int)in_len;
	}
	return -EAGAIN;
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

int nlb_admin_parse(char *line, size_t len, struct nlb_admin_command *out, char *err,
		    size_t errlen)
{
	out->cmd = NLB_ADMIN_NONE;
	out->n_args = 0;
	if (len && line[len - 1] == '\r')	/* telnet and nc -C end lines so */
		line[--len] = '\0';
	/* A NUL would cut the line short of what the client sent: strtok
	 * and the commands would see another command than the bytes. */
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "NUL byte in the command line");
		return -EINVAL;
	}
	char *w[NLB_ADMIN_WORDS_MAX];
	unsigned n = split_words(line, w, NLB_ADMIN_WORDS_MAX);
	if (n == 0)
		return 0;	/* an empty line is no command: no reply */
	enum nlb_admin_cmd cmd = NLB_ADMIN_NONE;
	bool verb_known = false;
	for (int i = NLB_ADMIN_NONE + 1; i < NLB_ADMIN_CMD_COUNT && !cmd; i++) {
		if (strcmp(syntax[i].verb, w[0]) != 0)
			continue;
		verb_known = true;
		if (!syntax[i].noun || (n > 1 && strcmp(syntax[i].noun, w[1]) == 0))
			cmd = (enum nlb_admin_cmd)i;
	}
	char q1[NLB_ADMIN_QUOTED_MAX], q2[NLB_ADMIN_QUOTED_MAX];
	if (!cmd) {
		if (verb_known && n > 1)
			snprintf(err, errlen, "unknown command \"%s %s\" (help lists them)",
				 nlb_admin_quoted(w[0], q1), nlb_admin_quoted(w[1], q2));
		else
			snprintf(err, errlen, "unknown command \"%s\" (help lists them)",
				 nlb_admin_quoted(w[0], q1));
		return -EINVAL;
	}
	const struct nlb_admin_syntax *s = &syntax[cmd];
	unsigned skip = s->noun ? 2 : 1;
	if (n > NLB_ADMIN_WORDS_MAX || n - skip < s->min_args || n - skip > s->max_args) {
		snprintf(err, errlen, "usage: %s", s->usage);
		return -EINVAL;
	}
	out->cmd = cmd;
	out->n_args = n - skip;
	for (unsigned i = 0; i < out->n_args; i++)
		out->args[i] = w[skip + i];
	return 0;
}

static int weight_arg(const char *s, uint32_t *w, char *err, size_t errlen)
{
	uint32_t v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9' && i < 5; i++)
		v = v * 10 + (uint32_t)(s[i] - '0');
	if (i == 0 || s[i] || v > NLB_TARGET_WEIGHT_MAX) {
		char q[NLB_ADMIN_QUOTED_MAX];
		snprintf(err, errlen, "weight must be an integer from 0 to %u (got \"%s\")",
			 NLB_TARGET_WEIGHT_MAX, nlb_admin_quoted(s, q));
		return -ERANGE;
	}
	*w = v;
	return 0;
}

int nlb_admin_target_parse(enum nlb_admin_cmd cmd, char *const *args, unsigned n,
			   struct nlb_target_conf *tc, bool *weight_given, char *err, size_t errlen)
{
	memset(tc, 0, sizeof(*tc));
	tc->weight = 1;		/* as the configuration's default */
	if (strlen(args[1]) >= sizeof(tc->addr_text) || nlb_addr_parse(args[1], 0, &tc->addr) < 0) {
		char q[NLB_ADMIN_QUOTED_MAX];
		snprintf(err, errlen, "bad address \"%s\" (expected host:port or [v6]:port, "
			 "numeric)", nlb_admin_quoted(args[1], q));
		return -EINVAL;
	}
	memcpy(tc->addr_text, args[1], strlen(args[1]) + 1);
	bool add = cmd == NLB_ADMIN_ADD_TARGET;
	*weight_given = cmd == NLB_ADMIN_SET_WEIGHT || (add && n == 4);
	/* "add target GROUP ADDR X" without N is no more valid than with a
	 * wrong word: ignoring X would add a target of weight 1 where the
	 * client asked for something else. */
	if (add && (n == 3 || (n == 4 && strcmp(args[2], "weight") != 0))) {
		snprintf(err, errlen, "usage: %s", syntax[NLB_ADMIN_ADD_TARGET].usage);
		return -EINVAL;
	}
	if (*weight_given)
		return weight_arg(args[n - 1], &tc->weight, err, errlen);
	return 0;
}
