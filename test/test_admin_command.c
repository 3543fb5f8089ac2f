/* lib/admin_command: the admin socket's lines cut from a stream (at EOF,
 * too long), each line read as a command or refused with the reply nlb
 * sends, a target command's address and weight, and the quoting of
 * client bytes in replies.  test_admin runs the same through nlb. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin_command.h"
#include "helpers.h"

TestSuite(admin_command);

/* ---- lines ---- */

T_UNIT(admin_command, lines_cut_at_newlines)
{
	char in[16];
	size_t len = 0;
	memcpy(in, "help\n\nquit", 10);
	cr_assert_eq(nlb_admin_line_next(in, 10, sizeof(in), false, &len), 5);
	cr_assert_eq(len, 4);
	cr_assert_str_eq(in, "help");
	cr_assert_eq(nlb_admin_line_next(in + 5, 5, sizeof(in), false, &len), 1);
	cr_assert_eq(len, 0);
	/* "quit" lacks its '\n': more is awaited, then EOF ends it */
	cr_assert_eq(nlb_admin_line_next(in + 6, 4, sizeof(in) - 6, false, &len), -EAGAIN);
	cr_assert_eq(nlb_admin_line_next(in + 6, 4, sizeof(in) - 6, true, &len), 4);
	cr_assert_eq(len, 4);
	cr_assert_str_eq(in + 6, "quit");
	cr_assert_eq(nlb_admin_line_next(in, 0, sizeof(in), true, &len), -EAGAIN);
	cr_assert_eq(nlb_admin_line_next(in, 0, sizeof(in), false, &len), -EAGAIN);
}

T_UNIT(admin_command, longest_line_and_one_more)
{
	char in[8];
	size_t len = 0;
	/* a longest line: in_max - 1 bytes and its '\n' */
	memcpy(in, "1234567\n", 8);
	cr_assert_eq(nlb_admin_line_next(in, 8, 8, false, &len), 8);
	cr_assert_eq(len, 7);
	/* in_max bytes without '\n', EOF or not: refused */
	memcpy(in, "12345678", 8);
	cr_assert_eq(nlb_admin_line_next(in, 8, 8, false, &len), -EMSGSIZE);
	cr_assert_eq(nlb_admin_line_next(in, 8, 8, true, &len), -EMSGSIZE);
	/* one byte fewer at EOF: a line, its NUL in the last byte */
	memset(in, 'x', 8);
	cr_assert_eq(nlb_admin_line_next(in, 7, 8, true, &len), 7);
	cr_assert_eq(len, 7);
	cr_assert_eq(in[7], '\0');
}

/* ---- commands ---- */

struct parse_case {
	const char *line;
	size_t len;
	int ret;
	enum nlb_admin_cmd cmd;
	unsigned n_args;
	const char *err;	/* the reply's start, for ret < 0 */
};

#define OK(text, cmd, n) { text, sizeof(text) - 1, 0, cmd, n, NULL }
#define BAD(text, want) { text, sizeof(text) - 1, -EINVAL, NLB_ADMIN_NONE, 0, want }

