/* The request-head parser (see http_req.h): one pass over the bytes as a
 * state machine, from the start each call; heads are small (the caller
 * caps them), so keeping no state between calls costs little. */
#include "http_req.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* RFC 9110, 5.6.2. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_vchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e;
}

enum state {
	S_START = 0,		/* before the request line (empty lines skipped) */
	S_START_LF,		/* ... a CR, LF must follow */
	S_METHOD,
	S_TARGET_FIRST,
	S_TARGET,
	S_VERSION,		/* matching "HTTP/1." then a digit */
	S_LINE_END,		/* after the version: CR LF or LF */
	S_LINE_LF,
	S_FIELD_START,		/* a field name, or the empty line */
	S_FIELD_NAME,
	S_FIELD_VALUE,
	S_FIELD_LF,
	S_END_LF,		/* the empty line's CR, LF must follow */
};

int nlb_http_req_parse(const char *buf, size_t len, size_t max, struct nlb_http_req *out)
{
	static const char version[] = "HTTP/1.";
	enum state st = S_START;
	size_t vpos = 0, method_at = 0, target_at = 0, method_len = 0, target_len = 0;
	int minor = 0;
	size_t n = len < max ? len : max;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		switch (st) {
		case S_START:
			if (c == '\r') {
				st = S_START_LF;
			} else if (c == '\n') {
				/* stay */
			} else if (is_tchar(c)) {
				method_at = i;
				st = S_METHOD;
			} else {
				return -EINVAL;
			}
			break;
		case S_START_LF:
			if (c != '\n')
				return -EINVAL;
			st = S_START;
			break;
		case S_METHOD:
			if (c == ' ') {
				method_len = i - method_at;
				st = S_TARGET_FIRST;
			} else if (!is_tchar(c)) {
				return -EINVAL;
			}
			break;
		case S_TARGET_FIRST:
			if (!is_vchar(c))
				return -EINVAL;
			target_at = i;
			st = S_TARGET;
			break;
		case S_TARGET:
			if (c == ' ') {
				target_len = i - target_at;
				st = S_VERSION;
			} else if (!is_vchar(c)) {
				return -EINVAL;
			}
			break;
		case S_VERSION:
			if (vpos < sizeof(version) - 1) {
				if (c != (unsigned char)version[vpos++])
					return -EINVAL;
			} else if (c == '0' || c == '1') {
				minor = c - '0';
				st = S_LINE_END;
			} else {
				return -EINVAL;
			}
			break;
		case S_LINE_END:
			if (c == '\r')
				st = S_LINE_LF;
			else if (c == '\n')
				st = S_FIELD_START;
			else
				return -EINVAL;
			break;
		case S_LINE_LF:
		case S_FIELD_LF:
			if (c != '\n')
				return -EINVAL;
			st = S_FIELD_START;
			break;
		case S_FIELD_START:
			if (c == '\r') {
				st = S_END_LF;
			} else if (c == '\n') {
				goto done;
			} else if (is_tchar(c)) {
				st = S_FIELD_NAME;
			} else {
				return -EINVAL;	/* obsolete folding among others */
			}
			break;
		case S_FIELD_NAME:
			if (c == ':')
				st = S_FIELD_VALUE;
			else if (!is_tchar(c))
				return -EINVAL;
			break;
		case S_FIELD_VALUE:
			if (c == '\r')
				st = S_FIELD_LF;
			else if (c == '\n')
				st = S_FIELD_START;
			else if (c != '\t' && c != ' ' && !is_vchar(c) && c < 0x80)
				return -EINVAL;
			break;
		case S_END_LF:
			if (c != '\n')
				return -EINVAL;
			goto done;
		}
		continue;
done:
		out->method = buf + method_at;
		out->method_len = method_len;
		out->target = buf + target_at;
		out->target_len = target_len;
		out->minor = minor;
		return (int)(i + 1);
	}
	return len >= max ? -E2BIG : -EAGAIN;
}
