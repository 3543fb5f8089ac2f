/* libFuzzer target for what the health thread reads from a target
 * (lib/health_check.c, which nlb/control/health.c calls, and the HTTP/1
 * status line parser under it): the first byte picks the probe buffer's
 * size (health.c's, the status line's cap, or a small one, so a full
 * buffer is reached) and how many bytes each read brings; then comes a
 * status matcher, up to its '\n' (the configuration's text, parsed as
 * the loader does); the rest is the target's answer, read into the
 * buffer as a probe does until there is a verdict.  Besides the
 * sanitizers' checks (bytes past those read are poisoned, so a parser
 * reading beyond them is caught) it aborts when
 *   - the matcher parser disagrees with one written here from its
 *     description, or matches a code that no item holds;
 *   - the verdict disagrees with a status line reader written here from
 *     nlb_hc_http_status's description (HTTP/1.0 or 1.1, three digits,
 *     a reason phrase without control bytes but HTAB, CRLF or LF, within
 *     NLB_HC_STATUS_LINE_MAX bytes), or depends on how the answer was
 *     cut into reads;
 *   - the verdict's text is not "HTTP <code>" or the refusal's;
 *   - the healthy/unhealthy state machine, fed the answer's bytes as
 *     results (bit 0: pass) with thresholds from its first two, leaves
 *     the state its description in health_check.h gives. */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_check.h"

#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_health_check: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* health.c's PROBE_BUF_SIZE today: a v1 PROXY header's room and the
 * longest request (NLB_HC_REQUEST_ROOM of a 63-byte address). */
#define ROOM_PROBE (107 + NLB_HC_REQUEST_ROOM(63))

static const char not_http[] = "not an HTTP/1.x status line";

/* ---- the matcher, from its description ---- */

static bool digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Three digits at p, 100..599; -1 otherwise. */
static int ref_code(const char *p, size_t n)
{
	if (n < 3 || !digit((uint8_t)p[0]) || !digit((uint8_t)p[1]) || !digit((uint8_t)p[2]))
		return -1;
	int v = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return v >= 100 && v <= 599 ? v : -1;
}

/* Items "ddd" or "ddd-ddd" with lo <= hi, single commas between, at
 * most NLB_HC_MATCHER_MAX; false for anything else. */
static bool ref_matcher(const char *s, size_t n, struct nlb_hc_matcher *m)
{
	m->n = 0;
	size_t i = 0;
	for (;;) {
		if (m->n == NLB_HC_MATCHER_MAX)
			return false;
		int lo = ref_code(s + i, n - i), hi;
		if (lo < 0)
			return false;
		i += 3;
		hi = lo;
		if (i < n && s[i] == '-') {
			i++;
			if ((hi = ref_code(s + i, n - i)) < 0 || hi < lo)
				return false;
			i += 3;
		}
		m->item[m->n].lo = (uint16_t)lo;
		m->item[m->n].hi = (uint16_t)hi;
		m->n++;
		if (i == n)
			return true;
		if (s[i] != ',')
			return false;
		i++;
	}
}

/* ---- the status line, from its description ---- */

/* The line's length with its terminator and its code in *status; 0
 * while all n bytes are a valid start of one; -1 when they cannot be. */
static int ref_status(const uint8_t *p, size_t n, int *status)
{
	static const char v[] = "HTTP/1.";
	for (size_t i = 0; i < n && i < 7; i++)
		if (p[i] != (uint8_t)v[i])
			return -1;
	if (n > 7 && p[7] != '0' && p[7] != '1')
		return -1;
	if (n > 8 && p[8] != ' ')
		return -1;
	for (size_t i = 9; i < n && i < 12; i++)
		if (!digit(p[i]))
			return -1;
	if (n < 13)
		return 0;
	size_t i = 12;
	if (p[i] == ' ') {
		for (i = 13; i < n && p[i] != '\r' && p[i] != '\n'; i++)
			if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
				return -1;
	}
	if (i == n)
		return n >= NLB_HC_STATUS_LINE_MAX ? -1 : 0;
	if (p[i] == '\r') {
		if (++i == n)
			return n >= NLB_HC_STATUS_LINE_MAX ? -1 : 0;
		if (p[i] != '\n')
			return -1;
	}
	if (p[i] != '\n' || i + 1 > NLB_HC_STATUS_LINE_MAX)
		return -1;
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	return (int)(i + 1);
}

/* ---- a probe reading ---- */

struct verdict {
	int decided;		/* 0: the target closed first */
	bool pass;
	char why[48];
};

/* Reads the answer (n bytes) chunk bytes at a time (0: as much as
 * fits) into a buffer of room bytes until there is a verdict. */
