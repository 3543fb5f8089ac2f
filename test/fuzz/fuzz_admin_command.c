/* libFuzzer target for the admin socket's line protocol
 * (lib/admin_command.c, which nlb/control/admin.c calls): the first byte
 * picks the buffer's size (the real one or a small one, so the too-long
 * path is reached) and how many bytes each receive brings; the rest is
 * what a client sends, cut into lines as admin_input does and each line
 * read as a command, then a target command's address and weight.
 * Besides the sanitizers' checks (the receive buffer is exactly as large
 * as nlb's, so a NUL written past it is caught), it aborts when
 *   - the lines differ from the stream cut at each '\n' by hand, or from
 *     the lines the same stream gives when received at once;
 *   - a result is outside its set, or a line of blanks is a command;
 *   - a command's words are not the line's words after verb and noun,
 *     or their number is outside the table's;
 *   - an error reply is empty, longer than its buffer, or holds a byte
 *     that is not printable ASCII (a client could forge reply lines);
 *   - an accepted address does not format and parse back to itself, an
 *     accepted weight is not the decimal word given, up to 1000, or a
 *     target command is accepted with a word it does not use. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "admin_command.h"
#include "tunables.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_admin_command: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* nlb's: a longest line and its '\n' (admin.c's ADMIN_IN_MAX). */
#define IN_MAX_NLB (NLB_ADMIN_LINE_MAX + 1)

static void check_reply(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen);
	CHECK(n > 0 && n < errlen);
	for (size_t i = 0; i < n; i++)
		CHECK(err[i] >= 0x20 && err[i] < 0x7f);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The line's words, by hand: runs of bytes other than blanks. */
static unsigned words(const char *s, size_t n, const char **w, size_t *wl, unsigned max)
{
	unsigned k = 0;
	for (size_t i = 0; i < n;) {
		while (i < n && blank(s[i]))
			i++;
		if (i == n)
			break;
		size_t at = i;
		while (i < n && !blank(s[i]))
			i++;
		if (k < max) {
			w[k] = s + at;
			wl[k] = i - at;
		}
		k++;
	}
	return k;
}

static bool word_is(const char *w, size_t wl, const char *s)
{
	return s && strlen(s) == wl && memcmp(w, s, wl) == 0;
}

static void check_target(const struct nlb_admin_command *c)
{
	struct nlb_target_conf tc;
	bool given;
	char err[1280];
	err[0] = '\0';
	int r = nlb_admin_target_parse(c->cmd, c->args, c->n_args, &tc, &given, err,
				       sizeof(err));
	CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r < 0) {
		check_reply(err, sizeof(err));
		return;
	}
	/* every word is used: add takes ADDR alone or with "weight N" */
	CHECK(c->cmd != NLB_ADMIN_ADD_TARGET || c->n_args != 3);
	CHECK(strcmp(tc.addr_text, c->args[1]) == 0);
	char back[NLB_ADDRSTRLEN];
	nlb_addr_format((const struct sockaddr *)&tc.addr.ss, back, sizeof(back));
	struct nlb_addr again;
	CHECK(nlb_addr_parse(back, 0, &again) == 0 && nlb_addr_equal(&again, &tc.addr));
	CHECK(given == (c->cmd == NLB_ADMIN_SET_WEIGHT ||
			(c->cmd == NLB_ADMIN_ADD_TARGET && c->n_args == 4)));
	if (!given) {
		CHECK(tc.weight == 1);
		return;
	}
	const char *w = c->args[c->n_args - 1];
	size_t wl = strlen(w);
	CHECK(wl >= 1 && wl <= 5 && strspn(w, "0123456789") == wl);
	CHECK(tc.weight == strtoul(w, NULL, 10) && tc.weight <= NLB_TARGET_WEIGHT_MAX);
	if (c->cmd == NLB_ADMIN_ADD_TARGET)
		CHECK(strcmp(c->args[2], "weight") == 0);
}

/* One line as admin_input hands it to run_line: NUL-terminated, len
 * bytes (it may hold NULs of its own). */
