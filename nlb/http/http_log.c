/* An http listener's access log lines, as the ALB's: one per request,
 * formatted by the worker and queued on its ring (control/access_log.c
 * writes the rings out; a full ring drops the line, counted):
 *
 *   time listener client:port target:port request_s target_s response_s
 *   elb_status target_status received_bytes sent_bytes "request" "user agent" reason
 *
 * Times in seconds with millisecond resolution, -1 where a step did not
 * happen; target, target_status and reason "-" where there is none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spsc_ring.h"
#include "tunables.h"
#include "balance/target_set.h"
#include "http/http_steps.h"

#define LOG_TEXT 600	/* request line and user agent, escaped */

static bool logging(struct worker *w)
{
	return w->rt->access_rings && w->rt->cfg->access_log_path;
}

/* Appends [p, p + n) to out escaped: '"' and '\\' with a backslash, bytes
 * outside printable ASCII as \xHH; stops before cap. */
static size_t escape(char *out, size_t at, size_t cap, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n && at + 5 < cap; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\') {
			out[at++] = '\\';
			out[at++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			out[at++] = '\\';
			out[at++] = 'x';
			out[at++] = hex[ch >> 4];
			out[at++] = hex[ch & 15];
		} else {
			out[at++] = (char)ch;
		}
	}
	out[at] = '\0';
	return at;
}

void http_log_request(struct worker *w, struct http_client *c, const struct nlb_http1_head *h,
		      const char *buf)
{
	c->log_pending = 1;
	c->elb_status = c->target_status = 0;
	c->reason = NULL;
	c->t_req_ms = w->now_ms;
	c->t_sent_ms = c->t_resp_ms = 0;
	c->resp_bytes = 0;
	if (!logging(w))
		return;
	if (!c->log && !(c->log = malloc(LOG_TEXT)))
		return;
	size_t at = 0;
	c->log[0] = '\0';
	if (!h) {
		snprintf(c->log, LOG_TEXT, "-\" \"-");
		return;
	}
	at = escape(c->log, at, LOG_TEXT / 2, buf + h->method_text.at,
		    (size_t)(h->target.at + h->target.len - h->method_text.at));
	at += (size_t)snprintf(c->log + at, LOG_TEXT - at, " HTTP/1.%u\" \"", h->minor);
	const struct nlb_http1_field *ua = nlb_http1_head_field(h, buf, "user-agent");
	if (ua)
		escape(c->log, at, LOG_TEXT, buf + ua->value.at, ua->value.len);
	else
		snprintf(c->log + at, LOG_TEXT - at, "-");
}

static void put_seconds(char *out, size_t *at, size_t cap, uint64_t from, uint64_t to)
{
	if (!from || !to || to < from)
		*at += (size_t)snprintf(out + *at, cap - *at, " -1");
	else
		*at += (size_t)snprintf(out + *at, cap - *at, " %.3f", (double)(to - from) / 1000);
}

void http_log_line(struct worker *w, struct http_client *c)
{
	if (!c->log_pending)
		return;
	c->log_pending = 0;
	if (!logging(w))
		return;
	char line[NLB_ACCESS_LOG_LINE];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t at = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	at += (size_t)snprintf(line + at, sizeof(line) - at, ".%06ldZ %s %s%s%s:%u ",
			       ts.tv_nsec / 1000, http_listener_conf(w, c)->name,
			       strchr(c->addr, ':') ? "[" : "", c->addr,
			       strchr(c->addr, ':') ? "]" : "", (unsigned)c->port);
	if (c->attempts)
		at += (size_t)snprintf(line + at, sizeof(line) - at, "%s",
				       target_at(w->rt, c->group, c->target)->addr_text);
	else
		at += (size_t)snprintf(line + at, sizeof(line) - at, "-");
	put_seconds(line, &at, sizeof(line), c->t_req_ms, c->t_sent_ms);
	put_seconds(line, &at, sizeof(line), c->t_sent_ms, c->t_resp_ms);
	put_seconds(line, &at, sizeof(line), c->t_resp_ms, c->t_resp_ms ? w->now_ms : 0);
	unsigned elb = c->elb_status ? c->elb_status : c->target_status;
	char target_status[8] = "-";
	if (c->target_status)
		snprintf(target_status, sizeof(target_status), "%u", (unsigned)c->target_status);
	at += (size_t)snprintf(line + at, sizeof(line) - at, " %u %s %llu %llu \"%s\" %s\n",
			       elb, target_status, (unsigned long long)c->req_bytes,
			       (unsigned long long)c->resp_bytes, c->log ? c->log : "-\" \"-",
			       c->reason ? c->reason : "-");
	if (at >= sizeof(line)) {
		at = sizeof(line) - 1;
		line[at - 1] = '\n';
	}
	if (nlb_spsc_ring_push(&w->rt->access_rings[w->id], line, at))
		STAT_INC(wstats(w, c->listener), access_log_lines);
	else
		STAT_INC(wstats(w, c->listener), access_log_dropped);
}
