/* The byte classes of HTTP/1 (RFC 9110 5.6, RFC 9112), shared by the head
 * and chunked-body parsers: a table lookup per byte in their loops. */
#ifndef NLB_HTTP1_CHARS_H
#define NLB_HTTP1_CHARS_H

#include <stdbool.h>
#include <stdint.h>

enum {
	NLB_HTTP1_C_TCHAR = 0x01,	/* token characters */
	NLB_HTTP1_C_VCHAR = 0x02,	/* 0x21..0x7e */
	NLB_HTTP1_C_VALUE = 0x04,	/* field-vchar and SP, HTAB: VCHAR, obs-text */
	NLB_HTTP1_C_HEX = 0x08,
	NLB_HTTP1_C_HOST = 0x10,	/* reg-name, IP literal and port characters */
};

extern const uint8_t nlb_http1_class[256];

static inline bool nlb_http1_is(unsigned char c, unsigned cls)
{
	return (nlb_http1_class[c] & cls) != 0;
}

static inline int nlb_http1_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

#endif
