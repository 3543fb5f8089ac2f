/* The chunked-body scanner (see http1_chunked.h): a state machine whose
 * data state skips a chunk's bytes in one step, so the cost is in the
 * framing lines, not the payload. */
#include "http1_chunked.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http1_chars.h"

enum state {
	C_SIZE_FIRST = 0,	/* a hex digit must come */
	C_SIZE,
	C_SIZE_WS,		/* BWS after the size: a ';' must follow */
	C_EXT_PRE_NAME,		/* after ';' */
	C_EXT_NAME,
	C_EXT_POST_NAME,
	C_EXT_PRE_VALUE,	/* after '=' */
	C_EXT_VALUE,
	C_EXT_QUOTED,
	C_EXT_QUOTED_ESC,
	C_EXT_POST_VALUE,
	C_SIZE_LF,		/* the size line's CR seen */
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
	C_TRAILER_START,
	C_TRAILER_NAME,
	C_TRAILER_VALUE,
	C_TRAILER_LF,
	C_END_LF,
	C_DONE,
	C_FAILED,
};

void nlb_http1_chunked_init(struct nlb_http1_chunked *c, unsigned opts, size_t max_trailers)
{
	memset(c, 0, sizeof(*c));
	c->opts = (uint8_t)opts;
	c->max_trailers = (uint32_t)(max_trailers < UINT32_MAX ? max_trailers : UINT32_MAX);
	c->state = C_SIZE_FIRST;
}

static ssize_t fail(struct nlb_http1_chunked *c, enum nlb_http1_error e)
{
	c->state = C_FAILED;
	c->error = e;
	return e == NLB_HTTP1_E_HEAD_TOO_LARGE ? -E2BIG : -EINVAL;
}

static bool is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A line end where a CR is due: CR, or LF when lenient. */
static int line_end(const struct nlb_http1_chunked *c, unsigned char ch, enum state after_cr,
		    enum state after_lf, enum nlb_http1_error otherwise, uint8_t *next)
{
	if (ch == '\r') {
		*next = (uint8_t)after_cr;
		return 0;
	}
	if (ch == '\n') {
		if (!(c->opts & NLB_HTTP1_LENIENT))
			return NLB_HTTP1_E_BARE_LF;
		*next = (uint8_t)after_lf;
		return 0;
	}
	return otherwise;
}

/* After a size line: data, or the trailers after the last chunk. */
static enum state after_size_line(struct nlb_http1_chunked *c)
{
	c->line_bytes = 0;
	return c->left == 0 ? C_TRAILER_START : C_DATA;
}

/* Where a size line may end: CR, or a lenient LF that ends it at once. */
static int size_line_end(struct nlb_http1_chunked *c, unsigned char ch,
			 enum nlb_http1_error otherwise)
{
	int e = line_end(c, ch, C_SIZE_LF, C_SIZE_LF, otherwise, &c->state);
	if (e == 0 && ch == '\n')
		c->state = (uint8_t)after_size_line(c);
	return e;
}

