/* Text and JSON reports of a client run. */
#include "report.h"

#include <inttypes.h>

static const char *const err_names[LOAD_ERR_KINDS] = {
	[LOAD_ERR_REFUSED] = "refused",
	[LOAD_ERR_RESET] = "reset",
	[LOAD_ERR_TIMEOUT] = "timeout",
	[LOAD_ERR_SHORT] = "short",
	[LOAD_ERR_OTHER] = "other",
	[LOAD_ERR_CORRUPT] = "corrupt",
};


uint64_t bench_result_errors(const struct bench_result *r)
{
	uint64_t n = 0;
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		n += r->st.errors[k];
	return n;
}

double bench_result_rate(const struct bench_result *r)
{
	return r->duration_s > 0 ? (double)r->st.responses / r->duration_s : 0.0;
}

double bench_result_gbit(const struct bench_result *r)
{
	if (r->duration_s <= 0)
		return 0.0;
	return (double)(r->st.bytes_out + r->st.bytes_in) * 8.0 / r->duration_s / 1e9;
}

double bench_result_dgram_rate(const struct bench_result *r)
{
	return bench_result_rate(r) * r->o->burst;
}

static double gbit_of(const struct bench_result *r, uint64_t bytes)
{
	return r->duration_s > 0 ? (double)bytes * 8.0 / r->duration_s / 1e9 : 0.0;
}

static const char *rate_unit(const struct bench_opts *o)
{
	switch (o->mode) {
	case BENCH_TCP_CRR:
		return "conn/s";
	case BENCH_UDP_RR:
		return "datagrams/s";
	case BENCH_TCP_STREAM:
		return "sends/s";
	case BENCH_UDP_STREAM:
		return "bursts/s";
	default:
		return "req/s";
	}
}

static double us(const struct bench_result *r, double p)
{
	return (double)nlb_hist_percentile(r->hist, p) / 1000.0;
}

void bench_report_text(FILE *f, const struct bench_result *r)
{
	const struct bench_opts *o = r->o;
	fprintf(f, "%s %s: %u thread%s, %u connection%s, %.2f s, ", o->mode_name, o->addr_text,
		r->threads, r->threads == 1 ? "" : "s", r->conns, r->conns == 1 ? "" : "s",
		r->duration_s);
	if (o->mode == BENCH_TCP_STREAM)
		fprintf(f, "%zu-byte sends", o->req_size);
	else if (o->mode == BENCH_UDP_STREAM)
		fprintf(f, "bursts of %u x %zu-byte datagrams%s", o->burst, o->req_size,
			o->burst == 1 ? "" : o->gso ? " (GSO)" : " (no GSO)");
	else
		fprintf(f, "%zu/%zu bytes", o->req_size, o->resp_size);
	if (o->rate > 0)
		fprintf(f, ", open loop at %.0f/s\n", o->rate);
	else
		fprintf(f, ", closed loop\n");

	if (o->mode == BENCH_TCP_STREAM)
		fprintf(f, "  throughput  %.2f Gbit/s  (%.0f %s)\n", bench_result_gbit(r),
			bench_result_rate(r), rate_unit(o));
	else if (o->mode == BENCH_UDP_STREAM)
		fprintf(f, "  throughput  %.0f datagrams/s  (%.1f %s; payload out %.3f, "
			"in %.3f Gbit/s)\n", bench_result_dgram_rate(r), bench_result_rate(r),
			rate_unit(o), gbit_of(r, r->st.bytes_out), gbit_of(r, r->st.bytes_in));
	else
		fprintf(f, "  throughput  %.1f %s  (%.3f Gbit/s payload)\n", bench_result_rate(r),
			rate_unit(o), bench_result_gbit(r));
	fprintf(f, "  latency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)\n",
		us(r, 50), us(r, 90), us(r, 99), us(r, 99.9), us(r, 100),
		nlb_hist_mean(r->hist) / 1000.0);
	fprintf(f, "  requests    %" PRIu64 " = %" PRIu64 " answered + %" PRIu64
		" errors + %" PRIu64 " in flight\n", r->st.requests, r->st.responses,
		bench_result_errors(r), r->st.in_flight);
	if (o->mode == BENCH_UDP_STREAM)
		fprintf(f, "  datagrams   %" PRIu64 " sent, %" PRIu64 " received, %" PRIu64
			" in answered bursts\n", r->st.dgrams_out, r->st.dgrams_in,
			r->st.responses * o->burst);
	fprintf(f, "  errors     ");
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		fprintf(f, " %s %" PRIu64, err_names[k], r->st.errors[k]);
	fprintf(f, "\n");
	if (o->mode == BENCH_UDP_RR)
		fprintf(f, "  late        %" PRIu64 " answers to requests already timed out\n",
			r->st.late);
	if (o->verify)
		fprintf(f, "  verified    every answer byte for byte: %" PRIu64 " corrupt bytes in %"
			PRIu64 " answers\n", r->st.corrupt_bytes, r->st.errors[LOAD_ERR_CORRUPT]);
}

