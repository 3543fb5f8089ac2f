/* nlb-metrics(7), made from the counter table (metrics_page.h).  The
 * page is mdoc and must pass mandoc -T lint (a test runs it): one
 * sentence per line, quotes and backslashes escaped. */
#include "control/metrics_page.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "control/counter_table.h"
#include "strbuf.h"

/* The page's date: when the list last changed.  Bump it with the table. */
#define METRICS_PAGE_DATE "December 6, 2026"

/* Text lines at most this long (mandoc -T lint's rule). */
#define PAGE_TEXT_WIDTH 80

/* s as mdoc text into b: backslashes and double quotes escaped (quotes
 * matter in macro arguments; the escape is harmless in text). */
static void esc(struct nlb_strbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			nlb_strbuf_append(b, "\\e", 2);
		else if (*s == '"')
			nlb_strbuf_append(b, "\\(dq", 4);
		else
			nlb_strbuf_append(b, s, 1);
	}
}

/* Writes the text in b as lines of at most PAGE_TEXT_WIDTH bytes, broken
 * at spaces, and empties b. */
static void put_text(FILE *out, struct nlb_strbuf *b)
{
	size_t col = 0;
	const char *p = b->p ? b->p : "";
	while (*p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == 0)
			break;
		if (col && col + 1 + n > PAGE_TEXT_WIDTH) {
			fputc('\n', out);
			col = 0;
		}
		if (col)
			fputc(' ', out), col++;
		else if (*p == '.' || *p == '\'')
			fputs("\\&", out), col += 2;	/* not a request */
		fwrite(p, 1, n, out);
		col += n;
		p += n;
	}
	if (col)
		fputc('\n', out);
	nlb_strbuf_reset(b);
}

/* A one-line meaning as a sentence: capitalised, with its period. */
static void put_sentence(FILE *out, const char *s)
{
	struct nlb_strbuf b = { 0 };
	char first[2] = { s[0] >= 'a' && s[0] <= 'z' ? (char)(s[0] - 'a' + 'A') : s[0], '\0' };
	esc(&b, first);
	if (*s)
		esc(&b, s + 1);
	if (!*s || s[strlen(s) - 1] != '.')
		nlb_strbuf_append(&b, ".", 1);
	put_text(out, &b);
	nlb_strbuf_free(&b);
}

