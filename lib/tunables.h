/* Every data-path constant in one place (and the admin socket's limits),
 * with its unit and why it has the value it has.  Change them here, measure with bench/, and say the
 * figures in doc/performance.md. */
#ifndef NLB_TUNABLES_H
#define NLB_TUNABLES_H

/* Submission queue entries per worker ring.  A busy iteration queues a
 * few SQEs per completion; 4096 keeps "SQ full, submit and retry" rare. */
#define NLB_RING_SQ_ENTRIES 4096u

/* Completion queue entries per worker ring: room for a full batch from
 * every multishot request without leaning on the kernel's overflow list. */
#define NLB_RING_CQ_ENTRIES 65536u

/* How a worker waits (nlb/core/loop.c).  With A connections active in
 * the last tick of the coarse clock, it waits for min(A / NLB_WAIT_DIV,
 * NLB_WAIT_BATCH) completions, or, once NLB_WAIT_MIN_US has passed, for
 * whatever is there (kernel 6.12's minimum wait, probed); below
 * NLB_WAIT_MIN_BATCH it wakes at the first completion, as it does on
 * kernels without the minimum wait.  A few clients in lock-step each wait
 * on the answer, so batching only adds latency (a batch of 2 cost
 * nlb-bench udp_rr with 4 flows 25% of its rate); many clients fill a
 * batch in a few microseconds and each io_uring_enter then carries more
 * work.  Figures in doc/performance.md. */
#ifndef NLB_WAIT_BATCH
#define NLB_WAIT_BATCH 32u
#endif
#ifndef NLB_WAIT_MIN_US
#define NLB_WAIT_MIN_US 50u
#endif
#ifndef NLB_WAIT_DIV
#define NLB_WAIT_DIV 2u
#endif
#ifndef NLB_WAIT_MIN_BATCH
#define NLB_WAIT_MIN_BATCH 8u
#endif
#define NLB_WAIT_MAX_NS 1000000000ull

/* Provided-buffer ring for the copy path: buffers per worker and bytes
 * each.  16 KiB matches HAProxy's default buffer.  The kernel hands
 * buffers out in ring order, so every buffer gets touched and stays
 * resident: the count bounds the worker's buffer memory (512 x 16 KiB =
 * 8 MiB), and with forwarding = auto bulk flows leave the copy path
 * anyway.  2048 made RSS grow 8 KiB per idle connection in bench/compare
 * until all were touched. */
#define NLB_BUF_SIZE  16384u
#define NLB_BUF_COUNT 512u
#define NLB_BUF_GROUP 0

/* Receive bundles (IORING_RECVSEND_BUNDLE, 6.10, probed): one completion
 * for all the buffers a receive fills.  0 turns them off (bench A/B). */
#ifndef NLB_RECV_BUNDLE
#define NLB_RECV_BUNDLE 1
#endif

/* Per-direction backpressure in the copy path: stop receiving once this
 * many bytes wait to be sent, resume below the low-water mark.  128 KiB
 * (8 buffers) keeps a sendmsg full while leaving buffers for 60 other
 * backed-up directions. */
#define NLB_DIR_HIGH_WATER (128u * 1024u)
#define NLB_DIR_LOW_WATER  (32u * 1024u)

/* At most this many queued buffers go out in one sendmsg. */
#define NLB_SEND_IOV_MAX 16u

/* Splice path: pipe capacity (256 KiB moved 9-10.5 Gbit/s here against
 * 5.6-6.4 with the default 64 KiB, see DESIGN.md) and how many empty
 * pipes a worker keeps for reuse before closing them. */
#define NLB_PIPE_SIZE      (256u * 1024u)
#define NLB_PIPE_POOL_KEEP 256u

/* Splice moves per readiness event before yielding to other
 * connections, so one fast flow cannot starve the loop. */
#define NLB_SPLICE_ROUNDS 8u

/* forwarding = "auto": a direction whose receives fill this many whole
 * buffers in a row is bulk, and moves from copy to splice for the rest
 * of its life (HAProxy's splice-auto idea).  Request/response traffic
 * never gets there and keeps the copy path, faster for small messages. */
#define NLB_AUTO_SPLICE_STREAK 4u

/* Connection objects are allocated in chunks of this many, never moved. */
#define NLB_CONN_CHUNK 1024u

/* Listen backlog (the kernel clamps it to net.core.somaxconn). */
#define NLB_LISTEN_BACKLOG 65535

