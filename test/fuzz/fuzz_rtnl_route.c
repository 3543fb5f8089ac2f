/* libFuzzer target for lib/rtnl_route.c's two readers: the first byte
 * picks one.  Even: the rest is a prefix as the configuration gives it;
 * one accepted must format back to a text that parses to the same route,
 * have no bit past its length and a length within its family's.  Odd:
 * the rest is a reply buffer of a route dump, as the kernel sends them
 * (copied to an aligned buffer, as recv gives it); the parser must
 * return 1, 0 or a negative errno, and every route it hands over must be
 * of the table and protocol asked, IPv4 or IPv6, with a length within
 * its family's.  The sanitizers catch any read past the input. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rtnl_route.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_rtnl_route: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static void each(const struct nlb_route *r, void *arg)
{
	(void)arg;
	CHECK(r->family == AF_INET || r->family == AF_INET6);
	CHECK(r->len <= (r->family == AF_INET ? 32 : 128));
	CHECK(r->table == 100 && r->protocol == 249);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		char text[128];
		size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
		memcpy(text, data + 1, n);
		text[n] = '\0';
		struct nlb_route r, again;
		memset(&r, 0, sizeof(r));
		if (nlb_prefix_parse(text, &r) < 0)
			return 0;
		unsigned max = r.family == AF_INET ? 32 : 128;
		CHECK(r.family == AF_INET || r.family == AF_INET6);
		CHECK(r.len <= max);
		for (unsigned bit = r.len; bit < max; bit++)
			CHECK(!(r.dst[bit / 8] & (0x80 >> (bit % 8))));
		char back[80];
		nlb_prefix_format(&r, back, sizeof(back));
		memset(&again, 0, sizeof(again));
		CHECK(nlb_prefix_parse(back, &again) == 0);
		CHECK(again.family == r.family && again.len == r.len &&
		      !memcmp(again.dst, r.dst, sizeof(r.dst)));
		return 0;
	}
	void *buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	int r = nlb_rtnl_parse_dump(buf, size - 1, 100, 249, each, NULL);
	CHECK(r == 0 || r == 1 || (r < 0 && r > -4096));
	free(buf);
	return 0;
}
