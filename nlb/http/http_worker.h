/* HTTP as a protocol module of the worker loop: what core/main.c lists. */
#ifndef NLB_HTTP_HTTP_WORKER_H
#define NLB_HTTP_HTTP_WORKER_H

#include "core/proto-t.h"

extern const struct stream_proto http_proto;

#endif