/* Plain text (formatted), wrapped. */
static void put_textf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_textf(FILE *out, const char *fmt, ...)
{
	char raw[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	struct nlb_strbuf b = { 0 };
	esc(&b, raw);
	put_text(out, &b);
	nlb_strbuf_free(&b);
}

/* name{label="value"} as a literal, label and value if any. */
static void put_series_name(FILE *out, const struct metric_family *f,
			    const struct metric_series *s)
{
	fputs(f->name, out);
	if (metric_family_is_histogram(f))
		fputs("_bucket", out);
	if (f->label && s && s->value)
		fprintf(out, "{%s=\\(dq%s\\(dq}", f->label, s->value);
}

static bool series_has(const struct metric_series *s, enum counter_id id)
{
	for (size_t i = 0; i < SERIES_MAX_SUM && s->sum[i] != COUNTER_NONE; i++)
		if (s->sum[i] == id)
			return true;
	return false;
}

/* Where counter id shows in the metrics: every series it is part of. */
static void put_counter_metrics(FILE *out, enum counter_id id)
{
	unsigned n = 0;
	for (int fi = 0; fi < MF_END; fi++) {
		const struct metric_family *f = &nlb_metric_families[fi];
		for (size_t i = 0; i < f->n_series; i++) {
			if (!series_has(&f->series[i], id))
				continue;
			fputs(n++ ? " ,\n.Li " : "In the metrics:\n.Li ", out);
			put_series_name(out, f, &f->series[i]);
		}
		if (metric_family_is_histogram(f) && f->sum_ms == id)
			fprintf(out, "%s%s_sum", n++ ? " ,\n.Li " : "In the metrics:\n.Li ", f->name);
	}
	if (n)
		fputs(" .\n", out);
}

static const char *const scope_labels[] = {
	[SCOPE_PROCESS] = NULL,
	[SCOPE_LISTENER] = "listener",
	[SCOPE_WORKER] = "worker",
	[SCOPE_GROUP] = "target_group",
	[SCOPE_TARGET] = "target_group, target",
	[SCOPE_CERTIFICATE] = "listener, file",
	[SCOPE_RULE] = "listener, priority",
	[SCOPE_PREFIX] = "prefix",
};

static const char *const side_names[] = {
	[ON_ANY] = "every listener",
	[ON_TCP] = "tcp, tcp_udp, tls and http listeners",
	[ON_UDP] = "udp and tcp_udp listeners",
	[ON_TLS] = "tls listeners",
	[ON_HTTP] = "http listeners",
	[ON_GATEWAY] = "gateways",
};
_Static_assert(sizeof(side_names) / sizeof(side_names[0]) == ON_GATEWAY + 1,
	       "every listener side has its words");

/* The counters a series adds up, "a + b", then whose, as a sentence
 * after prefix. */
static void put_sum(FILE *out, const char *prefix, const struct metric_family *f,
		    const struct metric_series *s)
{
	char text[512];
	size_t o = (size_t)snprintf(text, sizeof(text), "%s", prefix);
	for (size_t i = 0; i < SERIES_MAX_SUM && s->sum[i] != COUNTER_NONE; i++)
		for (size_t c = 0; c < nlb_n_stat_counters && o < sizeof(text); c++)
			if (nlb_stat_counters[c].id == s->sum[i])
				o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s",
						      i ? " + " : "", nlb_stat_counters[c].name);
	if (f->scope == SCOPE_LISTENER)
		put_textf(out, "%s, for %s.", text, side_names[s->on]);
	else
		put_textf(out, "%s, over the worker's rows of all listeners.", text);
}

static void put_family(FILE *out, const struct metric_family *f)
{
	fprintf(out, ".It Sy %s Pq %s\n", f->name, f->type);
	put_sentence(out, f->help);
	const char *scope = scope_labels[f->scope];
	if (scope || f->label)
		put_textf(out, "Labels: %s%s%s.", scope ? scope : "", scope && f->label ? ", " : "",
			  f->label ? f->label : "");
	bool counters = f->n_series && f->series[0].sum[0] != COUNTER_NONE;
	if (!counters) {
		put_textf(out, "Value: %s.", f->value_doc);
		if (f->n_series) {
			char text[256];
			size_t o = (size_t)snprintf(text, sizeof(text), "Values of %s:", f->label);
			for (size_t i = 0; i < f->n_series && o < sizeof(text); i++)
				o += (size_t)snprintf(text + o, sizeof(text) - o, "%s %s",
						      i ? "," : "", f->series[i].value);
			put_textf(out, "%s.", text);
		}
		return;
	}
	if (f->n_series == 1 && !f->series[0].value) {
		put_sum(out, "Value: ", f, &f->series[0]);
		return;
	}
	bool histogram = metric_family_is_histogram(f);
	if (histogram)
		put_textf(out, "Samples: %s_bucket, one per bucket, cumulative; %s_sum; %s_count.",
			  f->name, f->name, f->name);
	fputs(".Bl -tag -width Ds -compact\n", out);
	for (size_t i = 0; i < f->n_series; i++) {
		fprintf(out, ".It Li %s=\\(dq%s\\(dq\n", f->label, f->series[i].value);
		put_sum(out, "", f, &f->series[i]);
	}
	if (histogram) {
		const char *sum = "";
		for (size_t c = 0; c < nlb_n_stat_counters; c++)
			if (nlb_stat_counters[c].id == f->sum_ms)
				sum = nlb_stat_counters[c].name;
		fprintf(out, ".It Li %s_sum\n", f->name);
		put_textf(out, "%s, in seconds, for %s.", sum, side_names[f->series[0].on]);
		fprintf(out, ".It Li %s_count\n", f->name);
		put_textf(out, "The value of le=\"%s\".", f->series[f->n_series - 1].value);
	}
	fputs(".El\n", out);
}

