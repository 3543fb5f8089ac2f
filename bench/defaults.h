/* Every nlb-bench constant in one place, with its unit and why it has the
 * value it has. */
#ifndef BENCH_DEFAULTS_H
#define BENCH_DEFAULTS_H

/* ---- command-line defaults and limits --------------------------------- */

/* Request/response bytes for the _rr modes: a small RPC (netperf uses 1). */
#define BENCH_DEF_RR_SIZE       64u
/* Bytes per send for tcp_stream and serve --mode source: large enough that
 * per-send costs vanish on loopback, small enough to stay in L2. */
#define BENCH_DEF_STREAM_SIZE   (64u * 1024)
#define BENCH_DEF_CONNS         16u
#define BENCH_DEF_DURATION_S    10.0
/* Per-request timeout, ms: well above any sane loopback or LAN RTT, short
 * enough that a stalled target shows up within a 10 s run. */
#define BENCH_DEF_TIMEOUT_MS    5000u
#define BENCH_MAX_SIZE          (64u * 1024 * 1024)
#define BENCH_MAX_UDP_SIZE      65507u		/* IPv4 UDP payload limit */
#define BENCH_MIN_UDP_SIZE      8u		/* udp_rr's sequence number */
/* udp_stream: a QUIC-sized datagram (QUIC's minimum datagram is 1200 bytes
 * and many stacks send exactly that) ... */
#define BENCH_DEF_UDP_STREAM_SIZE 1200u
/* ... in bursts of 16 (a typical QUIC GSO batch), at most 64: the kernel's
 * limit on segments per UDP GSO send (UDP_MAX_SEGMENTS before 6.x) and per
 * GRO batch (UDP_GRO_CNT_MAX).  A burst is one datagram's worth of bytes
 * at most (BENCH_MAX_UDP_SIZE), so it fits one GSO send and one GRO batch. */
#define BENCH_DEF_BURST         16u
#define BENCH_MAX_BURST         64u
#define BENCH_MAX_THREADS       256u
#define BENCH_MAX_CONNS         1000000u	/* < 2^24 slots in user_data */

/* ---- serve, per thread ------------------------------------------------ */

/* Connection slots; connections beyond are closed at accept.  24 bytes
 * each, 1.5 MiB. */
#define SERVE_MAX_CONNS         65536u
/* TCP receive buffers (provided-buffer ring): 512 x 32 KiB = 16 MiB.  An
 * echo connection holds one only while its reply is being sent, an idle
 * one none; when all are out, receives wait for one to come back. */
#define SERVE_TCP_BUFS          512u
#define SERVE_TCP_BUF_SIZE      (32u * 1024)
/* UDP buffers: any datagram or UDP GRO batch (64 KiB) + io_uring_recvmsg_out
 * (16) + the sender's address (128) + the UDP_GRO cmsg (24); 256 of them =
 * 16.1 MiB.  A buffer is held until the echo's sendmsg completes, which is
 * at once on a healthy socket; 256 holds a 16-datagram burst from each of
 * 16 flows even when GRO batches nothing (serve --no-gro, or bursts sent
 * without GSO on loopback, where nothing coalesces separate datagrams). */
#define SERVE_UDP_BUFS          256u
#define SERVE_UDP_BUF_SIZE      (65536u + 256u)
/* The UDP socket's receive buffer (the kernel doubles it): the default
 * 208 KiB drops datagrams when 16 flows send bursts of 16 x 1200-byte
 * datagrams at once (about 600 KiB of skb truesize, GSO or not), and each
 * lost datagram costs a client a --timeout. */
#define SERVE_UDP_RCVBUF        (4 * 1024 * 1024)
#define SERVE_SQ_ENTRIES        1024u
/* Room for a burst of multishot completions without the kernel's overflow
 * list. */
#define SERVE_CQ_ENTRIES        16384u
/* Out of fds (EMFILE): retry accept after 10 ms rather than in a spin (the
 * connection that failed is still queued and would fail again at once). */
#define SERVE_ACCEPT_PAUSE_NS   (10u * 1000 * 1000)

/* ---- clients, per thread ---------------------------------------------- */

/* The timeout scan runs every timeout / 50 (so a timeout is noticed at
 * most 2% late), within [1 ms, 100 ms]: each scan visits every connection
 * of the thread, 100 ms keeps that cheap with a million. */
#define LOAD_TICK_DIV           50u
#define LOAD_TICK_MIN_NS        (1000u * 1000)
#define LOAD_TICK_MAX_NS        (100u * 1000 * 1000)
/* After an error a connection waits 10 ms before its next request: a dead
 * target costs 100 attempts/s per connection, not a busy loop, and the
 * error counts stay readable. */
#define LOAD_BACKOFF_NS         (10u * 1000 * 1000)
/* Replies are read into one scratch buffer per thread and never looked at;
 * 64 KiB also holds any UDP datagram. */
#define LOAD_SINK_SIZE          (64u * 1024)
/* At the end, cancelled requests get this long to complete before the ring
 * is torn down (they normally take microseconds). */
#define LOAD_DRAIN_MS           1000
/* udp_stream: each flow's socket receive buffer (the kernel doubles it),
 * room for a whole burst of small datagrams (64 of them at up to 4 KiB of
 * skb truesize each) with some to spare. */
#define LOAD_UDP_STREAM_RCVBUF  (512 * 1024)
#define LOAD_SQ_ENTRIES         4096u
#define LOAD_CQ_MAX             65536u		/* the kernel's limit */

/* The progress line's period (only when stdout is a terminal). */
#define CLIENT_PROGRESS_NS      1000000000ull
/* A thread not finished this long after the deadline is told to stop via
 * the eventfd: a guard, the deadline timer and clock check should do it. */
#define CLIENT_GUARD_NS         (1000000000ull + LOAD_DRAIN_MS * 1000000ull)

#endif
