/* The table behind http1_chars.h, built at compile time. */
#include "http1_chars.h"

#define T NLB_HTTP1_C_TCHAR
#define V NLB_HTTP1_C_VCHAR
#define F NLB_HTTP1_C_VALUE
#define X NLB_HTTP1_C_HEX
#define H NLB_HTTP1_C_HOST

/* RFC 3986: unreserved, sub-delims, pct-encoded ('%'), ':' for the port
 * and '[' ']' around an IPv6 literal. */
#define ALNUM (T | V | F | H)

const uint8_t nlb_http1_class[256] = {
	['\t'] = F, [' '] = F,
	['!'] = T | V | F | H, ['"'] = V | F, ['#'] = T | V | F, ['$'] = T | V | F | H,
	['%'] = T | V | F | H, ['&'] = T | V | F | H, ['\''] = T | V | F | H,
	['('] = V | F | H, [')'] = V | F | H, ['*'] = T | V | F | H, ['+'] = T | V | F | H,
	[','] = V | F | H, ['-'] = T | V | F | H, ['.'] = T | V | F | H, ['/'] = V | F,
	['0'] = ALNUM | X, ['1'] = ALNUM | X, ['2'] = ALNUM | X, ['3'] = ALNUM | X,
	['4'] = ALNUM | X, ['5'] = ALNUM | X, ['6'] = ALNUM | X, ['7'] = ALNUM | X,
	['8'] = ALNUM | X, ['9'] = ALNUM | X,
	[':'] = V | F | H, [';'] = V | F | H, ['<'] = V | F, ['='] = V | F | H, ['>'] = V | F,
	['?'] = V | F, ['@'] = V | F,
	['A'] = ALNUM | X, ['B'] = ALNUM | X, ['C'] = ALNUM | X, ['D'] = ALNUM | X,
	['E'] = ALNUM | X, ['F'] = ALNUM | X, ['G'] = ALNUM, ['H'] = ALNUM, ['I'] = ALNUM,
	['J'] = ALNUM, ['K'] = ALNUM, ['L'] = ALNUM, ['M'] = ALNUM, ['N'] = ALNUM,
	['O'] = ALNUM, ['P'] = ALNUM, ['Q'] = ALNUM, ['R'] = ALNUM, ['S'] = ALNUM,
	['T'] = ALNUM, ['U'] = ALNUM, ['V'] = ALNUM, ['W'] = ALNUM, ['X'] = ALNUM,
	['Y'] = ALNUM, ['Z'] = ALNUM,
	['['] = V | F | H, ['\\'] = V | F, [']'] = V | F | H, ['^'] = T | V | F,
	['_'] = T | V | F | H, ['`'] = T | V | F,
	['a'] = ALNUM | X, ['b'] = ALNUM | X, ['c'] = ALNUM | X, ['d'] = ALNUM | X,
	['e'] = ALNUM | X, ['f'] = ALNUM | X, ['g'] = ALNUM, ['h'] = ALNUM, ['i'] = ALNUM,
	['j'] = ALNUM, ['k'] = ALNUM, ['l'] = ALNUM, ['m'] = ALNUM, ['n'] = ALNUM,
	['o'] = ALNUM, ['p'] = ALNUM, ['q'] = ALNUM, ['r'] = ALNUM, ['s'] = ALNUM,
	['t'] = ALNUM, ['u'] = ALNUM, ['v'] = ALNUM, ['w'] = ALNUM, ['x'] = ALNUM,
	['y'] = ALNUM, ['z'] = ALNUM,
	['{'] = V | F, ['|'] = T | V | F, ['}'] = V | F, ['~'] = T | V | F | H,
	[0x80 ... 0xff] = F,
};
