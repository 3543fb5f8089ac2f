/* The configuration file's text: read once, whole, into memory, and the
 * checks libconfig does not make (NUL bytes, @include, integer literals
 * too large for libconfig 1.5), by a tokenizer that follows libconfig's
 * rules. */
#include "config_text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_snapshot-t.h"

/* What the checks of the text look at; next_token skips the rest. */
enum token_kind {
	TOKEN_END = 0,
	TOKEN_INT,		/* an integer literal without the L suffix */
	TOKEN_DIRECTIVE,	/* '@' and the word after it */
};

struct token {
	enum token_kind kind;
	const char *start;
	size_t len;
	unsigned line;
	int too_big;		/* TOKEN_INT: does not fit in libconfig 1.5's 32 bits */
};

struct scan {
	const char *p, *end;
	unsigned line;
};

static int is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads an integer literal at p (sign, 0x, digits) into t; returns where
 * it ends, or, for an INT64 (L) or float literal, past it with t->kind
 * TOKEN_END: the walker's range and type checks deal with those. */
static const char *scan_number(const char *p, const char *end, struct token *t)
{
	int neg = *p == '-', hex = 0;
	unsigned long long v = 0;

	t->kind = TOKEN_END;
	t->start = p;
	t->too_big = 0;
	if (*p == '-' || *p == '+')
		p++;
	if (p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = 1;
		p += 2;
	}
	for (; p < end; p++) {
		int d;
		if (is_digit(*p))
			d = *p - '0';
		else if (hex && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (hex && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		v = v * (hex ? 16 : 10) + (unsigned)d;
		/* Past 2^40 the exact value no longer matters. */
		if (v > (1ULL << 40)) {
			t->too_big = 1;
			v = 1ULL << 40;
		}
	}
	if (p < end && *p == 'L')
		return p;		/* INT64 literal: stored exactly */
	if (!hex && p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
		while (p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E' ||
				   *p == '+' || *p == '-'))
			p++;
		return p;		/* a float: the type check refuses it */
	}
	/* Hex literals are 32-bit patterns in libconfig (0xFFFFFFFF is -1),
	 * so their limit is UINT32_MAX. */
	unsigned long long limit = hex ? UINT32_MAX :
				   neg ? (unsigned long long)INT_MAX + 1 : INT_MAX;
	if (v > limit)
		t->too_big = 1;
	t->kind = TOKEN_INT;
	t->len = (size_t)(p - t->start);
	return p;
}

/* The next integer literal or directive of the text, by libconfig 1.5's
 * token rules (lib/scanner.l): nothing in a comment or a string counts,
 * so both checks below see the file as libconfig does.  Lines are
 * counted as libconfig counts them, by '\n'.  TOKEN_END at the end. */
static void next_token(struct scan *sc, struct token *t)
{
	const char *p = sc->p, *end = sc->end;

	while (p < end) {
		char c = *p;
		if (c == '\n') {
			sc->line++;
			p++;
		} else if (c == '#' || (c == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
		} else if (c == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
				if (*p == '\n')
					sc->line++;
			p = end - p >= 2 ? p + 2 : end;
		} else if (c == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (*p == '\n')
					sc->line++;
			}
			if (p < end)
				p++;
		} else if (c == '@') {
			t->kind = TOKEN_DIRECTIVE;
			t->start = p;
			t->line = sc->line;
			for (p++; p < end && (is_alpha(*p) || *p == '_'); p++)
				;
			t->len = (size_t)(p - t->start);
			sc->p = p;
			return;
		} else if (is_alpha(c) || c == '*') {
			while (p < end && (*p == '-' || *p == '_' || *p == '*' ||
					   is_digit(*p) || is_alpha(*p)))
				p++;
		} else if (is_digit(c) || ((c == '-' || c == '+') && p + 1 < end &&
					    is_digit(p[1]))) {
			p = scan_number(p, end, t);
			if (t->kind == TOKEN_INT) {
				t->line = sc->line;
				sc->p = p;
				return;
			}
		} else {
			p++;
		}
	}
	sc->p = p;
	t->kind = TOKEN_END;
}

/* Refuses, before libconfig reads the text, what it would read wrong or
 * act on: a NUL byte (libconfig reads a C string: the rest of the file
 * would be dropped unseen) and @include (libconfig opens the file it
 * names itself; nlb reads its one file once, so a reload, run as the
 * unprivileged user, sees one consistent version of it). */
int cfg_check_text(const struct cfg_loader *ld, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	if (nul != NULL) {
		unsigned line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		return cfg_fail_line(ld, line, "a NUL byte: a configuration file is text");
	}

	static const char include[] = "@include";
	struct scan sc = { text, text + len, 1 };
	struct token t;
	for (next_token(&sc, &t); t.kind != TOKEN_END; next_token(&sc, &t))
		if (t.kind == TOKEN_DIRECTIVE && t.len == sizeof(include) - 1 &&
		    memcmp(t.start, include, t.len) == 0)
			return cfg_fail_line(ld, t.line, "@include is not supported: the "
					     "configuration is one file, read once (copy the "
					     "included settings into it)");
	return 0;
}

/* libconfig 1.5 stores a decimal literal too large for 32 bits as its low
 * 32 bits (5000000000 reads back as 705032704), which could land inside a
 * valid range.  Later versions promote it to INT64, which the range checks
 * catch; for 1.5 the text libconfig parsed is scanned for such literals.
 * Runs only after libconfig accepted it, so tokens are well formed. */
int cfg_check_int_literals(const struct cfg_loader *ld, const char *text, size_t len)
{
	struct scan sc = { text, text + len, 1 };
	struct token t;
	for (next_token(&sc, &t); t.kind != TOKEN_END; next_token(&sc, &t))
		if (t.kind == TOKEN_INT && t.too_big)
			return cfg_fail_line(ld, t.line, "integer %.*s does not fit in 32 "
					     "bits (write %.*sL for a 64-bit integer)", (int)t.len,
					     t.start, (int)t.len, t.start);
	return 0;
}

/* Writes "FILE: cannot VERB: reason" and returns -e. */
static int fail_io(const struct cfg_loader *ld, const char *verb, int e)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s: cannot %s: %s", ld->path, verb, strerror(e));
	return -e;
}