ssize_t nlb_http1_chunked_scan(struct nlb_http1_chunked *c, const char *buf, size_t len)
{
	if (c->state == C_DONE)
		return 0;
	if (c->state == C_FAILED)
		return fail(c, c->error);
	size_t i;
	int e;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (c->state != C_DATA && ++c->line_bytes >
		    (c->state >= C_TRAILER_START ? c->max_trailers : NLB_HTTP1_CHUNK_LINE_MAX))
			return fail(c, c->state >= C_TRAILER_START ? NLB_HTTP1_E_HEAD_TOO_LARGE
								   : NLB_HTTP1_E_CHUNK_EXT);
		switch ((enum state)c->state) {
		case C_SIZE_FIRST:
			if (!nlb_http1_is(ch, NLB_HTTP1_C_HEX))
				return fail(c, NLB_HTTP1_E_CHUNK_SIZE);
			c->left = (uint64_t)nlb_http1_hex_value(ch);
			c->state = C_SIZE;
			break;
		case C_SIZE:
			if (nlb_http1_is(ch, NLB_HTTP1_C_HEX)) {
				if (c->left >> 56)
					return fail(c, NLB_HTTP1_E_CHUNK_SIZE);	/* 2^60 and over */
				c->left = c->left << 4 | (uint64_t)nlb_http1_hex_value(ch);
			} else if (ch == ';') {
				c->state = C_EXT_PRE_NAME;
			} else if (is_ws(ch)) {
				c->state = C_SIZE_WS;
			} else {
				e = size_line_end(c, ch, NLB_HTTP1_E_CHUNK_SIZE);
				if (e)
					return fail(c, e);
			}
			break;
		case C_SIZE_WS:
			if (ch == ';')
				c->state = C_EXT_PRE_NAME;
			else if (!is_ws(ch))
				return fail(c, NLB_HTTP1_E_CHUNK_SIZE);
			break;
		case C_EXT_PRE_NAME:
			if (nlb_http1_is(ch, NLB_HTTP1_C_TCHAR))
				c->state = C_EXT_NAME;
			else if (!is_ws(ch))
				return fail(c, NLB_HTTP1_E_CHUNK_EXT);
			break;
		case C_EXT_NAME:
		case C_EXT_VALUE:
			if (nlb_http1_is(ch, NLB_HTTP1_C_TCHAR))
				break;
			/* fall through */
		case C_EXT_POST_NAME:
		case C_EXT_POST_VALUE:
			if (is_ws(ch)) {
				c->state = c->state == C_EXT_NAME || c->state == C_EXT_POST_NAME
					? C_EXT_POST_NAME : C_EXT_POST_VALUE;
			} else if (ch == ';') {
				c->state = C_EXT_PRE_NAME;
			} else if (ch == '=' && (c->state == C_EXT_NAME || c->state == C_EXT_POST_NAME)) {
				c->state = C_EXT_PRE_VALUE;
			} else {
				e = size_line_end(c, ch, NLB_HTTP1_E_CHUNK_EXT);
				if (e)
					return fail(c, e);
			}
			break;
		case C_EXT_PRE_VALUE:
			if (ch == '"')
				c->state = C_EXT_QUOTED;
			else if (nlb_http1_is(ch, NLB_HTTP1_C_TCHAR))
				c->state = C_EXT_VALUE;
			else if (!is_ws(ch))
				return fail(c, NLB_HTTP1_E_CHUNK_EXT);
			break;
		case C_EXT_QUOTED:
			/* qdtext: HTAB, SP, VCHAR but '"' and '\\', obs-text */
			if (ch == '"')
				c->state = C_EXT_POST_VALUE;
			else if (ch == '\\')
				c->state = C_EXT_QUOTED_ESC;
			else if (!nlb_http1_is(ch, NLB_HTTP1_C_VALUE))
				return fail(c, NLB_HTTP1_E_CHUNK_EXT);
			break;
		case C_EXT_QUOTED_ESC:
			if (!nlb_http1_is(ch, NLB_HTTP1_C_VALUE))
				return fail(c, NLB_HTTP1_E_CHUNK_EXT);
			c->state = C_EXT_QUOTED;
			break;
		case C_SIZE_LF:
			if (ch != '\n')
				return fail(c, NLB_HTTP1_E_BARE_CR);
			c->state = after_size_line(c);
			break;
		case C_DATA: {
			size_t take = len - i;
			if (take > c->left)
				take = (size_t)c->left;
			c->left -= take;
			c->data_bytes += take;
			i += take - 1;	/* the loop's i++ adds the last */
			if (c->left == 0)
				c->state = C_DATA_CR;
			break;
		}
		case C_DATA_CR:
			e = line_end(c, ch, C_DATA_LF, C_SIZE_FIRST, NLB_HTTP1_E_CHUNK_END, &c->state);
			if (e)
				return fail(c, e);
			if (ch == '\n')
				c->line_bytes = 0;
			break;
		case C_DATA_LF:
			if (ch != '\n')
				return fail(c, NLB_HTTP1_E_BARE_CR);
			c->line_bytes = 0;
			c->state = C_SIZE_FIRST;
			break;
		case C_TRAILER_START:
			if (nlb_http1_is(ch, NLB_HTTP1_C_TCHAR)) {
				c->state = C_TRAILER_NAME;
			} else if (ch == '\r') {
				c->state = C_END_LF;
			} else if (ch == '\n') {
				if (!(c->opts & NLB_HTTP1_LENIENT))
					return fail(c, NLB_HTTP1_E_BARE_LF);
				goto done;
			} else {
				return fail(c, is_ws(ch) ? NLB_HTTP1_E_OBS_FOLD : NLB_HTTP1_E_FIELD_NAME);
			}
			break;
		case C_TRAILER_NAME:
			if (ch == ':')
				c->state = C_TRAILER_VALUE;
			else if (!nlb_http1_is(ch, NLB_HTTP1_C_TCHAR))
				return fail(c, NLB_HTTP1_E_FIELD_NAME);
			break;
		case C_TRAILER_VALUE:
			if (nlb_http1_is(ch, NLB_HTTP1_C_VALUE))
				break;
			e = line_end(c, ch, C_TRAILER_LF, C_TRAILER_START, NLB_HTTP1_E_FIELD_VALUE,
				     &c->state);
			if (e)
				return fail(c, e);
			break;
		case C_TRAILER_LF:
			if (ch != '\n')
				return fail(c, NLB_HTTP1_E_BARE_CR);
			c->state = C_TRAILER_START;
			break;
		case C_END_LF:
			if (ch != '\n')
				return fail(c, NLB_HTTP1_E_BARE_CR);
			goto done;
		case C_DONE:
		case C_FAILED:
			break;
		}
		continue;
done:
		c->state = C_DONE;
		c->done = 1;
		return (ssize_t)(i + 1);
	}
	return (ssize_t)i;
}