static void probe(const uint8_t *ans, size_t n, size_t room, size_t chunk,
		  const struct nlb_hc_matcher *m, struct verdict *v)
{
	char *buf = malloc(room);
	CHECK(buf != NULL);
	size_t got = 0;
	memset(v, 0, sizeof(*v));
	while (got < n && got < room) {
		size_t k = room - got;
		if (chunk && k > chunk)
			k = chunk;
		if (k > n - got)
			k = n - got;
		ASAN_UNPOISON_MEMORY_REGION(buf + got, k);
		memcpy(buf + got, ans + got, k);
		got += k;
		ASAN_POISON_MEMORY_REGION(buf + got, room - got);
		int r = nlb_hc_http_verdict(buf, got, room, m, &v->pass, v->why, sizeof(v->why));
		CHECK(r == 0 || r == -EAGAIN);
		if (r == 0) {
			v->decided = 1;
			break;
		}
	}
	ASAN_UNPOISON_MEMORY_REGION(buf, room);
	free(buf);
}

/* ---- the state machine, from its description ---- */

static void states(const uint8_t *p, size_t n)
{
	if (n < 2)
		return;
	uint32_t h = p[0] % 5, u = p[1] % 5;
	uint32_t hh = h ? h : 1, uu = u ? u : 1, passes = 0, fails = 0;
	enum nlb_hc_state want = NLB_HC_INITIAL;
	struct nlb_hc_target t = { 0 };
	for (size_t i = 2; i < n && i < 66; i++) {
		bool pass = p[i] & 1;
		passes = pass ? passes + 1 : 0;
		fails = pass ? 0 : fails + 1;
		if (want == NLB_HC_HEALTHY && fails >= uu)
			want = NLB_HC_UNHEALTHY;
		else if (want == NLB_HC_UNHEALTHY && passes >= hh)
			want = NLB_HC_HEALTHY;
		else if (want == NLB_HC_INITIAL && (pass || fails >= uu))
			want = pass ? NLB_HC_HEALTHY : NLB_HC_UNHEALTHY;
		CHECK(nlb_hc_observe(&t, pass, h, u) == want);
		CHECK(t.state == want && t.passes == passes && t.fails == fails);
		CHECK(strcmp(nlb_hc_state_name(t.state), "unknown") != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const size_t rooms[4] = { ROOM_PROBE, NLB_HC_STATUS_LINE_MAX, 13, 40 };
	size_t room = rooms[data[0] & 3];
	size_t chunk = data[0] >> 2 & 0x0f;
	if (data[0] & 0x40)
		room += data[0] >> 2 & 0x0f;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	/* The matcher: the first line, or 200-399 when there is none. */
	const uint8_t *nl = memchr(p, '\n', n);
	struct nlb_hc_matcher m, ref;
	CHECK(nlb_hc_matcher_parse("200-399", &m) == 0);
	if (nl) {
		size_t tl = (size_t)(nl - p);
		char *text = malloc(tl + 1);
		CHECK(text != NULL);
		memcpy(text, p, tl);
		text[tl] = '\0';
		struct nlb_hc_matcher got = m;
		int r = nlb_hc_matcher_parse(text, &got);
		/* a C string, as the loader hands it over */
		bool ok = ref_matcher(text, strlen(text), &ref);
		CHECK(r == 0 || r == -EINVAL);
		CHECK((r == 0) == ok);
		if (r == 0) {
			CHECK(got.n == ref.n && memcmp(got.item, ref.item, ref.n * sizeof(ref.item[0])) == 0);
			m = got;
		} else {
			CHECK(memcmp(&got, &m, sizeof(m)) == 0);	/* untouched */
		}
		free(text);
		n -= tl + 1;
		p = nl + 1;
	}
	for (int code = 0; code < 1000; code++) {
		bool in = false;
		for (uint32_t i = 0; i < m.n; i++)
			in = in || (code >= m.item[i].lo && code <= m.item[i].hi);
		CHECK(nlb_hc_matcher_match(&m, code) == in);
	}

	struct verdict v, whole;
	probe(p, n, room, chunk, &m, &v);
	probe(p, n, room, 0, &m, &whole);
	CHECK(v.decided == whole.decided && v.pass == whole.pass && !strcmp(v.why, whole.why));

	size_t seen = n < room ? n : room;
	int status = -1;
	int want = ref_status(p, seen, &status);
	if (want > 0) {
		char why[48];
		snprintf(why, sizeof(why), "HTTP %d", status);
		CHECK(v.decided && v.pass == nlb_hc_matcher_match(&m, status));
		CHECK(strcmp(v.why, why) == 0);
	} else if (want < 0 || seen == room) {
		CHECK(v.decided && !v.pass && strcmp(v.why, not_http) == 0);
	} else {
		CHECK(!v.decided);	/* health.c: "closed before a status line" */
	}
	states(p, n);
	return 0;
}