static const struct parse_case parse_cases[] = {
	OK("", NLB_ADMIN_NONE, 0),
	OK(" \t ", NLB_ADMIN_NONE, 0),
	OK("\r", NLB_ADMIN_NONE, 0),
	OK("help", NLB_ADMIN_HELP, 0),
	OK("help\r", NLB_ADMIN_HELP, 0),
	OK("  quit\t", NLB_ADMIN_QUIT, 0),
	OK("show targets", NLB_ADMIN_SHOW_TARGETS, 0),
	OK("show targets web", NLB_ADMIN_SHOW_TARGETS, 1),
	OK("show\tlisteners", NLB_ADMIN_SHOW_LISTENERS, 0),
	OK("show stats", NLB_ADMIN_SHOW_STATS, 0),
	OK("show certificates", NLB_ADMIN_SHOW_CERTIFICATES, 0),
	OK("show rules", NLB_ADMIN_SHOW_RULES, 0),
	OK("show rules front", NLB_ADMIN_SHOW_RULES, 1),
	OK("show announce", NLB_ADMIN_SHOW_ANNOUNCE, 0),
	OK("add target web 127.0.0.1:9", NLB_ADMIN_ADD_TARGET, 2),
	OK("add target web 127.0.0.1:9 weight 3", NLB_ADMIN_ADD_TARGET, 4),
	OK("set weight web [::1]:9 0", NLB_ADMIN_SET_WEIGHT, 3),
	OK("drain target web 127.0.0.1:9", NLB_ADMIN_DRAIN_TARGET, 2),
	OK("remove target web 127.0.0.1:9", NLB_ADMIN_REMOVE_TARGET, 2),
	OK("reload", NLB_ADMIN_RELOAD, 0),
	OK("reopen", NLB_ADMIN_REOPEN, 0),
	/* test_admin's bad_input_is_refused, through nlb */
	BAD("frobnicate", "unknown command \"frobnicate\" (help lists them)"),
	BAD("show everything", "unknown command \"show everything\""),
	BAD("show", "unknown command \"show\""),
	BAD("add target", "usage: add target GROUP ADDR [weight N]"),
	BAD("add target web", "usage: add target GROUP ADDR [weight N]"),
	BAD("show stats now please", "usage: show stats"),
	BAD("reload now", "usage: reload"),
	BAD("a b c d e f g h i j", "unknown command \"a\""),
	BAD("add target w 1:1 weight 1 x y z", "usage: add target"),
	BAD("\x01\x02\xfe\xff garbage\x7f\r", "unknown command \"\\x01\\x02\\xfe\\xff\""),
	BAD("say \"\\", "unknown command \"say\""),
	BAD("\"\\ x", "unknown command \"\\x22\\x5c\""),
	BAD("show\0stats", "NUL byte in the command line"),
	BAD("\0\0\0", "NUL byte in the command line"),
	BAD("help\0", "NUL byte in the command line"),
	BAD("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "unknown command \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\""),
};

T_UNIT(admin_command, lines_read_as_commands_or_refused)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *pc = &parse_cases[i];
		char *line = malloc(pc->len + 1);
		cr_assert(line);
		memcpy(line, pc->line, pc->len + 1);
		struct nlb_admin_command c;
		char err[256] = "";
		int r = nlb_admin_parse(line, pc->len, &c, err, sizeof(err));
		cr_expect_eq(r, pc->ret, "case %zu: %d", i, r);
		if (r == 0) {
			cr_expect_eq(c.cmd, pc->cmd, "case %zu: command %d", i, c.cmd);
			cr_expect_eq(c.n_args, pc->n_args, "case %zu: %u words", i, c.n_args);
			for (unsigned k = 0; k < c.n_args; k++)
				cr_expect(c.args[k][0] && !strpbrk(c.args[k], " \t"), "case %zu", i);
		} else {
			cr_expect(strncmp(err, pc->err, strlen(pc->err)) == 0,
				  "case %zu: \"%s\", want \"%s...\"", i, err, pc->err);
			for (const char *p = err; *p; p++)
				cr_expect(*p >= 0x20 && *p < 0x7f, "case %zu: byte 0x%02x in the reply",
					  i, (unsigned char)*p);
		}
		free(line);
	}
}

T_UNIT(admin_command, help_lists_every_command)
{
	for (int i = NLB_ADMIN_NONE + 1; i < NLB_ADMIN_CMD_COUNT; i++) {
		const struct nlb_admin_syntax *s = nlb_admin_syntax((enum nlb_admin_cmd)i);
		cr_assert(s->verb && s->usage && s->help, "command %d", i);
		cr_expect(strncmp(s->usage, s->verb, strlen(s->verb)) == 0, "%s", s->usage);
		cr_expect(s->min_args <= s->max_args, "%s", s->usage);
		cr_expect((s->noun ? 2 : 1) + s->max_args <= NLB_ADMIN_WORDS_MAX, "%s", s->usage);
	}
}

/* ---- a target command's arguments ---- */

struct target_case {
	const char *line;
	int ret;
	uint32_t weight;
	bool weight_given;
	const char *err;
};

