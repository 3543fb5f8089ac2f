/* Active health checks without I/O: the status matcher as AWS NLB writes
 * it, the HTTP/1.x request a probe sends and the status line it reads back,
 * and the per-target healthy/unhealthy state machine.  The probe thread
 * that does the connecting and timing lives elsewhere and calls these. */
#ifndef NLB_HEALTH_CHECK_H
#define NLB_HEALTH_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status matcher: "200", "200-399", "200,204,301", "200,300-399".  At most
 * this many comma-separated items, as in AWS's target group matcher. */
#define NLB_HC_MATCHER_MAX 16

/* A status line longer than this (terminator included) is refused rather
 * than buffered: a health endpoint has no reason to send one. */
#define NLB_HC_STATUS_LINE_MAX 1024

struct nlb_hc_range {
	uint16_t lo, hi;		/* inclusive, 100 <= lo <= hi <= 599 */
};

struct nlb_hc_matcher {
	uint32_t n;			/* 1..NLB_HC_MATCHER_MAX once parsed */
	struct nlb_hc_range item[NLB_HC_MATCHER_MAX];
};

/* Parses text into *out.  Each item is a code or "lo-hi", codes exactly
 * three digits in 100..599, lo <= hi, items separated by single commas,
 * no whitespace.  Returns 0, or -EINVAL with *out untouched. */
int nlb_hc_matcher_parse(const char *text, struct nlb_hc_matcher *out);

/* True when status falls in any item of m. */
bool nlb_hc_matcher_match(const struct nlb_hc_matcher *m, int status);

/* Parses the status line at the start of a response, incrementally: call
 * again with more bytes after -EAGAIN.  Accepts "HTTP/1.0 " or "HTTP/1.1 ",
 * three digits, then SP and a reason phrase, or the line end directly; the
 * line ends with CRLF or a bare LF.  Returns the number of bytes of the
 * line including its terminator and sets *status (000..999: whether the
 * code is acceptable is the matcher's business); -EAGAIN when buf holds a
 * valid but incomplete line; -EINVAL as soon as the bytes seen cannot start
 * a valid line, when the reason phrase holds a control character other
 * than HTAB (a CR must be followed by LF), or when no line end falls within
 * NLB_HC_STATUS_LINE_MAX bytes.  *status is only written on success. */
int nlb_hc_http_status(const char *buf, size_t len, int *status);

/* The verdict on what a target answered an http or https probe: buf
 * holds the got bytes read so far, of room at most (the probe's
 * buffer).  -EAGAIN while a status line may still come: what is there
 * is a valid start and the buffer is not full.  Otherwise 0, with *pass
 * when the status line is valid and its code is one m matches, and in
 * why (whylen bytes, NUL-terminated) "HTTP <code>", or "not an HTTP/1.x
 * status line" for bytes that cannot start one or a buffer full of a
 * line that does not end.  A target closing before a verdict fails it
 * too; that is the caller's to see. */
int nlb_hc_http_verdict(const char *buf, size_t got, size_t room, const struct nlb_hc_matcher *m,
			bool *pass, char *why, size_t whylen);

/* The longest path an http check sends, in bytes: 1,024, the AWS
 * target group's limit, so a path that works there works here.  The
 * probe's buffer is sized for it (NLB_HC_REQUEST_ROOM). */
#define NLB_HC_PATH_MAX 1024

/* Checks a path the way nlb_hc_http_request will send it, so that the
 * configuration loader refuses exactly what a probe could not send: it
 * starts with '/', is at most NLB_HC_PATH_MAX bytes, and every byte is
 * visible ASCII, 0x21..0x7e.  A space, a control byte or DEL could end
 * the request line or inject a header; a byte >= 0x80 is not ASCII,
 * which an HTTP request-target must be (RFC 9112: percent-encode it).
 * Returns 0; -EINVAL when path is NULL or does not start with '/';
 * -EILSEQ for a byte outside 0x21..0x7e, its offset in *bad (if not
 * NULL); -ENAMETOOLONG when it is longer than NLB_HC_PATH_MAX. */
int nlb_hc_path_check(const char *path, size_t *bad);

/* The request, host and path in the order given; the two "%s" are not
 * sent, so the request is NLB_HC_REQUEST_FIXED bytes plus path and host. */
#define NLB_HC_REQUEST_FMT                                                     \
	"GET %s HTTP/1.1\r\n"                                                   \
	"Host: %s\r\n"                                                          \
	"Connection: close\r\n"                                                 \
	"User-Agent: nlb-health-check\r\n"                                      \
	"\r\n"
#define NLB_HC_REQUEST_FIXED (sizeof(NLB_HC_REQUEST_FMT) - 1 - 4)

/* Bytes that hold any request nlb_hc_http_request accepts, its NUL
 * included, for a host of at most host_max bytes. */
#define NLB_HC_REQUEST_ROOM(host_max) (NLB_HC_REQUEST_FIXED + NLB_HC_PATH_MAX + (host_max) + 1)

/* Writes NLB_HC_REQUEST_FMT with path and host and a terminating NUL (for
 * logs; not part of the request) into buf of len bytes.  Returns the
 * request's length without the NUL; -EINVAL when nlb_hc_path_check
 * refuses path, or when host is empty or holds a space or control byte
 * (either would let a config value inject headers); -ENOSPC when the
 * request and its NUL do not fit, buf's contents then unspecified. */
int nlb_hc_http_request(char *buf, size_t len, const char *path, const char *host);

enum nlb_hc_state {
	NLB_HC_INITIAL = 0,
	NLB_HC_HEALTHY,
	NLB_HC_UNHEALTHY,
};

/* One target's check history.  Zero-initialised means INITIAL with no
 * history.  passes and fails count consecutive results: a pass zeroes fails
 * and a fail zeroes passes, so at most one of them is non-zero. */
struct nlb_hc_target {
	enum nlb_hc_state state;
	uint32_t passes, fails;		/* consecutive; saturate at UINT32_MAX */
};

/* Records one check result and returns the target's new state.
 *
 * INITIAL -> HEALTHY on the first pass, not after healthy_threshold: a
 * target that was just added (or nlb that just started) should take
 * traffic as soon as it answers once, rather than stay out of rotation for
 * threshold x interval while nothing says it is bad.  INITIAL -> UNHEALTHY
 * after unhealthy_threshold consecutive fails.  HEALTHY -> UNHEALTHY after
 * unhealthy_threshold consecutive fails; UNHEALTHY -> HEALTHY after
 * healthy_threshold consecutive passes.  Thresholds are compared with >=,
 * so lowering one (a config reload) takes effect on the next result; a
 * threshold of 0 counts as 1.  An out-of-range state counts as INITIAL. */
enum nlb_hc_state nlb_hc_observe(struct nlb_hc_target *t, bool pass,
				 uint32_t healthy_threshold,
				 uint32_t unhealthy_threshold);

/* "initial", "healthy", "unhealthy"; "unknown" for any other value. */
const char *nlb_hc_state_name(enum nlb_hc_state s);

#endif