static void put_counter(FILE *out, const struct stat_counter *c)
{
	fprintf(out, ".It Sy %s Pq %s\n", c->name, c->kind);
	put_sentence(out, c->meaning);
	for (size_t i = 0; i < nlb_n_stat_counters; i++) {
		const struct stat_counter *part = &nlb_stat_counters[i];
		if (part->added_into && strcmp(part->added_into, c->name) == 0)
			put_textf(out, "The stats line adds %s into it.", part->name);
	}
	if (c->added_into)
		put_textf(out, "Not on the stats line, which adds it into %s.", c->added_into);
	if (c->id != COUNTER_NONE)
		put_counter_metrics(out, c->id);
	if (c->family != MF_END)
		fprintf(out, "Per target group:\n.Li %s .\n", nlb_metric_families[c->family].name);
}

int metrics_page_write(FILE *out)
{
	fputs(".\\\" Made by build/nlb-doc from nlb/core/counters-t.h and\n"
	      ".\\\" nlb/control/counter_table.c: edit those, then run make doc.\n"
	      ".Dd " METRICS_PAGE_DATE "\n"
	      ".Dt NLB-METRICS 7\n"
	      ".Os\n"
	      ".Sh NAME\n"
	      ".Nm nlb-metrics\n"
	      ".Nd the counters and metrics of the nlb load balancer\n"
	      ".Sh DESCRIPTION\n"
	      "nlb counts what its workers and control threads do, and reports the\n"
	      "counts three ways.\n"
	      "At exit it logs one line,\n"
	      ".Ql msg=\\(dqstats name=value ...\\(dq ,\n"
	      "with every counter of\n"
	      ".Sx COUNTERS\n"
	      "in the order below.\n"
	      "While it runs,\n"
	      ".Ql nlbctl show stats\n"
	      "prints the same counters, one\n"
	      ".Ar name Ns = Ns Ar value\n"
	      "per line.\n"
	      "With\n"
	      ".Ql stats = { listen = \\(dqADDRESS\\(dq; };\\&\n"
	      "in its configuration, nlb serves the\n"
	      ".Sx METRICS\n"
	      "below at\n"
	      ".Pa http://ADDRESS/metrics\n"
	      "in the Prometheus text format 0.0.4, per listener, worker, target\n"
	      "group and target.\n"
	      ".Pp\n"
	      "Counters only grow, from nlb's start; gauges go up and down.\n"
	      "The workers' counters are kept per worker and listener and summed when\n"
	      "read.\n"
	      ".Sh COUNTERS\n"
	      ".Bl -tag -width Ds\n", out);
	for (size_t i = 0; i < nlb_n_stat_counters; i++)
		if (!nlb_stat_counters[i].added_into)
			put_counter(out, &nlb_stat_counters[i]);
	fputs(".El\n"
	      ".Ss Counters kept apart for the metrics\n"
	      "These split a tcp_udp listener's UDP flows from its TCP connections.\n"
	      ".Bl -tag -width Ds\n", out);
	for (size_t i = 0; i < nlb_n_stat_counters; i++)
		if (nlb_stat_counters[i].added_into)
			put_counter(out, &nlb_stat_counters[i]);
	fputs(".El\n"
	      ".Sh METRICS\n"
	      "In the order of a scrape.\n"
	      "The label\n"
	      ".Li listener\n"
	      "is a listener's name (a listener a reload removed has no series),\n"
	      ".Li worker\n"
	      "a worker's number from 0,\n"
	      ".Li target_group\n"
	      "a target group's name and\n"
	      ".Li target\n"
	      "a target's address, as the configuration has them.\n"
	      "A family with nothing to report is left out whole: no UDP families\n"
	      "without a UDP listener, no probe counters without a health check.\n"
	      "A target has series while it holds a slot: from the start, or the\n"
	      "reload or command that adds it, until it has drained.\n"
	      ".Bl -tag -width Ds\n", out);
	for (int i = 0; i < MF_END; i++)
		put_family(out, &nlb_metric_families[i]);
	fputs(".El\n", out);
	return ferror(out) ? -EIO : 0;
}
