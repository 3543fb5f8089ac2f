/* The counter and metric table (counter_table.h).  A family's series are
 * listed in the order a scrape shows them; a scrape shows the families
 * in the order of enum metric_family_id. */
#include "control/counter_table.h"

#include <stddef.h>
#include <string.h>

const struct stat_counter nlb_stat_counters[] = {
#define NLB_WORKER_ROW(n, k, m)                                                         \
	{ .name = #n, .kind = #k, .meaning = m, .id = COUNTER(n), .family = MF_END },
	NLB_WORKER_STATS(NLB_WORKER_ROW)
#undef NLB_WORKER_ROW
#define NLB_SPLIT_ROW(n, k, m, into)                                                    \
	{ .name = #n, .kind = #k, .meaning = m, .id = COUNTER(n), .added_into = #into,  \
	  .family = MF_END },
	NLB_WORKER_STATS_UDP_SPLIT(NLB_SPLIT_ROW)
#undef NLB_SPLIT_ROW
#define NLB_CONTROL_ROW(n, k, m, f) { .name = #n, .kind = #k, .meaning = m, .family = f },
	NLB_CONTROL_STATS(NLB_CONTROL_ROW)
#undef NLB_CONTROL_ROW
};

const size_t nlb_n_stat_counters = sizeof(nlb_stat_counters) / sizeof(nlb_stat_counters[0]);

static const size_t counter_offset[COUNTER_END] = {
#define NLB_COUNTER_OFFSET(n, ...) [COUNTER(n)] = offsetof(struct stats_sum, n),
	NLB_WORKER_STATS(NLB_COUNTER_OFFSET)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_COUNTER_OFFSET)
#undef NLB_COUNTER_OFFSET
};

uint64_t stats_sum_get(const struct stats_sum *s, enum counter_id id)
{
	uint64_t v;
	memcpy(&v, (const char *)s + counter_offset[id], sizeof(v));
	return v;
}

bool metric_family_is_histogram(const struct metric_family *f)
{
	return strcmp(f->type, "histogram") == 0;
}

uint64_t metric_series_value(const struct metric_series *series, const struct stats_sum *s)
{
	uint64_t v = 0;
	for (size_t i = 0; i < SERIES_MAX_SUM && series->sum[i] != COUNTER_NONE; i++)
		v += stats_sum_get(s, series->sum[i]);
	return v;
}

/* A series: label value, listeners, counters added up; S0: no counters
 * (the family's source gives the value). */
#define S(val, side, ...) { .value = (val), .on = (side), .sum = { __VA_ARGS__ } }
#define S0(val) { .value = (val), .on = ON_ANY }
/* A family's series, and how many. */
#define SERIES(...)                                                                     \
	.series = (const struct metric_series[]){ __VA_ARGS__ },                        \
	.n_series = sizeof((const struct metric_series[]){ __VA_ARGS__ }) /             \
		    sizeof(struct metric_series)
#define C(n) COUNTER(n)