void bench_report_json(FILE *f, const struct bench_result *r)
{
	const struct bench_opts *o = r->o;
	fprintf(f, "{\"mode\":\"%s\",\"target\":\"%s\",\"threads\":%u,\"connections\":%u,"
		"\"duration_s\":%.3f,\"request_bytes\":%zu,\"response_bytes\":%zu,",
		o->mode_name, o->addr_text, r->threads, r->conns, r->duration_s,
		o->req_size, o->resp_size);
	if (o->rate > 0)
		fprintf(f, "\"target_rate_per_s\":%.3f,", o->rate);
	fprintf(f, "\"requests\":%" PRIu64 ",\"responses\":%" PRIu64 ",\"in_flight\":%" PRIu64
		",\"errors_total\":%" PRIu64 ",\"rate_per_s\":%.3f,\"gbit_per_s\":%.6f,"
		"\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64 ",",
		r->st.requests, r->st.responses, r->st.in_flight, bench_result_errors(r),
		bench_result_rate(r), bench_result_gbit(r), r->st.bytes_out, r->st.bytes_in);
	if (o->mode == BENCH_UDP_STREAM)
		fprintf(f, "\"burst_datagrams\":%u,\"gso\":%s,\"datagrams_per_s\":%.3f,"
			"\"datagrams_answered\":%" PRIu64 ",\"datagrams_sent\":%" PRIu64
			",\"datagrams_received\":%" PRIu64 ",\"gbit_per_s_out\":%.6f,"
			"\"gbit_per_s_in\":%.6f,", o->burst, o->gso && o->burst > 1 ? "true" : "false",
			bench_result_dgram_rate(r), r->st.responses * o->burst, r->st.dgrams_out,
			r->st.dgrams_in, gbit_of(r, r->st.bytes_out), gbit_of(r, r->st.bytes_in));
	fprintf(f, "\"latency_us\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
		"\"max\":%.3f,\"mean\":%.3f},", us(r, 50), us(r, 90), us(r, 99), us(r, 99.9),
		us(r, 100), nlb_hist_mean(r->hist) / 1000.0);
	fprintf(f, "\"verify\":%s,\"corrupt_bytes\":%" PRIu64 ",\"late_answers\":%" PRIu64 ",",
		o->verify ? "true" : "false", r->st.corrupt_bytes, r->st.late);
	fprintf(f, "\"errors\":{");
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", err_names[k], r->st.errors[k]);
	fprintf(f, "}}\n");
}

void bench_report_interval(FILE *f, const struct bench_opts *o, unsigned n, double t_s,
			   double unix_s, double span_s, const struct load_stats *d,
			   const struct nlb_hist *h, const struct nlb_hist *sh)
{
	uint64_t errors = 0;
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		errors += d->errors[k];
	double p50 = (double)nlb_hist_percentile(h, 50) / 1000.0;
	double p99 = (double)nlb_hist_percentile(h, 99) / 1000.0;
	double max = (double)nlb_hist_percentile(h, 100) / 1000.0;
	double s99 = (double)nlb_hist_percentile(sh, 99) / 1000.0;
	if (!o->json) {
		fprintf(f, "  [%7.1fs] %" PRIu64 " answered  %" PRIu64 " errors (", t_s,
			d->responses, errors);
		for (int k = 0; k < LOAD_ERR_KINDS; k++)
			fprintf(f, "%s%s %" PRIu64, k ? " " : "", err_names[k], d->errors[k]);
		fprintf(f, ")  p50 %.1f  p99 %.1f  max %.1f us", p50, p99, max);
		if (o->rate > 0)
			fprintf(f, "  (p99 from the send %.1f)", s99);
		fprintf(f, "\n");
		return;
	}
	fprintf(f, "{\"interval\":%u,\"t_s\":%.3f,\"unix_s\":%.3f,\"span_s\":%.3f,"
		"\"responses\":%" PRIu64 ",\"errors_total\":%" PRIu64 ",\"corrupt_bytes\":%"
		PRIu64 ",\"latency_us\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
		"\"from_send_us\":{\"p99\":%.3f},\"late_answers\":%" PRIu64 ",\"errors\":{",
		n, t_s, unix_s, span_s, d->responses, errors, d->corrupt_bytes, p50, p99, max, s99,
		d->late);
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", err_names[k], d->errors[k]);
	fprintf(f, "}}\n");
}
