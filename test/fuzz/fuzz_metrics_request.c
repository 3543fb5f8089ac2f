/* libFuzzer target for the metrics endpoint's reading of a request
 * (lib/metrics_request.c, which nlb/control/metrics.c calls, and the
 * lenient HTTP/1 request parser under it): the first byte picks the cap
 * (nlb's NLB_METRICS_HEAD_MAX, or a small one so the cap is reached) and
 * how many bytes each receive brings; the rest is what a scraper sends,
 * received into a buffer of the cap's size as the metrics thread's poll
 * server does, and read after each receive until there is an answer.
 * Besides the sanitizers' checks (bytes past those received are
 * poisoned) it aborts when
 *   - a result is outside its set, or the answer depends on how the
 *     bytes were cut into receives;
 *   - a full buffer is still waited on (the client would hang until its
 *     deadline: the server reads no more);
 *   - the page (or its head, 405, 404) is answered for a request line
 *     whose method and path, read here by hand, say otherwise. */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_request.h"
#include "tunables.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_metrics_request: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* The answer, or 0 when the bytes ended first (the client's EOF). */
static int receive(const uint8_t *data, size_t size, size_t max, size_t chunk)
{
	char *in = malloc(max);
	CHECK(in != NULL);
	ASAN_POISON_MEMORY_REGION(in, max);
	size_t got = 0;
	int answer = 0;
	while (got < size && got < max) {
		size_t k = max - got;
		if (chunk && k > chunk)
			k = chunk;
		if (k > size - got)
			k = size - got;
		ASAN_UNPOISON_MEMORY_REGION(in + got, k);
		memcpy(in + got, data + got, k);
		got += k;
		enum nlb_metrics_answer a = 0;
		enum nlb_http1_error why = NLB_HTTP1_E_COUNT;
		int r = nlb_metrics_request(in, got, max, &a, &why);
		CHECK(r == 0 || r == -EAGAIN);
		if (r == -EAGAIN) {
			CHECK(got < max);
			continue;
		}
		CHECK(a >= NLB_METRICS_PAGE && a <= NLB_METRICS_TOO_LARGE);
		CHECK((why != NLB_HTTP1_E_NONE) == (a == NLB_METRICS_BAD || a == NLB_METRICS_TOO_LARGE));
		CHECK(why < NLB_HTTP1_E_COUNT);
		answer = (int)a;
		break;
	}
	ASAN_UNPOISON_MEMORY_REGION(in, max);
	free(in);
	return answer;
}

static bool starts(const uint8_t *p, size_t n, const char *s)
{
	return n >= strlen(s) && memcmp(p, s, strlen(s)) == 0;
}

/* The request line's method and path, by hand, against the answer. */
static void check_line(const uint8_t *p, size_t n, int answer)
{
	while (n && (*p == '\n' || starts(p, n, "\r\n"))) {
		size_t k = *p == '\n' ? 1 : 2;
		p += k;
		n -= k;
	}
	const uint8_t *sp = memchr(p, ' ', n);
	CHECK(sp != NULL);
	size_t ml = (size_t)(sp - p);
	const uint8_t *t = sp + 1;
	size_t tn = n - ml - 1;
	bool metrics = starts(t, tn, "/metrics") && tn > 8 && (t[8] == ' ' || t[8] == '?');
	bool get = ml == 3 && !memcmp(p, "GET", 3), head = ml == 4 && !memcmp(p, "HEAD", 4);
	switch (answer) {
	case NLB_METRICS_PAGE:
		CHECK(metrics && get);
		break;
	case NLB_METRICS_PAGE_HEAD:
		CHECK(metrics && head);
		break;
	case NLB_METRICS_NOT_ALLOWED:
		CHECK(metrics && !get && !head);
		break;
	case NLB_METRICS_NOT_FOUND:
		CHECK(!metrics);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max = data[0] & 0x80 ? NLB_METRICS_HEAD_MAX : 24 + (data[0] & 0x3f);
	size_t chunk = data[0] & 0x40 ? 0 : 1 + (data[0] & 0x0f);
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	int a = receive(p, n, max, chunk);
	CHECK(receive(p, n, max, 0) == a);
	if (!a)
		CHECK(n < max);		/* waited on: the buffer is not full */
	if (a && a != NLB_METRICS_BAD && a != NLB_METRICS_TOO_LARGE)
		check_line(p, n < max ? n : max, a);
	return 0;
}
