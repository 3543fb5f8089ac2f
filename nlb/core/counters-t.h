/* The workers' counters: the one list of what a worker counts (name and
 * meaning), one row per (worker, listener), and how a worker writes it.
 * Rows are written only by their worker (relaxed load+store, no atomic
 * read-modify-write on the hot path) and summed with relaxed loads by
 * whoever reads (control/stats.c, the metrics). */
#ifndef NLB_CORE_COUNTERS_T_H
#define NLB_CORE_COUNTERS_T_H

#include <stdatomic.h>
#include <stdint.h>

/* name, kind (counter: only grows; gauge: goes up and down), what it
 * counts.  The stats line, show stats, the metrics and nlb-metrics(7)
 * are made from these (control/counter_table.h): a counter added here
 * is reported everywhere once a metric series names it.  Readers sum
 * them in this order: the HTTP response time buckets come smallest first
 * and before http_target_2xx..5xx, their +Inf, so that a scrape amid a
 * response sees them cumulative (http_response.c, count_response). */
#define NLB_WORKER_STATS(X)                                                             \
	X(accepted, counter, "TCP client connections accepted")                         \
	X(active, gauge, "TCP client connections open now")                             \
	X(closed, counter, "TCP client connections finished, in any way")               \
	X(connect_refused, counter, "target connect attempts refused")                  \
	X(connect_timeout, counter, "target connect attempts past connect_timeout_ms")  \
	X(connect_error, counter, "target connect attempts failing otherwise")          \
	X(no_target, counter, "clients closed: no target left to try")                  \
	X(no_healthy, counter, "clients closed: no healthy target and fail_open = false") \
	X(limit, counter, "clients refused by max_connections")                         \
	X(acl_denied, counter, "TCP clients refused by allow/deny")                     \
	X(source_limit, counter, "TCP clients refused by max_connections_per_source")   \
	X(source_rate, counter, "TCP clients refused by new_connections_per_source_per_s") \
	X(proxy_header_invalid, counter, "clients closed: malformed or oversized PROXY header") \
	X(proxy_header_timeout, counter,                                                \
	  "clients closed: no whole PROXY header within proxy_protocol_timeout_ms")     \
	X(idle_timeout, counter, "connections reset after idle_timeout_ms")             \
	X(client_reset, counter, "resets received from clients")                        \
	X(target_reset, counter, "resets received from targets")                        \
	X(shutdown_reset, counter, "connections reset at the shutdown deadline")        \
	X(drain_reset, counter,                                                         \
	  "TCP connections reset at a removed target's deregistration delay")           \
	X(bytes_in, counter, "payload bytes from clients to targets, TCP and UDP")      \
	X(bytes_out, counter, "payload bytes from targets to clients, TCP and UDP")     \
	X(auto_splice, counter, "connection directions moved from copy to splice (forwarding auto)") \
	X(buffer_wait, counter, "TCP receives that found every copy buffer of the worker in use") \
	X(flow_hits, counter, "TCP connections placed by the flow table (maglev)")      \
	X(accept_paused, counter, "times accepting paused for lack of file descriptors") \
	X(nomem, counter, "connections refused for lack of memory or descriptors")      \
	X(memory_refused, counter, "clients refused: nlb over max_memory_mb")            \
	X(udp_in, counter, "datagrams from clients forwarded to targets")               \
	X(udp_out, counter, "datagrams from targets forwarded to clients")              \
	X(udp_flows, counter, "UDP flows started")                                      \
	X(udp_flows_active, gauge, "UDP flows open now")                                \
	X(udp_expired, counter, "UDP flows ended by udp_idle_timeout_ms")               \
	X(udp_moved, counter, "UDP flows moved off a target that went unhealthy")       \
	X(udp_too_big, counter, "datagrams dropped: larger than udp_max_datagram")      \
	X(udp_gro_batches, counter, "GRO batches received (their datagrams count in udp_in, udp_out)") \
	X(udp_gso_split, counter, "batches sent one datagram at a time: GSO refused (path MTU)") \
	X(udp_flow_limit, counter, "datagrams dropped: max_flows reached")              \
	X(udp_no_target, counter, "datagrams dropped: no (healthy) target")             \
	X(udp_nomem, counter, "datagrams dropped: no socket, flow or buffer")           \
	X(udp_memory_refused, counter, "datagrams starting a flow dropped: nlb over max_memory_mb") \
	X(udp_send_error, counter, "datagrams the kernel refused to send")              \
	X(udp_target_refused, counter,                                                  \
	  "ICMP port unreachable from a target (also counts toward passive health detection)") \
	X(connect_tls, counter,                                                         \
	  "target connect attempts whose TLS handshake failed (verification, protocol)") \
	X(tls_active, gauge, "TLS client connections open now")                         \
	X(tls_handshakes_tls12, counter, "TLS 1.2 handshakes completed with clients")   \
	X(tls_handshakes_tls13, counter, "TLS 1.3 handshakes completed with clients")   \
	X(tls_resumed, counter, "client handshakes that resumed a session from a ticket") \
	X(tls_hs_le_5ms, counter, "client handshakes done within 5 ms of their first byte") \
	X(tls_hs_le_10ms, counter, "client handshakes done within 10 ms")               \
	X(tls_hs_le_25ms, counter, "client handshakes done within 25 ms")               \
	X(tls_hs_le_50ms, counter, "client handshakes done within 50 ms")               \
	X(tls_hs_le_100ms, counter, "client handshakes done within 100 ms")             \
	X(tls_hs_le_250ms, counter, "client handshakes done within 250 ms")             \
	X(tls_hs_le_1s, counter, "client handshakes done within 1 s")                   \
	X(tls_hs_ms, counter, "milliseconds client handshakes took, all added up")      \
	X(tls_fail_not_tls, counter, "client handshakes failed: bytes that are not TLS") \
	X(tls_fail_version, counter,                                                    \
	  "client handshakes failed: only protocol versions the policy refuses")        \
	X(tls_fail_cipher, counter, "client handshakes failed: no cipher or group in common") \
	X(tls_fail_alert, counter, "client handshakes failed: the client sent a fatal alert") \
	X(tls_fail_eof, counter, "client handshakes failed: the client closed or reset") \
	X(tls_fail_timeout, counter, "client handshakes failed: past handshake_timeout_ms") \
	X(tls_fail_verify, counter, "client handshakes failed: certificate verification") \
	X(tls_fail_renegotiation, counter, "TLS client connections closed: renegotiation attempted") \
	X(tls_fail_protocol, counter, "client handshakes failed: malformed or unexpected messages") \
	X(http_requests, counter, "HTTP requests whose head came whole")              \
	X(http_elb_400, counter, "HTTP answers 400 by nlb: a malformed request")       \
	X(http_elb_405, counter, "HTTP answers 405 by nlb: CONNECT, which nlb does not tunnel") \
	X(http_elb_413, counter, "HTTP answers 413 by nlb: a request body over max_body_bytes") \
	X(http_elb_408, counter, "HTTP answers 408 by nlb: no whole head within request_timeout_ms") \
	X(http_elb_417, counter, "HTTP answers 417 by nlb: an expectation other than 100-continue") \
	X(http_elb_431, counter, "HTTP answers 431 by nlb: a head over max_header_bytes") \
	X(http_elb_501, counter, "HTTP answers 501 by nlb: an unknown transfer coding") \
	X(http_elb_502, counter, "HTTP answers 502 by nlb: the target refused, reset, closed or answered malformed") \
	X(http_elb_503, counter, "HTTP answers 503 by nlb: no target (or no healthy one)") \
	X(http_elb_504, counter, "HTTP answers 504 by nlb: no connection or no response head in time") \
	X(http_elb_505, counter, "HTTP answers 505 by nlb: an HTTP version other than 1.0 and 1.1") \
	X(http_elb_500, counter, "HTTP answers 500 by nlb: a rule's redirect URL over 8 KiB")   \
	X(http_redirects, counter, "HTTP answers by a rule's redirect")                 \
	X(http_fixed_responses, counter, "HTTP answers by a rule's fixed_response")    \
	X(http_resp_time_le_5ms, counter,                                               \
	  "HTTP target responses whose head came within 5 ms of the request all sent") \
	X(http_resp_time_le_10ms, counter, "HTTP target responses within 10 ms")        \
	X(http_resp_time_le_25ms, counter, "HTTP target responses within 25 ms")        \
	X(http_resp_time_le_50ms, counter, "HTTP target responses within 50 ms")        \
	X(http_resp_time_le_100ms, counter, "HTTP target responses within 100 ms")      \
	X(http_resp_time_le_250ms, counter, "HTTP target responses within 250 ms")      \
	X(http_resp_time_le_500ms, counter, "HTTP target responses within 500 ms")      \
	X(http_resp_time_le_1s, counter, "HTTP target responses within 1 s")            \
	X(http_resp_time_le_2500ms, counter, "HTTP target responses within 2.5 s")      \
	X(http_resp_time_le_5s, counter, "HTTP target responses within 5 s")            \
	X(http_resp_time_le_10s, counter, "HTTP target responses within 10 s")          \
	X(http_resp_time_ms, counter,                                                   \
	  "milliseconds HTTP target responses took to come, all added up")              \
	X(http_target_2xx, counter, "HTTP responses from targets with a 2xx status")   \
	X(http_target_3xx, counter, "HTTP responses from targets with a 3xx status")   \
	X(http_target_4xx, counter, "HTTP responses from targets with a 4xx status")   \
	X(http_target_5xx, counter, "HTTP responses from targets with a 5xx status")   \
	X(http_target_new, counter, "connections opened to HTTP targets")              \
	X(http_target_reused, counter, "HTTP requests sent on a pooled target connection") \
	X(http_retries, counter, "HTTP requests sent again: a pooled connection failed before answering") \
	X(http_client_gone, counter, "HTTP exchanges the client left before the response ended") \
	X(http_truncated, counter, "HTTP responses cut short: the target closed or failed mid-body") \
	X(access_log_lines, counter, "access log lines queued for the file")            \
	X(access_log_dropped, counter, "access log lines dropped: the writer was behind (its ring full)") \
	X(gw_to_appliance, counter, "gateway packets read from the TUN and sent to an appliance") \
	X(gw_returned, counter, "gateway packets an appliance returned, written to the TUN") \
	X(gw_batched_out, counter, "gateway packets sent to an appliance in a GSO send of several") \
	X(gw_batched_in, counter, "returned packets received in a GRO batch of several") \
	X(gw_handed_off, counter, "returned packets handed to the worker whose flow they are (a GRO batch mixing workers' flows)") \
	X(gw_handoff_full, counter, "returned packets dropped: the hand-off ring to their worker was full") \
	X(gw_gso_split, counter, "GSO sends to an appliance the kernel refused whole, sent again a packet at a time") \
	X(gw_flows, counter, "gateway flows begun (an appliance picked)")              \
	X(gw_flows_adopted, counter, "gateway flows taken up from a return: not held by the worker (another nlb's in a binary upgrade, or forgotten), from the appliance the group picks for them") \
	X(gw_bad_packet, counter, "gateway packets from the TUN that are not well-formed IPv4 or IPv6") \
	X(gw_no_target, counter, "gateway packets dropped: no appliance to send them to") \
	X(gw_too_big, counter, "gateway packets dropped: over the 8,500-byte inner MTU") \
	X(gw_bad_geneve, counter, "returned packets dropped: not GENEVE as nlb sends it") \
	X(gw_unknown_flow, counter, "returned packets dropped: their cookie names no flow of this worker") \
	X(gw_wrong_appliance, counter, "returned packets dropped: from another appliance than the flow's") \
	X(gw_send_error, counter, "gateway packets the GENEVE socket would not send")  \
	X(gw_tun_error, counter, "returned packets the TUN device would not take") \
	X(gw_icmp_too_big, counter, "ICMP fragmentation-needed / packet-too-big answers to TCP packets over the MTU")