static void check_line(char *line, size_t len)
{
	char *copy = malloc(len + 1);
	CHECK(copy != NULL);
	memcpy(copy, line, len + 1);
	size_t n = len;
	if (n && copy[n - 1] == '\r')
		n--;
	bool nul = memchr(copy, '\0', n) != NULL;
	const char *w[NLB_ADMIN_WORDS_MAX];
	size_t wl[NLB_ADMIN_WORDS_MAX];
	unsigned nw = nul ? 0 : words(copy, n, w, wl, NLB_ADMIN_WORDS_MAX);

	struct nlb_admin_command c;
	char err[1280];
	err[0] = '\0';
	int r = nlb_admin_parse(line, len, &c, err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		check_reply(err, sizeof(err));
		CHECK(nul == (strcmp(err, "NUL byte in the command line") == 0));
		free(copy);
		return;
	}
	CHECK(!nul);
	CHECK((c.cmd == NLB_ADMIN_NONE) == (nw == 0));
	if (c.cmd == NLB_ADMIN_NONE) {
		free(copy);
		return;
	}
	CHECK(c.cmd > NLB_ADMIN_NONE && c.cmd < NLB_ADMIN_CMD_COUNT);
	const struct nlb_admin_syntax *s = nlb_admin_syntax(c.cmd);
	unsigned skip = s->noun ? 2 : 1;
	CHECK(nw <= NLB_ADMIN_WORDS_MAX && nw == skip + c.n_args);
	CHECK(c.n_args >= s->min_args && c.n_args <= s->max_args);
	CHECK(word_is(w[0], wl[0], s->verb));
	CHECK(!s->noun || word_is(w[1], wl[1], s->noun));
	for (unsigned k = 0; k < c.n_args; k++) {
		CHECK(c.args[k] >= line && c.args[k] < line + len);
		CHECK(word_is(w[skip + k], wl[skip + k], c.args[k]));
		char q[NLB_ADMIN_QUOTED_MAX];
		nlb_admin_quoted(c.args[k], q);
		CHECK(strlen(q) < sizeof(q));
		check_reply(q, sizeof(q));
	}
	if (c.cmd >= NLB_ADMIN_ADD_TARGET && c.cmd <= NLB_ADMIN_REMOVE_TARGET)
		check_target(&c);
	free(copy);
}

/* What a connection's lines were: each line's length and bytes, then
 * trace_end's mark if a line too long ended the connection. */
struct trace {
	uint8_t *p;
	size_t len, cap;
};

static void trace_add(struct trace *t, const void *p, size_t n)
{
	if (t->len + n + 8 > t->cap) {
		t->cap = (t->len + n + 8) * 2;
		t->p = realloc(t->p, t->cap);
		CHECK(t->p != NULL);
	}
	memcpy(t->p + t->len, &n, sizeof(n));
	memcpy(t->p + t->len + sizeof(n), p, n);
	t->len += sizeof(n) + n;
}

/* The connection ended on a line too long: a length no line has. */
static void trace_end(struct trace *t)
{
	trace_add(t, "", 0);
	memset(t->p + t->len - sizeof(size_t), 0xff, sizeof(size_t));
}

/* A connection receiving the stream chunk bytes at a time (0: as much
 * as fits) into a buffer of in_max bytes, as poll_server and
 * admin_input do. */
static void connection(const uint8_t *data, size_t size, size_t in_max, size_t chunk,
		       struct trace *t, bool check)
{
	char *in = malloc(in_max);
	CHECK(in != NULL);
	size_t in_len = 0, pos = 0;
	bool eof = false;
	for (;;) {
		if (pos == size) {
			eof = true;
		} else if (in_len < in_max) {
			size_t k = in_max - in_len;
			if (chunk && k > chunk)
				k = chunk;
			if (k > size - pos)
				k = size - pos;
			memcpy(in + in_len, data + pos, k);
			in_len += k;
			pos += k;
		}
		for (;;) {
			size_t len = SIZE_MAX;
			int r = nlb_admin_line_next(in, in_len, in_max, eof, &len);
			CHECK(r > 0 || r == -EAGAIN || r == -EMSGSIZE);
			if (r == -EMSGSIZE) {
				CHECK(in_len == in_max && !memchr(in, '\n', in_len));
				trace_end(t);
				free(in);
				return;
			}
			if (r == -EAGAIN) {
				CHECK(!memchr(in, '\n', in_len) && in_len < in_max);
				CHECK(!eof || in_len == 0);
				break;
			}
			CHECK((size_t)r <= in_len && len < in_max && in[len] == '\0');
			CHECK((size_t)r == len + 1 || (eof && (size_t)r == len && len == in_len));
			CHECK(!memchr(in, '\n', len));
			trace_add(t, in, len);
			if (check)
				check_line(in, len);
			in_len -= (size_t)r;
			memmove(in, in + r, in_len);
		}
		if (eof)
			break;
	}
	free(in);
}

/* The stream cut at each '\n' by hand. */
static void by_hand(const uint8_t *data, size_t size, size_t in_max, struct trace *t)
{
	size_t at = 0;
	while (at < size) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
		if (len >= in_max) {
			trace_end(t);
			return;
		}
		trace_add(t, data + at, len);
		at += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t in_max = data[0] & 0x80 ? IN_MAX_NLB : 8 + (data[0] & 0x3f);
	size_t chunk = (data[0] >> 6 & 1) ? 0 : 1 + (data[0] & 0x0f);
	struct trace a = { 0 }, b = { 0 }, h = { 0 };
	connection(data + 1, size - 1, in_max, chunk, &a, true);
	connection(data + 1, size - 1, in_max, 0, &b, false);
	by_hand(data + 1, size - 1, in_max, &h);
	CHECK(a.len == b.len && (!a.len || memcmp(a.p, b.p, a.len) == 0));
	CHECK(a.len == h.len && (!a.len || memcmp(a.p, h.p, a.len) == 0));
	free(a.p);
	free(b.p);
	free(h.p);
	return 0;
}
