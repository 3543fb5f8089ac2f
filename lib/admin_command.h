/* The admin socket's line protocol without I/O: the bytes a client sent
 * cut into command lines, a line read as a command of the table (or the
 * text of the error reply), and a target command's address and weight.
 * nlb/control/admin.c does the I/O and runs the commands; everything a
 * client controls passes through here first, so it can be fuzzed. */
#ifndef NLB_ADMIN_COMMAND_H
#define NLB_ADMIN_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "config_snapshot-t.h"	/* struct nlb_target_conf */

/* Words in a command line: the longest command has six. */
#define NLB_ADMIN_WORDS_MAX 8

/* Room quoted() needs: 48 bytes of client text, each as "\xNN" at
 * worst, then "..." and the NUL. */
#define NLB_ADMIN_QUOTED_MAX (48 * 4 + 8)

/* The commands, in the order they are looked up and help lists them. */
enum nlb_admin_cmd {
	NLB_ADMIN_NONE = 0,		/* an empty line: no command, no reply */
	NLB_ADMIN_SHOW_TARGETS,
	NLB_ADMIN_SHOW_LISTENERS,
	NLB_ADMIN_SHOW_STATS,
	NLB_ADMIN_SHOW_CERTIFICATES,
	NLB_ADMIN_SHOW_RULES,
	NLB_ADMIN_SHOW_ANNOUNCE,
	NLB_ADMIN_ADD_TARGET,		/* GROUP ADDR [weight N] */
	NLB_ADMIN_SET_WEIGHT,		/* GROUP ADDR N */
	NLB_ADMIN_DRAIN_TARGET,		/* GROUP ADDR */
	NLB_ADMIN_REMOVE_TARGET,	/* GROUP ADDR */
	NLB_ADMIN_RELOAD,
	NLB_ADMIN_REOPEN,
	NLB_ADMIN_HELP,
	NLB_ADMIN_QUIT,
	NLB_ADMIN_CMD_COUNT,
};

/* A command's words: verb, noun (NULL: a one-word command), how many
 * words may follow them, and its lines of help. */
struct nlb_admin_syntax {
	const char *verb, *noun;
	unsigned min_args, max_args;
	const char *usage, *help;
};

/* The syntax of cmd, NLB_ADMIN_NONE < cmd < NLB_ADMIN_CMD_COUNT. */
const struct nlb_admin_syntax *nlb_admin_syntax(enum nlb_admin_cmd cmd);

/* A parsed line: the command and the words after its verb and noun,
 * pointing into the line (which parsing cuts into words in place). */
struct nlb_admin_command {
	enum nlb_admin_cmd cmd;
	unsigned n_args;
	char *args[NLB_ADMIN_WORDS_MAX];
};

/* The next line in what a client sent: in holds in_len bytes of a
 * buffer of in_max (a longest line and its '\n').  Returns the bytes to
 * consume; the line among them, *line_len bytes, is NUL-terminated in
 * place (its '\n' replaced; at eof, a last line without one shorter than
 * in_max gets its NUL in the room past it).  -EAGAIN when no line is
 * whole yet (at eof: none is left); -EMSGSIZE when in_max bytes hold no
 * '\n' (the connection ends there: the rest is never read). */
int nlb_admin_line_next(char *in, size_t in_len, size_t in_max, bool eof, size_t *line_len);

/* Reads one line (len bytes, NUL-terminated, its '\n' taken off; a '\r'
 * before it is taken off too).  Returns 0 with the command in *out
 * (NLB_ADMIN_NONE for a line of blanks); -EINVAL for a NUL byte in the
 * line, an unknown command or the wrong number of words, with the reply
 * text in err (one line of printable ASCII: client bytes are quoted). */
int nlb_admin_parse(char *line, size_t len, struct nlb_admin_command *out, char *err,
		    size_t errlen);

/* A target command's n words (nlb_admin_parse's args): after GROUP
 * (args[0], which the caller looks up first: an unknown group is its
 * error), ADDR, then for add an
 * optional "weight N", for set weight N.  Fills *tc (weight 1 unless
 * given, as the configuration's default) and *weight_given.  Returns 0;
 * -EINVAL for a bad address or a word other than "weight"; -ERANGE for a
 * weight that is not 0..NLB_TARGET_WEIGHT_MAX; with err as above. */
int nlb_admin_target_parse(enum nlb_admin_cmd cmd, char *const *args, unsigned n,
			   struct nlb_target_conf *tc, bool *weight_given, char *err, size_t errlen);

/* Text a client sent, fit to quote in a reply or the log: printable
 * ASCII as it is but '"' and '\', anything else as \xNN, at most 48
 * bytes of it then "...".  buf holds NLB_ADMIN_QUOTED_MAX bytes. */
const char *nlb_admin_quoted(const char *s, char *buf);

#endif