/* The UDP part of four counters, kept apart from acl_denied,
 * source_limit, source_rate and drain_reset (which then count TCP
 * connections only) so that the metrics can tell a tcp_udp listener's
 * connections from its flows; the exit stats line adds each back into
 * the name after its meaning, as it always printed them. */
#define NLB_WORKER_STATS_UDP_SPLIT(X)                                                   \
	X(udp_acl_denied, counter, "new UDP flows refused by allow/deny", acl_denied)   \
	X(udp_source_limit, counter, "new UDP flows refused by max_connections_per_source", \
	  source_limit)                                                                 \
	X(udp_source_rate, counter, "new UDP flows refused by new_connections_per_source_per_s", \
	  source_rate)                                                                  \
	X(udp_drain_reset, counter, "UDP flows ended at a removed target's deregistration delay", \
	  drain_reset)

/* One worker's counters for one listener.  A worker holds a row per
 * listener (its index in cfg->listeners); rows are cache-line aligned so
 * no two workers ever write the same line. */
struct worker_stats {
#define NLB_STAT_FIELD(name, ...) _Atomic uint64_t name;
	NLB_WORKER_STATS(NLB_STAT_FIELD)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_FIELD)
#undef NLB_STAT_FIELD
} __attribute__((aligned(64)));

/* Plain sums of rows, for readers. */
struct stats_sum {
#define NLB_STAT_FIELD(name, ...) uint64_t name;
	NLB_WORKER_STATS(NLB_STAT_FIELD)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_FIELD)
#undef NLB_STAT_FIELD
};

/* Adds row into sum, one relaxed load per counter: each value is one the
 * row held, though not all from the same instant. */
static inline void stats_sum_add(struct stats_sum *sum, const struct worker_stats *row)
{
#define NLB_STAT_ADD(name, ...) sum->name += atomic_load_explicit(&row->name, memory_order_relaxed);
	NLB_WORKER_STATS(NLB_STAT_ADD)
	NLB_WORKER_STATS_UDP_SPLIT(NLB_STAT_ADD)
#undef NLB_STAT_ADD
}

#define STAT_ADD(st, name, n)                                                           \
	atomic_store_explicit(&(st)->name,                                              \
			      atomic_load_explicit(&(st)->name, memory_order_relaxed) + (n), \
			      memory_order_relaxed)
#define STAT_INC(st, name) STAT_ADD(st, name, 1)
#define STAT_DEC(st, name) STAT_ADD(st, name, (uint64_t)-1)

#endif
