/* Gateway mode's protocol module (gw_worker.c): the worker loop's only
 * way in. */
#ifndef NLB_GATEWAY_GW_WORKER_H
#define NLB_GATEWAY_GW_WORKER_H

#include "core/proto-t.h"

extern const struct stream_proto gateway_proto;

#endif
