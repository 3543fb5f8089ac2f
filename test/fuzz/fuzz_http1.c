/* libFuzzer target for the HTTP/1 parsers (lib/http1_head.c,
 * lib/http1_chunked.c): each input is parsed as a strict request, a
 * lenient request, a response and a status line, then what follows a
 * head is scanned as a chunked body.  Besides the sanitizers' checks it
 * aborts when a parser breaks its own contract: a result outside its
 * set, spans outside the head, fields past the cap, a fresh parse of a
 * prefix that disagrees with the whole input, or a parse resumed a byte
 * at a time that disagrees with one call; and when a head is accepted,
 * the head nlb would send on must parse again, strictly. */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_chunked.h"
#include "http1_forward.h"
#include "http1_head.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_http1: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Small, so that inputs reach the cap too. */
#define MAX 512

static struct nlb_http1_head whole, step, fresh;

static void check_span(struct nlb_http1_span s, int len)
{
	CHECK((int)s.at + (int)s.len <= len);
}

static void check_head(const struct nlb_http1_head *h, int r)
{
	CHECK(r == -EAGAIN || r == -EINVAL || r == -E2BIG || (r > 0 && r <= MAX));
	CHECK((r == -EINVAL || r == -E2BIG) == (h->error != NLB_HTTP1_E_NONE));
	if (r < 0) {
		if (r != -EAGAIN)
			CHECK(nlb_http1_error_status(h->error) >= 400);
		return;
	}
	CHECK(h->length == (uint32_t)r && h->nfields <= NLB_HTTP1_FIELDS_MAX);
	CHECK(h->minor <= 1);
	check_span(h->method_text, r);
	check_span(h->target, r);
	check_span(h->reason, r);
	check_span(h->host, r);
	for (uint32_t k = 0; k < h->nfields; k++) {
		check_span(h->field[k].name, r);
		check_span(h->field[k].value, r);
		CHECK(h->field[k].name.len > 0);
	}
	if (h->kind == NLB_HTTP1_REQUEST) {
		CHECK(h->method_text.len > 0 && h->target.len > 0);
		/* the rules that keep framing unambiguous held */
		CHECK(!((h->flags & NLB_HTTP1_F_CONTENT_LENGTH) &&
			(h->flags & NLB_HTTP1_F_TRANSFER_ENCODING)));
		CHECK(!(h->flags & NLB_HTTP1_F_TRANSFER_ENCODING) || (h->flags & NLB_HTTP1_F_CHUNKED));
	}
}

static void parse_kind(char *copy, size_t size, enum nlb_http1_kind kind, unsigned opts)
{
	nlb_http1_head_init(&whole, kind, opts, MAX);
	int r = nlb_http1_head_parse(&whole, copy, size);
	check_head(&whole, r);
	/* Each prefix, fresh and resumed: the bytes past it are poisoned,
	 * so ASan catches a read beyond the given length. */
	size_t upto = size < MAX ? size : MAX;
	nlb_http1_head_init(&step, kind, opts, MAX);
	int last = -EAGAIN;
	for (size_t k = 0; k <= upto; k++) {
		ASAN_POISON_MEMORY_REGION(copy, size);
		ASAN_UNPOISON_MEMORY_REGION(copy, k);
		nlb_http1_head_init(&fresh, kind, opts, MAX);
		int rf = nlb_http1_head_parse(&fresh, copy, k);
		int rs = nlb_http1_head_parse(&step, copy, k);
		CHECK(rf == rs && fresh.error == step.error);
		if (last != -EAGAIN)
			CHECK(rs == last);
		last = rs;
		if (r > 0)
			CHECK(rs == ((int)k < r ? -EAGAIN : r));
	}
	ASAN_UNPOISON_MEMORY_REGION(copy, size);
	if (size <= MAX || r != -EAGAIN) {
		CHECK(last == r || (r == -E2BIG && last == -EAGAIN && size > MAX));
		CHECK(step.error == whole.error || last != r);
	}
	if (r > 0) {
		CHECK(step.nfields == whole.nfields && step.flags == whole.flags);
		CHECK(memcmp(step.field, whole.field, whole.nfields * sizeof(whole.field[0])) == 0);
	}
}

static void scan_chunked(const char *p, size_t n)
{
	struct nlb_http1_chunked a, b;
	nlb_http1_chunked_init(&a, 0, 256);
	ssize_t ra = nlb_http1_chunked_scan(&a, p, n);
	CHECK(ra == -EINVAL || ra == -E2BIG || (ra >= 0 && (size_t)ra <= n));
	CHECK((ra < 0) == (a.error != NLB_HTTP1_E_NONE));
	CHECK(ra < 0 || a.done || (size_t)ra == n);
	nlb_http1_chunked_init(&b, 0, 256);
	ssize_t total = 0;
	for (size_t i = 0; i < n && !b.done; i++) {
		ssize_t r = nlb_http1_chunked_scan(&b, p + i, 1);
		if (r < 0) {
			total = r;
			break;
		}
		CHECK(r == 1);
		total += r;
	}
	CHECK(total == ra && b.error == a.error && b.done == a.done);
	if (ra >= 0)
		CHECK(b.data_bytes == a.data_bytes && a.data_bytes <= (uint64_t)ra);
}

static char sent[4 * MAX + 512];
static struct nlb_http1_head again;

/* What nlb sends on for the head in whole (parsed from buf) is valid. */
static void check_forward(const char *buf)
{
	int n;
	if (whole.kind == NLB_HTTP1_REQUEST) {
		static const struct nlb_http1_origin o = { NLB_XFF_APPEND, "2001:db8::1", "http", 80 };
		n = nlb_http1_forward_request(&whole, buf, &o, sent, sizeof(sent));
		nlb_http1_head_init(&again, NLB_HTTP1_REQUEST, 0, sizeof(sent));
	} else {
		n = nlb_http1_forward_response(&whole, buf, 1, false, NULL, sent, sizeof(sent));
		nlb_http1_head_init(&again, NLB_HTTP1_RESPONSE, 0, sizeof(sent));
	}
	CHECK(n > 0);
	CHECK(nlb_http1_head_parse(&again, sent, (size_t)n) == n);
	CHECK(again.flags == (whole.flags & ~(uint32_t)(NLB_HTTP1_F_CONN_CLOSE |
			NLB_HTTP1_F_CONN_KEEP_ALIVE | NLB_HTTP1_F_CONN_UPGRADE | NLB_HTTP1_F_UPGRADE)) ||
	      (again.flags & NLB_HTTP1_F_CONN_UPGRADE) || whole.minor == 0);
	CHECK(again.content_length == whole.content_length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	parse_kind(copy, size, NLB_HTTP1_RESPONSE, NLB_HTTP1_LENIENT);
	if (whole.error == NLB_HTTP1_E_NONE && whole.length)
		check_forward(copy);
	parse_kind(copy, size, NLB_HTTP1_STATUS_LINE, NLB_HTTP1_LENIENT);
	parse_kind(copy, size, NLB_HTTP1_REQUEST, NLB_HTTP1_LENIENT);
	parse_kind(copy, size, NLB_HTTP1_REQUEST, 0);
	if (whole.error == NLB_HTTP1_E_NONE && whole.length)
		check_forward(copy);
	/* the strict request's body, or the whole input, as chunks */
	size_t at = whole.length && whole.error == NLB_HTTP1_E_NONE ? whole.length : 0;
	scan_chunked(copy + at, size - at);
	free(copy);
	return 0;
}
