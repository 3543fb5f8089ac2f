/* libFuzzer target for lib/geneve.c: each input is parsed as a GENEVE
 * packet.  Besides the sanitizers' checks (libFuzzer hands over a buffer
 * of exactly the input's size, so a read past len is caught) it aborts
 * when the parser breaks its own contract: a result that is neither
 * -EINVAL nor an offset in [8, len] on a 4-byte boundary, a refusal
 * without a known reason or one that wrote g; and when a packet is
 * accepted, if its header cut anywhere short is not refused as
 * truncated, if the header alone parses differently, or if nlb's own
 * 40-byte header for the fields read does not parse back to them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geneve.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_geneve: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Base header and the largest option length (63 words). */
#define HDR_MAX (8 + 63 * 4)

static const struct nlb_geneve_aws sentinel = {
	.protocol = 0x5a5a, .endpoint_id = 0x5a5a5a5a5a5a5a5aULL,
	.attachment_id = 0x5a5a5a5a5a5a5a5aULL, .cookie = 0x5a5a5a5a,
};

static int same(const struct nlb_geneve_aws *a, const struct nlb_geneve_aws *b)
{
	return a->protocol == b->protocol && a->endpoint_id == b->endpoint_id &&
	       a->attachment_id == b->attachment_id && a->cookie == b->cookie;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlb_geneve_aws g = sentinel, again;
	enum nlb_geneve_error err = NLB_GENEVE_E_COUNT, err2;

	int r = nlb_geneve_parse(data, size, &g, &err);
	if (r < 0) {
		CHECK(r == -EINVAL);
		CHECK(err > NLB_GENEVE_OK && err < NLB_GENEVE_E_COUNT);
		CHECK(strcmp(nlb_geneve_error_name(err), "unknown") != 0);
		CHECK(same(&g, &sentinel));
		return 0;
	}
	CHECK(err == NLB_GENEVE_OK);
	CHECK(r >= 8 && (size_t)r <= size && r <= HDR_MAX && r % 4 == 0);
	CHECK(r == 8 + (data[0] & 0x3f) * 4);
	CHECK(g.protocol == NLB_GENEVE_PROTO_IPV4 || g.protocol == NLB_GENEVE_PROTO_IPV6);

	/* The inner packet's bytes do not matter: the header alone reads
	 * the same, and any shorter cut is truncated. */
	again = sentinel;
	CHECK(nlb_geneve_parse(data, (size_t)r, &again, &err2) == r);
	CHECK(err2 == NLB_GENEVE_OK && same(&again, &g));
	for (size_t cut = 0; cut < (size_t)r; cut++) {
		/* a copy of exactly cut bytes, so ASan sees a read past it */
		uint8_t *part = malloc(cut ? cut : 1);
		CHECK(part != NULL);
		memcpy(part, data, cut);
		again = sentinel;
		CHECK(nlb_geneve_parse(part, cut, &again, &err2) == -EINVAL);
		CHECK(err2 == NLB_GENEVE_E_TRUNCATED && same(&again, &sentinel));
		free(part);
	}

	/* What nlb would write for these fields reads back as them. */
	uint8_t out[NLB_GENEVE_AWS_LEN];
	nlb_geneve_write(out, &g);
	again = sentinel;
	CHECK(nlb_geneve_parse(out, sizeof(out), &again, &err2) == NLB_GENEVE_AWS_LEN);
	CHECK(err2 == NLB_GENEVE_OK && same(&again, &g));
	return 0;
}