const struct metric_family nlb_metric_families[MF_END] = {
	/* ---- the process ---- */
	[MF_BUILD_INFO] = {
		"nlb_build_info", "gauge", "Always 1; the version of nlb.",
		SCOPE_PROCESS, "version", .value_doc = "1; the label version is nlb's version",
	},
	[MF_START_TIME] = {
		"nlb_start_time_seconds", "gauge",
		"When nlb started serving, in seconds since the Unix epoch.",
		SCOPE_PROCESS, NULL,
		.value_doc = "the time the metrics endpoint started, in seconds since the Unix epoch",
	},
	[MF_WORKERS] = {
		"nlb_workers", "gauge", "Worker threads.", SCOPE_PROCESS, NULL,
		.value_doc = "the number of worker threads",
	},
	[MF_RESIDENT_MEMORY] = {
		"nlb_resident_memory_bytes", "gauge",
		"nlb's resident memory as last sampled (every 100 ms, 10 ms near max_memory_mb).",
		SCOPE_PROCESS, NULL, .value_doc = "bytes resident (/proc/self/statm)",
	},
	[MF_MEMORY_BUDGET] = {
		"nlb_memory_budget_bytes", "gauge",
		"max_memory_mb in bytes (0: no budget); over it new connections and flows are refused.",
		SCOPE_PROCESS, NULL, .value_doc = "max_memory_mb in bytes, 0 without",
	},
	[MF_ANNOUNCED] = {
		"nlb_announced", "gauge",
		"Whether the route of a prefix of announce is in its table now: 1 while nlb can serve the prefix (an open listener of it and a healthy target), 0 once withdrawn (doc/scaleout.md).",
		SCOPE_PREFIX, NULL, .value_doc = "1 announced, 0 withdrawn",
	},
	/* ---- per listener: the workers' counters ---- */
	[MF_ACTIVE_FLOWS] = {
		"nlb_active_flows", "gauge", "TCP connections and UDP flows open now.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_ANY, C(active), C(udp_flows_active))),
	},
	[MF_NEW_FLOWS] = {
		"nlb_new_flows_total", "counter", "TCP connections accepted and UDP flows started.",
		SCOPE_LISTENER, "protocol",
		SERIES(S("tcp", ON_TCP, C(accepted)), S("udp", ON_UDP, C(udp_flows))),
	},
	[MF_PROCESSED_BYTES] = {
		"nlb_processed_bytes_total", "counter",
		"Payload bytes forwarded, TCP and UDP: in from clients to targets, out from targets to clients.",
		SCOPE_LISTENER, "direction",
		SERIES(S("in", ON_ANY, C(bytes_in)), S("out", ON_ANY, C(bytes_out))),
	},
	[MF_TCP_CLOSED] = {
		"nlb_tcp_closed_total", "counter", "TCP client connections finished, in any way.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(closed))),
	},
	[MF_CLIENT_RESETS] = {
		"nlb_client_resets_total", "counter", "Resets received from clients.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(client_reset))),
	},
	[MF_TARGET_RESETS] = {
		"nlb_target_resets_total", "counter", "Resets received from targets.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(target_reset))),
	},
	[MF_RESETS] = {
		"nlb_resets_total", "counter", "TCP connections nlb itself reset, by reason.",
		SCOPE_LISTENER, "reason",
		SERIES(S("idle_timeout", ON_TCP, C(idle_timeout)),
		       S("shutdown", ON_TCP, C(shutdown_reset)),
		       S("drain", ON_TCP, C(drain_reset)),
		       S("no_target", ON_TCP, C(no_target)),
		       S("no_healthy", ON_TCP, C(no_healthy)),
		       S("refused", ON_TCP, C(acl_denied), C(limit), C(source_limit), C(source_rate)),
		       S("proxy_header", ON_TCP, C(proxy_header_invalid), C(proxy_header_timeout)),
		       S("nomem", ON_TCP, C(nomem)),
		       S("memory_budget", ON_TCP, C(memory_refused))),
	},
	[MF_CONNECT_ERRORS] = {
		"nlb_connect_errors_total", "counter",
		"Failed target connect attempts (refused, timeout, error) and clients given no target connection (the other reasons).",
		SCOPE_LISTENER, "reason",
		SERIES(S("refused", ON_TCP, C(connect_refused)),
		       S("timeout", ON_TCP, C(connect_timeout)),
		       S("error", ON_TCP, C(connect_error)),
		       S("no_target", ON_TCP, C(no_target)),
		       S("no_healthy", ON_TCP, C(no_healthy)),
		       S("acl", ON_TCP, C(acl_denied)),
		       S("limit", ON_TCP, C(limit)),
		       S("source_limit", ON_TCP, C(source_limit)),
		       S("source_rate", ON_TCP, C(source_rate)),
		       S("proxy_header", ON_TCP, C(proxy_header_invalid), C(proxy_header_timeout)),
		       S("memory_budget", ON_TCP, C(memory_refused)),
		       S("tls", ON_TCP, C(connect_tls))),
	},
	[MF_FLOW_TABLE_HITS] = {
		"nlb_flow_table_hits_total", "counter",
		"TCP connections sent to their flow's earlier target by the flow table (maglev).",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(flow_hits))),
	},
	[MF_AUTO_SPLICE] = {
		"nlb_auto_splice_total", "counter",
		"Connection directions moved from copy to splice (forwarding auto).",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(auto_splice))),
	},
	[MF_BUFFER_WAITS] = {
		"nlb_tcp_buffer_waits_total", "counter",
		"Receives of TCP connections (copy forwarding) that found every buffer of their worker "
		"in use, each waiting until one comes back; a steady rise means more data is in "
		"flight than the pool holds.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(buffer_wait))),
	},
	[MF_ACCEPT_PAUSED] = {
		"nlb_accept_paused_total", "counter",
		"Times accepting paused for lack of file descriptors.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TCP, C(accept_paused))),
	},
	[MF_UDP_DATAGRAMS] = {
		"nlb_udp_datagrams_total", "counter",
		"UDP datagrams forwarded: in from clients to targets, out from targets to clients.",
		SCOPE_LISTENER, "direction",
		SERIES(S("in", ON_UDP, C(udp_in)), S("out", ON_UDP, C(udp_out))),
	},
	[MF_UDP_DROPPED] = {
		"nlb_udp_dropped_total", "counter",
		"UDP datagrams (or GRO batches) dropped, by reason.",
		SCOPE_LISTENER, "reason",
		SERIES(S("too_big", ON_UDP, C(udp_too_big)),
		       S("flow_limit", ON_UDP, C(udp_flow_limit)),
		       S("no_target", ON_UDP, C(udp_no_target)),
		       S("nomem", ON_UDP, C(udp_nomem)),
		       S("memory_budget", ON_UDP, C(udp_memory_refused)),
		       S("send_error", ON_UDP, C(udp_send_error)),
		       S("acl", ON_UDP, C(udp_acl_denied)),
		       S("source_limit", ON_UDP, C(udp_source_limit)),
		       S("source_rate", ON_UDP, C(udp_source_rate))),
	},
	[MF_UDP_FLOWS_ENDED] = {
		"nlb_udp_flows_ended_total", "counter",
		"UDP flows ended, by reason: idle past udp_idle_timeout_ms, moved off an unhealthy target, or at a removed target's deregistration delay.",
		SCOPE_LISTENER, "reason",
		SERIES(S("idle_timeout", ON_UDP, C(udp_expired)),
		       S("moved", ON_UDP, C(udp_moved)),
		       S("drain", ON_UDP, C(udp_drain_reset))),
	},
	[MF_UDP_TARGET_UNREACHABLE] = {
		"nlb_udp_target_unreachable_total", "counter",
		"ICMP port unreachable received from UDP targets.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_UDP, C(udp_target_refused))),
	},
	[MF_UDP_GRO_BATCHES] = {
		"nlb_udp_gro_batches_total", "counter",
		"GRO batches received (their datagrams count in nlb_udp_datagrams_total).",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_UDP, C(udp_gro_batches))),
	},
	[MF_UDP_GSO_SPLIT] = {
		"nlb_udp_gso_split_total", "counter",
		"Batches sent one datagram at a time because the kernel refused a GSO send.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_UDP, C(udp_gso_split))),
	},
	[MF_TLS_ACTIVE] = {
		"nlb_tls_active_connections", "gauge",
		"TLS client connections open now, handshakes in progress included.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TLS, C(tls_active))),
	},
	[MF_TLS_HANDSHAKES] = {
		"nlb_tls_handshakes_total", "counter",
		"TLS handshakes completed with clients, by protocol version.",
		SCOPE_LISTENER, "version",
		SERIES(S("tls1.2", ON_TLS, C(tls_handshakes_tls12)),
		       S("tls1.3", ON_TLS, C(tls_handshakes_tls13))),
	},
	[MF_TLS_RESUMPTIONS] = {
		"nlb_tls_resumptions_total", "counter",
		"Client handshakes that resumed a session from a ticket (counted in nlb_tls_handshakes_total too).",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TLS, C(tls_resumed))),
	},
	[MF_TLS_HANDSHAKE_DURATION] = {
		"nlb_tls_handshake_duration_seconds_bucket_total", "counter",
		"Client handshakes completed within le seconds of the connection's start (after its PROXY header), cumulative: Prometheus's histogram_quantile takes them as a histogram's buckets.",
		SCOPE_LISTENER, "le",
		SERIES(S("0.005", ON_TLS, C(tls_hs_le_5ms)),
		       S("0.01", ON_TLS, C(tls_hs_le_10ms)),
		       S("0.025", ON_TLS, C(tls_hs_le_25ms)),
		       S("0.05", ON_TLS, C(tls_hs_le_50ms)),
		       S("0.1", ON_TLS, C(tls_hs_le_100ms)),
		       S("0.25", ON_TLS, C(tls_hs_le_250ms)),
		       S("1", ON_TLS, C(tls_hs_le_1s)),
		       S("+Inf", ON_TLS, C(tls_handshakes_tls12), C(tls_handshakes_tls13))),
	},
	[MF_TLS_HANDSHAKE_TIME] = {
		"nlb_tls_handshake_milliseconds_total", "counter",
		"Milliseconds completed client handshakes took, added up (with the +Inf bucket, the mean).",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_TLS, C(tls_hs_ms))),
	},
	[MF_TLS_HANDSHAKE_ERRORS] = {
		"nlb_tls_handshake_errors_total", "counter",
		"TLS client connections that failed, by reason: in the handshake, or a renegotiation attempt after it.",
		SCOPE_LISTENER, "reason",
		SERIES(S("not_tls", ON_TLS, C(tls_fail_not_tls)),
		       S("version", ON_TLS, C(tls_fail_version)),
		       S("cipher", ON_TLS, C(tls_fail_cipher)),
		       S("alert", ON_TLS, C(tls_fail_alert)),
		       S("eof", ON_TLS, C(tls_fail_eof)),
		       S("timeout", ON_TLS, C(tls_fail_timeout)),
		       S("verify", ON_TLS, C(tls_fail_verify)),
		       S("renegotiation", ON_TLS, C(tls_fail_renegotiation)),
		       S("protocol", ON_TLS, C(tls_fail_protocol))),
	},
	[MF_TLS_CERT_NOT_AFTER] = {
		"nlb_tls_certificate_not_after_seconds", "gauge",
		"When each tls listener's certificate expires, in seconds since the Unix epoch: alert some 30 days ahead.",
		SCOPE_CERTIFICATE, NULL,
		.value_doc = "the certificate's notAfter, as loaded by the configuration in force",
	},
	[MF_HTTP_REQUESTS] = {
		"nlb_http_requests_total", "counter",
		"HTTP requests whose head came whole, answered by a target or by nlb (the ALB's RequestCount).",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_HTTP, C(http_requests))),
	},
	[MF_HTTP_ELB_RESPONSES] = {
		"nlb_http_elb_responses_total", "counter",
		"HTTP answers nlb made itself, by status (the ALB's HTTPCode_ELB_4XX_Count and _5XX_Count).",
		SCOPE_LISTENER, "code",
		SERIES(S("400", ON_HTTP, C(http_elb_400)), S("405", ON_HTTP, C(http_elb_405)),
		       S("408", ON_HTTP, C(http_elb_408)), S("413", ON_HTTP, C(http_elb_413)),
		       S("417", ON_HTTP, C(http_elb_417)),
		       S("431", ON_HTTP, C(http_elb_431)), S("501", ON_HTTP, C(http_elb_501)),
		       S("502", ON_HTTP, C(http_elb_502)), S("503", ON_HTTP, C(http_elb_503)),
		       S("504", ON_HTTP, C(http_elb_504)), S("505", ON_HTTP, C(http_elb_505)),
		       S("500", ON_HTTP, C(http_elb_500))),
	},
	[MF_HTTP_RULE_ANSWERS] = {
		"nlb_http_rule_answers_total", "counter",
		"HTTP answers made by listener rules, by action (the ALB's HTTP_Redirect_Count and HTTP_Fixed_Response_Count); rule-by-rule matches are nlb_http_rule_matches_total.",
		SCOPE_LISTENER, "action",
		SERIES(S("redirect", ON_HTTP, C(http_redirects)),
		       S("fixed_response", ON_HTTP, C(http_fixed_responses))),
	},
	[MF_HTTP_RULE_MATCHES] = {
		"nlb_http_rule_matches_total", "counter",
		"Requests each listener rule matched, by its priority; \"default\" is the requests no rule matched (the default action). A reload that changes a listener's rules starts its counts again; one that leaves them alone keeps them.",
		SCOPE_RULE, NULL,
		.value_doc = "the workers' counts of the rule's matches, kept with the rules themselves",
	},
	[MF_HTTP_TARGET_RESPONSES] = {
		"nlb_http_target_responses_total", "counter",
		"HTTP responses from targets, by status class (the ALB's HTTPCode_Target_2XX_Count and the rest).",
		SCOPE_LISTENER, "class",
		SERIES(S("2xx", ON_HTTP, C(http_target_2xx)), S("3xx", ON_HTTP, C(http_target_3xx)),
		       S("4xx", ON_HTTP, C(http_target_4xx)), S("5xx", ON_HTTP, C(http_target_5xx))),
	},
	[MF_HTTP_TARGET_RESPONSE_TIME] = {
		"nlb_http_target_response_time_seconds", "histogram",
		"Seconds from a request all sent to its target until the response head came (the ALB's TargetResponseTime), for the responses of nlb_http_target_responses_total; the clock counts in milliseconds.",
		SCOPE_LISTENER, "le",
		SERIES(S("0.005", ON_HTTP, C(http_resp_time_le_5ms)),
		       S("0.01", ON_HTTP, C(http_resp_time_le_10ms)),
		       S("0.025", ON_HTTP, C(http_resp_time_le_25ms)),
		       S("0.05", ON_HTTP, C(http_resp_time_le_50ms)),
		       S("0.1", ON_HTTP, C(http_resp_time_le_100ms)),
		       S("0.25", ON_HTTP, C(http_resp_time_le_250ms)),
		       S("0.5", ON_HTTP, C(http_resp_time_le_500ms)),
		       S("1", ON_HTTP, C(http_resp_time_le_1s)),
		       S("2.5", ON_HTTP, C(http_resp_time_le_2500ms)),
		       S("5", ON_HTTP, C(http_resp_time_le_5s)),
		       S("10", ON_HTTP, C(http_resp_time_le_10s)),
		       S("+Inf", ON_HTTP, C(http_target_2xx), C(http_target_3xx),
			 C(http_target_4xx), C(http_target_5xx))),
		.sum_ms = C(http_resp_time_ms),
	},
	[MF_HTTP_TARGET_CONNECTIONS] = {
		"nlb_http_target_requests_total", "counter",
		"HTTP requests sent to targets, by connection: a new one, or one from the pool.",
		SCOPE_LISTENER, "connection",
		SERIES(S("new", ON_HTTP, C(http_target_new)), S("pooled", ON_HTTP, C(http_target_reused))),
	},
	[MF_HTTP_RETRIES] = {
		"nlb_http_retries_total", "counter",
		"HTTP requests sent again on a new connection: a pooled one closed before any byte of the answer.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_HTTP, C(http_retries))),
	},
	[MF_ACCESS_LOG_LINES] = {
		"nlb_access_log_lines_total", "counter",
		"Access log lines, queued for the file or dropped because the writer was behind (a disk that stalls).",
		SCOPE_LISTENER, "outcome",
		SERIES(S("queued", ON_HTTP, C(access_log_lines)), S("dropped", ON_HTTP, C(access_log_dropped))),
	},
	[MF_GATEWAY_PACKETS] = {
		"nlb_gateway_packets_total", "counter",
		"Gateway packets: read from the TUN and sent to an appliance, returned by one and written to the TUN (the GWLB's ProcessedPackets, by direction), and ICMP too-big answers nlb wrote to the TUN for TCP packets over the MTU.",
		SCOPE_LISTENER, "direction",
		SERIES(S("to_appliance", ON_GATEWAY, C(gw_to_appliance)),
		       S("returned", ON_GATEWAY, C(gw_returned)),
		       S("icmp_too_big", ON_GATEWAY, C(gw_icmp_too_big))),
	},
	[MF_GATEWAY_FLOWS] = {
		"nlb_gateway_flows_total", "counter",
		"Gateway flows begun: an appliance picked for a flow no worker held (the GWLB's NewFlowCount), or taken up from a return of a flow the worker did not hold (another nlb's during a binary upgrade, or one its table let go) from the appliance the group picks for it.",
		SCOPE_LISTENER, "how",
		SERIES(S("picked", ON_GATEWAY, C(gw_flows)),
		       S("adopted", ON_GATEWAY, C(gw_flows_adopted))),
	},
	[MF_GATEWAY_DROPPED] = {
		"nlb_gateway_dropped_total", "counter",
		"Gateway packets dropped, by reason: bad_packet (not IPv4/IPv6 from the TUN), no_target, too_big (over the 8,500-byte inner MTU), bad_geneve, unknown_flow (a cookie no flow of the worker has), wrong_appliance, send_error, tun_error, handoff_full (the ring to the worker that owns the flow was full).",
		SCOPE_LISTENER, "reason",
		SERIES(S("bad_packet", ON_GATEWAY, C(gw_bad_packet)),
		       S("no_target", ON_GATEWAY, C(gw_no_target)),
		       S("too_big", ON_GATEWAY, C(gw_too_big)),
		       S("bad_geneve", ON_GATEWAY, C(gw_bad_geneve)),
		       S("unknown_flow", ON_GATEWAY, C(gw_unknown_flow)),
		       S("wrong_appliance", ON_GATEWAY, C(gw_wrong_appliance)),
		       S("send_error", ON_GATEWAY, C(gw_send_error)),
		       S("tun_error", ON_GATEWAY, C(gw_tun_error)),
		       S("handoff_full", ON_GATEWAY, C(gw_handoff_full))),
	},
	[MF_GATEWAY_BATCHED] = {
		"nlb_gateway_batched_packets_total", "counter",
		"Gateway packets that moved in batches: sent to an appliance in a GSO send of several, returned in a GRO batch of several, or of such a batch handed to the worker that owns their flow (also counted in nlb_gateway_packets_total).",
		SCOPE_LISTENER, "direction",
		SERIES(S("to_appliance", ON_GATEWAY, C(gw_batched_out)),
		       S("returned", ON_GATEWAY, C(gw_batched_in)),
		       S("handed_off", ON_GATEWAY, C(gw_handed_off))),
	},
	[MF_GATEWAY_GSO_SPLIT] = {
		"nlb_gateway_gso_split_total", "counter",
		"GSO sends to an appliance the kernel refused whole (segments above the path MTU), sent again a packet at a time.",
		SCOPE_LISTENER, NULL, SERIES(S(NULL, ON_GATEWAY, C(gw_gso_split))),
	},
	[MF_HTTP_INCOMPLETE] = {
		"nlb_http_incomplete_total", "counter",
		"HTTP exchanges that did not end whole: the client left, or the target cut its response short.",
		SCOPE_LISTENER, "reason",
		SERIES(S("client_gone", ON_HTTP, C(http_client_gone)),
		       S("truncated", ON_HTTP, C(http_truncated))),
	},
	/* ---- per worker: its rows of every listener ---- */
	[MF_WORKER_ACCEPTED] = {
		"nlb_worker_accepted_total", "counter",
		"TCP connections accepted by each worker (SO_REUSEPORT spreads them).",
		SCOPE_WORKER, NULL, SERIES(S(NULL, ON_ANY, C(accepted))),
	},
	[MF_WORKER_ACTIVE_FLOWS] = {
		"nlb_worker_active_flows", "gauge",
		"TCP connections and UDP flows each worker holds now.",
		SCOPE_WORKER, NULL, SERIES(S(NULL, ON_ANY, C(active), C(udp_flows_active))),
	},
	/* ---- per group and target: the target slots, copied under ctl_lock ---- */
	[MF_HEALTHY_HOSTS] = {
		"nlb_healthy_hosts", "gauge",
		"Targets that pass their health check (all targets, without one); draining targets are not counted.",
		SCOPE_GROUP, NULL,
		.value_doc = "counted from the group's registered targets and their health "
			     "(a group a reload removed has none)",
	},
	[MF_UNHEALTHY_HOSTS] = {
		"nlb_unhealthy_hosts", "gauge",
		"Targets that fail their health check or have not passed one yet; draining targets are not counted.",
		SCOPE_GROUP, NULL,
		.value_doc = "counted from the group's registered targets and their health "
			     "(a group a reload removed has none)",
	},
	[MF_TARGET_HEALTH] = {
		"nlb_target_health", "gauge",
		"1 for a registered target that is healthy (or whose group has no health check), else 0; 0 while it drains.",
		SCOPE_TARGET, NULL, .value_doc = "from the target's slot and health",
	},
	[MF_TARGET_HEALTH_STATE] = {
		"nlb_target_health_state", "gauge",
		"The health check's state of each registered target: 1 for the state it is in, 0 for the others.",
		SCOPE_TARGET, "state",
		SERIES(S0("initial"), S0("healthy"), S0("unhealthy")),
		.value_doc = "from the target's health (registered targets only: a draining one "
			     "is not checked)",
	},
	[MF_TARGET_DRAINING] = {
		"nlb_target_draining", "gauge",
		"1 while a removed target drains its connections (deregistration_delay_ms), else 0.",
		SCOPE_TARGET, NULL, .value_doc = "from the target's slot",
	},
	[MF_TARGET_ACTIVE_CONNECTIONS] = {
		"nlb_target_active_connections", "gauge",
		"TCP connections and UDP flows to the target open now.",
		SCOPE_TARGET, NULL,
		.value_doc = "the sum of the workers' connection and flow counts of the target",
	},
	[MF_TARGET_WEIGHT] = {
		"nlb_target_weight", "gauge", "The target's configured weight.",
		SCOPE_TARGET, NULL, .value_doc = "the weight in the target's slot",
	},
	[MF_TABLE_BUILDS] = {
		"nlb_table_builds_total", "counter",
		"Balancing tables built and put in force for the target group: at start, by reloads, the admin socket and health changes.",
		SCOPE_GROUP, NULL,
		.value_doc = "the group's count of table builds (a group a reload removed has "
			     "none; the stats line's table_builds counts every group's)",
	},
	/* ---- per group with a health check: the health thread's ---- */
	[MF_HEALTH_PROBES] = {
		"nlb_health_probes_total", "counter", "Health probes finished, by result.",
		SCOPE_GROUP, "result", SERIES(S0("pass"), S0("fail")),
		.value_doc = "the health thread's count of the group's probes (groups with a "
			     "health check; the stats line's health_probes counts every group's)",
	},
	[MF_HEALTH_STATE_CHANGES] = {
		"nlb_health_state_changes_total", "counter",
		"Target health state changes, from probes and from passive detection.",
		SCOPE_GROUP, NULL,
		.value_doc = "the health thread's count of the group's state changes (groups "
			     "with a health check; the stats line's health_changes counts every "
			     "group's)",
	},
};