/* After EMFILE/ENFILE on accept, wait this long before accepting again. */
#define NLB_ACCEPT_PAUSE_MS 100u

/* Listener slots over the life of a process: a listener added by a
 * reload takes a new one, and a removed listener's is never reused (its
 * counters and worker state stay its own), so a process can see this
 * many listeners in all; past it, adding one needs a restart.  Each
 * costs a worker some 1 KiB (state and a counter row). */
#define NLB_MAX_LISTENERS 256u

/* Target group slots over the life of a process, in the same way: a
 * group added by a reload takes a new slot, a removed one keeps its slot
 * (its draining targets, counters and table) and takes it back if a
 * later reload adds a group of that name again. */
#define NLB_MAX_GROUPS 256u

/* Housekeeping tick bounds (idle sweep, drain deadline, accept resume). */
#define NLB_TICK_MIN_MS 10u
#define NLB_TICK_MAX_MS 100u

/* UDP.  Each buffer holds one datagram (or one GRO batch: up to 64 KiB
 * of same-sized datagrams from one sender) after recvmsg's header, the
 * sender's address and the control messages (IP_PKTINFO, UDP_GRO).  Its
 * payload room is the configuration's udp_max_datagram; a larger datagram
 * is dropped and counted (udp_too_big), never truncated. */
#define NLB_UDP_BUF_HEADROOM 256u
/* The largest GRO batch the kernel builds: 64 KiB of payload. */
#define NLB_UDP_GRO_MAX      65536u
/* Buffers per worker: a datagram holds one from receipt until its send
 * completes, so this bounds datagrams (or batches) in flight, not flows.
 * Small datagrams touch one page of each (2 MiB resident at most); 64 KiB
 * buffers get half as many, so a bulk flood pins at most 16 MiB. */
#define NLB_UDP_BUF_COUNT       512u
#define NLB_UDP_BUF_COUNT_LARGE 256u
#define NLB_UDP_BUF_GROUP    1
/* Receive buffer asked for on listening UDP sockets (the kernel caps it
 * at net.core.rmem_max): bursts wait there while the worker is busy. */
#define NLB_UDP_SOCKET_RCVBUF (4 * 1024 * 1024)
/* Flow objects are allocated in chunks of this many, never moved. */
#define NLB_UDP_FLOW_CHUNK 1024u

/* io-wq workers per ring: nothing on nlb's data path should reach
 * io-wq (sockets are polled first, splice runs inline), so a tiny bound
 * only guards against thread growth if something ever does. */
#define NLB_IOWQ_MAX_WORKERS 2u

/* Per-source limits (max_connections_per_source,
 * new_connections_per_source_per_s): sources tracked per worker and
 * listener when the listener's max_connections does not bound them lower
 * (lib/srclimit.h).  A source takes 52-56 bytes, so 65536 is 3.25 MiB of
 * address space, resident only as sources arrive; -ENOSPC then needs
 * 65536 distinct clients each holding a connection on one worker. */
#define NLB_SRCLIMIT_SOURCES 65536u

/* The metrics endpoint (stats = { listen }).  A scrape is one request
 * per connection; these bound what clients can hold: request heads up to
 * 8 KiB (an HTTP client sends a few hundred bytes; NGINX's default for a
 * large header buffer is 8 KiB too), at most 16 connections at once (more
 * wait in the backlog: Prometheus scrapes one target with one
 * connection), and 5 s from accept to the last byte of the answer (the
 * half of Prometheus's default 10 s scrape timeout).  After its answer a
 * client's leftover bytes are read and dropped for up to 1 s before the
 * close, so the close is not a reset that could destroy the answer in
 * flight. */
#define NLB_METRICS_HEAD_MAX    8192u
#define NLB_METRICS_MAX_CLIENTS 16u
#define NLB_METRICS_TIMEOUT_MS  5000
#define NLB_METRICS_LINGER_MS   1000
#define NLB_METRICS_BACKLOG     64

/* Health changes of one target group are published as one new table per
 * batch: the first change after a quiet period goes out at the end of
 * the probe loop's iteration, later ones wait until this many ms after
 * the group's last publish, then go out together.  A 1,000-target Maglev
 * build takes 1.8 ms here (doc/performance.md, maglev-bench), so 100 ms bounds health
 * rebuilds to 10 a second per group, under 2% of a core, where 1,000
 * targets turning healthy at start cost 1.8 s of builds one by one.  A
 * change waits at most this long, and only behind another change of
 * its group: small next to detection (interval x threshold). */