static int fail_too_big(const struct cfg_loader *ld)
{
	if (ld->err != NULL && ld->errlen > 0)
		snprintf(ld->err, ld->errlen, "%s: larger than %u bytes (%u MiB), the limit "
			 "for a configuration file", ld->path, NLB_CONFIG_MAX_BYTES,
			 NLB_CONFIG_MAX_BYTES >> 20);
	return -EFBIG;
}

/* Reads the whole file, once, into a NUL-terminated buffer: libconfig
 * parses that buffer and the checks scan it, so they all see one version
 * of a file that may be replaced at any time.  Only a regular file of at
 * most NLB_CONFIG_MAX_BYTES is read, and never past that: a directory
 * (which libconfig would read as an empty, valid file), a device that
 * never ends (/dev/zero) or a FIFO are refused.  Open errors are reported
 * with their errno (libconfig only says "file I/O error"). */
int cfg_read_file(const struct cfg_loader *ld, char **out, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO with no writer would wait for one. */
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail_io(ld, "open", errno);

	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = fail_io(ld, "open", errno);
	} else if (S_ISDIR(st.st_mode)) {
		r = fail_io(ld, "open", EISDIR);
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		if (ld->err != NULL && ld->errlen > 0)
			snprintf(ld->err, ld->errlen, "%s: not a regular file", ld->path);
	} else if (st.st_size > NLB_CONFIG_MAX_BYTES) {
		r = fail_too_big(ld);
	}

	/* Room for what fstat says and one byte more, to see a file that
	 * grew; grown as needed up to one byte past the limit. */
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (r == 0) {
		cap = st.st_size < NLB_CONFIG_MAX_BYTES ? (size_t)st.st_size + 1 :
			(size_t)NLB_CONFIG_MAX_BYTES + 1;
		if ((buf = malloc(cap + 1)) == NULL)
			r = cfg_fail_nomem(ld);
	}
	while (r == 0 && n <= NLB_CONFIG_MAX_BYTES) {
		if (n == cap) {
			cap = cap > NLB_CONFIG_MAX_BYTES / 2 ? (size_t)NLB_CONFIG_MAX_BYTES + 1 :
				2 * cap;
			char *nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				r = cfg_fail_nomem(ld);
				break;
			}
			buf = nb;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = fail_io(ld, "read", errno);
		else if (got == 0)
			break;
		else
			n += (size_t)got;
	}
	close(fd);
	if (r == 0 && n > NLB_CONFIG_MAX_BYTES)
		r = fail_too_big(ld);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
