/* libFuzzer target for nlb_http_req_parse (the metrics endpoint's
 * request heads): besides the sanitizers' checks, aborts when the parser
 * breaks its own contract: a result outside its set, spans outside the
 * head, or a prefix that disagrees with the whole input. */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_http_req: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Small, so that inputs reach the cap too. */
#define MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	struct nlb_http_req req;
	int whole = nlb_http_req_parse(copy, size, MAX, &req);
	CHECK(whole == -EAGAIN || whole == -EINVAL || whole == -E2BIG || (whole > 0 && whole <= MAX));
	if (whole > 0) {
		CHECK(req.method >= copy && req.method_len > 0 &&
		      req.method + req.method_len < copy + whole);
		CHECK(req.target > req.method + req.method_len && req.target_len > 0 &&
		      req.target + req.target_len < copy + whole);
		CHECK(req.minor == 0 || req.minor == 1);
	}
	/* Every prefix agrees with the whole; the bytes past it are
	 * poisoned, so ASan catches a read beyond the given length. */
	size_t upto = size < MAX ? size : MAX;
	int failed = 0;
	for (size_t k = 0; k <= upto; k++) {
		ASAN_POISON_MEMORY_REGION(copy, size);
		ASAN_UNPOISON_MEMORY_REGION(copy, k);
		int r = nlb_http_req_parse(copy, k, MAX, &req);
		if (whole > 0) {
			CHECK(r == ((int)k < whole ? -EAGAIN : whole));
		} else if (whole == -EINVAL) {
			CHECK(r == -EAGAIN || r == -EINVAL);
			if (r == -EINVAL)
				failed = 1;
			else
				CHECK(!failed);
		} else {
			/* -EAGAIN or -E2BIG: no prefix shorter than MAX decides */
			CHECK(r == (k < MAX ? -EAGAIN : -E2BIG));
		}
	}
	ASAN_UNPOISON_MEMORY_REGION(copy, size);
	free(copy);
	return 0;
}
