/* A TLS listener's handshake counters (core/tls_counters.h). */
#include "core/tls_counters.h"

void worker_count_tls_fail(struct worker *w, uint32_t l, enum nlb_tls_fail f)
{
	struct worker_stats *st = wstats(w, l);
	switch (f) {
	case NLB_TLS_FAIL_NOT_TLS: STAT_INC(st, tls_fail_not_tls); break;
	case NLB_TLS_FAIL_VERSION: STAT_INC(st, tls_fail_version); break;
	case NLB_TLS_FAIL_CIPHER: STAT_INC(st, tls_fail_cipher); break;
	case NLB_TLS_FAIL_ALERT: STAT_INC(st, tls_fail_alert); break;
	case NLB_TLS_FAIL_EOF: STAT_INC(st, tls_fail_eof); break;
	case NLB_TLS_FAIL_TIMEOUT: STAT_INC(st, tls_fail_timeout); break;
	case NLB_TLS_FAIL_VERIFY: STAT_INC(st, tls_fail_verify); break;
	case NLB_TLS_FAIL_RENEGOTIATION: STAT_INC(st, tls_fail_renegotiation); break;
	default: STAT_INC(st, tls_fail_protocol); break;
	}
}

void worker_count_tls_handshake(struct worker *w, uint32_t l, const SSL *ssl, uint64_t start_ms)
{
	struct worker_stats *st = wstats(w, l);
	if (SSL_version(ssl) == TLS1_3_VERSION)
		STAT_INC(st, tls_handshakes_tls13);
	else
		STAT_INC(st, tls_handshakes_tls12);
	if (SSL_session_reused((SSL *)ssl))
		STAT_INC(st, tls_resumed);
	/* The coarse clock's milliseconds: a handshake on loopback is 0. */
	uint64_t ms = w->now_ms - start_ms;
	STAT_ADD(st, tls_hs_ms, ms);
	if (ms <= 5)
		STAT_INC(st, tls_hs_le_5ms);
	if (ms <= 10)
		STAT_INC(st, tls_hs_le_10ms);
	if (ms <= 25)
		STAT_INC(st, tls_hs_le_25ms);
	if (ms <= 50)
		STAT_INC(st, tls_hs_le_50ms);
	if (ms <= 100)
		STAT_INC(st, tls_hs_le_100ms);
	if (ms <= 250)
		STAT_INC(st, tls_hs_le_250ms);
	if (ms <= 1000)
		STAT_INC(st, tls_hs_le_1s);
}
