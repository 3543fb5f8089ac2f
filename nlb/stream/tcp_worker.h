/* TCP as a protocol module of the worker loop (stream/tcp_worker.c). */
#ifndef NLB_STREAM_TCP_WORKER_H
#define NLB_STREAM_TCP_WORKER_H

#include "core/proto-t.h"

extern const struct stream_proto tcp_proto;

#endif