static const struct target_case target_cases[] = {
	{ "add target web 127.0.0.1:9", 0, 1, false, NULL },
	{ "add target web [2001:db8::1]:443", 0, 1, false, NULL },
	{ "add target web 127.0.0.1:9 weight 0", 0, 0, true, NULL },
	{ "add target web 127.0.0.1:9 weight 1000", 0, 1000, true, NULL },
	{ "add target web 127.0.0.1:9 weight 01000", 0, 1000, true, NULL },
	{ "set weight web 127.0.0.1:9 7", 0, 7, true, NULL },
	{ "drain target web 127.0.0.1:9", 0, 1, false, NULL },
	{ "remove target web 127.0.0.1:9", 0, 1, false, NULL },
	{ "add target web 127.0.0.1", -EINVAL, 0, false, "bad address \"127.0.0.1\"" },
	{ "add target web localhost:80", -EINVAL, 0, false, "bad address \"localhost:80\"" },
	{ "add target web 127.0.0.1:0", -EINVAL, 0, false, "bad address" },
	{ "drain target web 1.2.3.4:5\x01", -EINVAL, 0, false, "bad address \"1.2.3.4:5\\x01\"" },
	{ "add target web 127.0.0.1:9 wait 3", -EINVAL, 0, false, "usage: add target" },
	/* a third word alone was ignored (weight 1 added): now refused */
	{ "add target web 127.0.0.1:9 weight", -EINVAL, 0, false, "usage: add target" },
	{ "add target web 127.0.0.1:9 7", -EINVAL, 0, false, "usage: add target" },
	{ "add target web 127.0.0.1:9 weight 1001", -ERANGE, 0, false,
	  "weight must be an integer from 0 to 1000 (got \"1001\")" },
	{ "add target web 127.0.0.1:9 weight 001000", -ERANGE, 0, false, "weight must" },
	{ "set weight web 127.0.0.1:9 -1", -ERANGE, 0, false, "weight must" },
	{ "set weight web 127.0.0.1:9 1e3", -ERANGE, 0, false, "weight must" },
	/* the address is checked before the weight */
	{ "set weight web 127.0.0.1 x", -EINVAL, 0, false, "bad address" },
};

T_UNIT(admin_command, target_address_and_weight)
{
	for (size_t i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++) {
		const struct target_case *tc = &target_cases[i];
		char line[128];
		snprintf(line, sizeof(line), "%s", tc->line);
		struct nlb_admin_command c;
		char err[256] = "";
		cr_assert_eq(nlb_admin_parse(line, strlen(line), &c, err, sizeof(err)), 0,
			     "case %zu: %s", i, err);
		struct nlb_target_conf t;
		bool given = !tc->weight_given;
		int r = nlb_admin_target_parse(c.cmd, c.args, c.n_args, &t, &given, err,
					       sizeof(err));
		cr_expect_eq(r, tc->ret, "case %zu: %d (%s)", i, r, err);
		if (r == 0) {
			cr_expect_eq(t.weight, tc->weight, "case %zu: weight %u", i, t.weight);
			cr_expect_eq(given, tc->weight_given, "case %zu", i);
			cr_expect_str_eq(t.addr_text, c.args[1], "case %zu", i);
		} else {
			cr_expect(strncmp(err, tc->err, strlen(tc->err)) == 0,
				  "case %zu: \"%s\", want \"%s...\"", i, err, tc->err);
		}
	}
}

/* ---- quoting ---- */

T_UNIT(admin_command, quoting_keeps_replies_one_line)
{
	char q[NLB_ADMIN_QUOTED_MAX];
	cr_expect_str_eq(nlb_admin_quoted("web", q), "web");
	cr_expect_str_eq(nlb_admin_quoted("a\nok\r", q), "a\\x0aok\\x0d");
	cr_expect_str_eq(nlb_admin_quoted("\"\\", q), "\\x22\\x5c");
	/* 48 bytes of the worst kind fit, then "..." */
	char worst[64];
	memset(worst, 0xff, sizeof(worst) - 1);
	worst[63] = '\0';
	nlb_admin_quoted(worst, q);
	cr_expect_eq(strlen(q), 48 * 4 + 3);
	cr_expect_str_eq(q + 48 * 4, "...");
}
