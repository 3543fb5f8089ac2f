/* libFuzzer target for nlb_proxyproto_parse: besides the sanitizers'
 * checks, aborts when the parser breaks its own contract: a result
 * outside its set, a length past the input, a prefix that disagrees with
 * the whole input, or parsed addresses that do not survive re-encoding. */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "tuple_hash.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_proxyproto: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Past this many bytes no header's outcome can change: v2 headers end
 * by NLB_PROXYPROTO_V2_MAX and v1 lines far earlier. */
#define DECIDED_BY NLB_PROXYPROTO_V2_MAX

/* Every prefix must agree with the whole input: -EAGAIN before a
 * header's end and its length from there on; for garbage, -EAGAIN until
 * some byte and the same error from that byte on.  The prefix is parsed
 * in a copy whose bytes past it are poisoned, so ASan catches a read
 * beyond the length the parser was given. */
static void check_prefixes(const uint8_t *data, size_t size, int whole)
{
	size_t upto = size < DECIDED_BY ? size : DECIDED_BY;
	uint8_t *copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);

	int failed = 0;
	for (size_t k = 0; k <= upto; k++) {
		ASAN_POISON_MEMORY_REGION(copy, size);
		ASAN_UNPOISON_MEMORY_REGION(copy, k);
		int r = nlb_proxyproto_parse(copy, k, NULL);
		if (whole > 0) {
			CHECK(r == ((int)k < whole ? -EAGAIN : whole));
		} else if (whole == -EAGAIN) {
			CHECK(r == -EAGAIN);
		} else {
			CHECK(r == -EAGAIN || r == whole);
			if (r == whole)
				failed = 1;
			else
				CHECK(!failed);
		}
	}
	ASAN_UNPOISON_MEMORY_REGION(copy, size);
	free(copy);
}

static void same_endpoints(const struct nlb_proxyproto *a,
			   const struct nlb_proxyproto *b)
{
	struct nlb_tuple ta, tb;
	/* Tuples hold IPv4 as IPv4-mapped, so a TCP6 line of mapped
	 * addresses equals the TCP4 line the encoder turns it into. */
	CHECK(nlb_tuple_from_sockaddr(&ta, (const struct sockaddr *)&a->src,
				      (const struct sockaddr *)&a->dst, 0) == 0);
	CHECK(nlb_tuple_from_sockaddr(&tb, (const struct sockaddr *)&b->src,
				      (const struct sockaddr *)&b->dst, 0) == 0);
	CHECK(nlb_tuple_equal(&ta, &tb));
}

static void check_reencode(const struct nlb_proxyproto *pp)
{
	const struct sockaddr *s = (const struct sockaddr *)&pp->src;
	const struct sockaddr *d = (const struct sockaddr *)&pp->dst;
	uint8_t buf[NLB_PROXYPROTO_V1_MAX];
	struct nlb_proxyproto back;

	int n = nlb_proxyproto_write_v1(buf, sizeof(buf), s, d);
	CHECK(n > 0 && n < NLB_PROXYPROTO_V1_MAX);
	CHECK(nlb_proxyproto_parse(buf, (size_t)n, &back) == n);
	CHECK(back.version == 1 && back.has_addr && back.transport == SOCK_STREAM);
	same_endpoints(pp, &back);

	int transport = pp->transport ? pp->transport : SOCK_STREAM;
	n = nlb_proxyproto_write_v2(buf, NLB_PROXYPROTO_V2_MAX_OUT, transport, s, d);
	CHECK(n == 16 + 12 || n == 16 + 36);
	CHECK(nlb_proxyproto_parse(buf, (size_t)n, &back) == n);
	CHECK(back.version == 2 && back.command == NLB_PP_PROXY && back.has_addr);
	CHECK(back.transport == transport);
	same_endpoints(pp, &back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlb_proxyproto pp;
	int r = nlb_proxyproto_parse(data, size, &pp);

	CHECK(r > 0 || r == -EAGAIN || r == -EINVAL || r == -EMSGSIZE);
	if (r > 0) {
		CHECK((size_t)r <= size);
		CHECK(pp.version == 1 || pp.version == 2);
		CHECK(pp.version == 2 || r < NLB_PROXYPROTO_V1_MAX);
		CHECK(r <= NLB_PROXYPROTO_V2_MAX);
		CHECK(pp.command == NLB_PP_LOCAL || pp.command == NLB_PP_PROXY);
		CHECK(pp.tlv_len == 0 || pp.tlv_off + pp.tlv_len == (size_t)r);
		if (pp.has_addr) {
			CHECK(pp.command == NLB_PP_PROXY);
			CHECK(pp.src.ss_family == pp.family && pp.dst.ss_family == pp.family);
			CHECK(pp.family == AF_INET || pp.family == AF_INET6);
			check_reencode(&pp);
		}
	}
	check_prefixes(data, size, r);
	return 0;
}
