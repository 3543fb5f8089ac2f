/* UDP as a protocol module of the worker loop (stream/udp_worker.c). */
#ifndef NLB_STREAM_UDP_WORKER_H
#define NLB_STREAM_UDP_WORKER_H

#include "core/proto-t.h"

extern const struct stream_proto udp_proto;

#endif
