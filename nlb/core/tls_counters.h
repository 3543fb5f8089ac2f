/* A TLS listener's counters for its clients' handshakes, shared by the
 * modules that terminate TLS (stream/tcp_proxy_tls.c for tls listeners,
 * http/http_tls.c for https): the failures by class, and each success by
 * version, resumption and time taken. */
#ifndef NLB_CORE_TLS_COUNTERS_H
#define NLB_CORE_TLS_COUNTERS_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "tls_error.h"
#include "core/worker.h"

/* A client's handshake on listener l failed (f: its class). */
void worker_count_tls_fail(struct worker *w, uint32_t l, enum nlb_tls_fail f);
/* A client's handshake on listener l is done: ssl's, begun at start_ms. */
void worker_count_tls_handshake(struct worker *w, uint32_t l, const SSL *ssl, uint64_t start_ms);

#endif