#define NLB_HEALTH_PUBLISH_HOLD_MS 100u

/* Rate-limited log lines (nlb_warn_rl and the like), per call site: a
 * burst of 20 shows what is going on; then one line every 200 ms (5 a
 * second) is at most 432,000 lines a day from one site, about 65 MB at
 * 150 bytes a line, however hard clients push. */
#define NLB_LOG_RL_BURST       20u
#define NLB_LOG_RL_INTERVAL_MS 200u

/* The admin socket (control plane, not the data path).  A command line
 * is at most NLB_ADMIN_LINE_MAX bytes; a longer one is an error and the
 * connection is closed, so a client cannot make nlb buffer without
 * bound.  At most NLB_ADMIN_CLIENTS connections are served at once; more
 * wait in the listen backlog (NLB_ADMIN_BACKLOG) until one ends, and one
 * silent for NLB_ADMIN_IDLE_MS is closed, so 16 stuck clients hold the
 * socket up for a minute at worst.  Commands are read only while less
 * than NLB_ADMIN_OUT_HIGH bytes of replies wait to be sent: a client that
 * pipelines "show targets" without reading costs one reply at a time. */
#define NLB_ADMIN_LINE_MAX 4096u
#define NLB_ADMIN_CLIENTS  16u
#define NLB_ADMIN_BACKLOG  64
#define NLB_ADMIN_IDLE_MS  60000u
#define NLB_ADMIN_OUT_HIGH (64u * 1024u)
/* A connection closed for an oversized line (or quit) first reads and
 * drops what the client still sends, so that its last reply is not lost
 * to a reset; at most this much (and NLB_ADMIN_IDLE_MS), then it closes. */
#define NLB_ADMIN_LINGER_MAX (1024u * 1024u)

/* ---- TLS ---------------------------------------------------------------- */

/* Certificates one tls listener may hold: SNI picks among them by a
 * walk, and the AWS ALB's own limit is 25 besides the default. */
#define NLB_TLS_CERTS_MAX 256u

/* Bytes a TLS connection sends from at once, per direction: a copy out
 * of OpenSSL's memory BIO that stays put while the kernel reads it
 * (the BIO may move its bytes when written).  A little over one full
 * TLS record (16 KiB + 22 bytes of header and tag) plus room for the
 * next, so a bulk stream sends about two records a call. */
#define NLB_TLS_SEND_BUF (32u << 10)

/* Plaintext read from OpenSSL at a time, on the worker's stack. */
#define NLB_TLS_READ_CHUNK (16u << 10)

/* HTTP (nlb/http/).  A target's response head must fit its receive
 * buffer: 16 KiB, as the longest request head by default (HAProxy's
 * bufsize); bodies stream through the same buffer.  Pooled connections
 * per worker per target: enough for a worker's share of a busy target's
 * concurrency, bounded so a burst does not leave thousands open; idle
 * ones close after 50 s, before NGINX's 75 s keepalive_timeout closes
 * them under a request.  After its last answer a client that is closed
 * gets 2 s to stop sending (its bytes are read and dropped), so the
 * answer is not lost to a reset (NGINX's lingering_close). */
#define NLB_HTTP_BUF_SIZE 16384u
#define NLB_HTTP_POOL_MAX 128u
#define NLB_HTTP_POOL_IDLE_MS 50000u
#define NLB_HTTP_LINGER_MS 2000u

/* The access log (nlb/control/access_log.c): 1 MiB of lines per worker
 * (some 5,000 lines, a tenth of a second of one worker's full rate)
 * rides out a disk that stalls that long before lines are dropped; the
 * writer wakes every 100 ms and writes up to 64 KiB a call. */
#define NLB_ACCESS_LOG_RING (1u << 20)
#define NLB_ACCESS_LOG_FLUSH_MS 100
#define NLB_ACCESS_LOG_CHUNK (64u << 10)
#define NLB_ACCESS_LOG_LINE 2048u

/* A reload reads the file once it has kept still this long (a SIGHUP
 * sent while an editor or a deploy tool is still writing it in place),
 * but waits no longer than the second bound for that. */
#define NLB_RELOAD_SETTLE_MS     100u
#define NLB_RELOAD_SETTLE_MAX_MS 2000u

#endif
