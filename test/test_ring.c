/* Suite "ring": lib/ring's helpers that nlb-bench and nlb share: a
 * provided-buffer ring that hands a received buffer's id back through the
 * CQE, receive bundles read back in ring order, the count check on its
 * size, nlb_ring_cancel_all draining every
 * request in the ring (and saying so when an owed completion never
 * comes), the batched wait the worker loop makes, the timespec of an
 * io_uring timeout, and restricted rings (IORING_REGISTER_RESTRICTIONS),
 * nlb's own restrictions among them. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "ring.h"
#include "core/sandbox.h"

TestSuite(ring, .init = t_setup, .fini = t_teardown);

/* The one CQE of one submitted request, copied to *out. */
static void one_cqe(struct io_uring *ring, struct io_uring_cqe *out)
{
	cr_assert_geq(io_uring_submit(ring), 1);
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe(ring, &cqe);
	cr_assert_eq(ret, 0, "io_uring_wait_cqe: %s", strerror(-ret));
	*out = *cqe;
	io_uring_cqe_seen(ring, cqe);
}

/* A recv on fd that takes its buffer (or, with bundle, buffers) from
 * group; its CQE into *out. */
static void recv_from_group(struct io_uring *ring, int fd, unsigned len, int group, bool bundle,
			    struct io_uring_cqe *out)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(ring);
	io_uring_prep_recv(sqe, fd, NULL, len, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)group;
	if (bundle)
		sqe->ioprio |= NLB_RECVSEND_BUNDLE;
	one_cqe(ring, out);
}

T_UNIT(ring, timespec)
{
	struct __kernel_timespec ts = nlb_ring_timespec(1500000000u);
	cr_expect_eq(ts.tv_sec, 1);
	cr_expect_eq(ts.tv_nsec, 500000000);
	ts = nlb_ring_timespec(999999999u);
	cr_expect_eq(ts.tv_sec, 0);
	cr_expect_eq(ts.tv_nsec, 999999999);
	ts = nlb_ring_timespec(0);
	cr_expect_eq(ts.tv_sec, 0);
	cr_expect_eq(ts.tv_nsec, 0);
}

T_UNIT(ring, cqe_bid)
{
	struct io_uring_cqe cqe;
	memset(&cqe, 0, sizeof(cqe));
	cr_expect_eq(nlb_bufring_cqe_bid(&cqe), -1, "no IORING_CQE_F_BUFFER: no buffer");
	cqe.flags = IORING_CQE_F_MORE | 7u << IORING_CQE_BUFFER_SHIFT;
	cr_expect_eq(nlb_bufring_cqe_bid(&cqe), -1, "an id without the flag is not one");
	cqe.flags = IORING_CQE_F_BUFFER | 7u << IORING_CQE_BUFFER_SHIFT;
	cr_expect_eq(nlb_bufring_cqe_bid(&cqe), 7);
	cqe.flags = IORING_CQE_F_BUFFER | IORING_CQE_F_MORE | 32767u << IORING_CQE_BUFFER_SHIFT;
	cr_expect_eq(nlb_bufring_cqe_bid(&cqe), 32767);
}

T_TEST(ring, bufring_count_must_be_a_power_of_two)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	struct nlb_bufring b;
	cr_expect_eq(nlb_bufring_init(&ring, &b, 0, 0, 64), -EINVAL);
	cr_expect_eq(nlb_bufring_init(&ring, &b, 0, 3, 64), -EINVAL);
	cr_expect_eq(nlb_bufring_init(&ring, &b, 0, 65536, 64), -EINVAL);
	io_uring_queue_exit(&ring);
}

/* A recv that picks its buffer from the ring: the CQE names it, the data
 * is there, and once recycled the same buffers serve again. */
T_TEST(ring, bufring_recv_names_its_buffer)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	if (!feat.buf_ring) {
		io_uring_queue_exit(&ring);
		cr_skip_test("no provided-buffer rings in this kernel (5.19+)");
	}
	struct nlb_bufring b;
	cr_assert_eq(nlb_bufring_init(&ring, &b, 3, 2, 64), 0);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);

	int seen[2] = { 0, 0 };
	for (int round = 0; round < 4; round++) {
		char msg[16];
		int len = snprintf(msg, sizeof(msg), "round %d", round);
		cr_assert_eq(write(sv[1], msg, (size_t)len), len);
		struct io_uring_cqe cqe;
		recv_from_group(&ring, sv[0], 64, 3, false, &cqe);
		cr_assert_eq(cqe.res, len, "recv: %d", cqe.res);
		int bid = nlb_bufring_cqe_bid(&cqe);
		cr_assert(bid == 0 || bid == 1, "buffer id %d of a ring of 2", bid);
		seen[bid]++;
		cr_expect_eq(memcmp(nlb_bufring_addr(&b, (unsigned)bid), msg, (size_t)len), 0);
		/* Rounds 2 and 3 need the buffers of rounds 0 and 1 back. */
		nlb_bufring_recycle(&b, (unsigned)bid);
		nlb_bufring_flush(&b);
	}
	cr_expect_eq(seen[0] + seen[1], 4);
	close(sv[0]);
	close(sv[1]);
	nlb_bufring_free(&ring, &b);
	io_uring_queue_exit(&ring);
}

/* A receive bundle fills several buffers in ring order, and the order
 * is read back from the ring (nlb_bufring_next) even after buffers came
 * back out of order: the bytes reassemble exactly. */
T_TEST(ring, bufring_bundle_follows_ring_order)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	if (!feat.buf_ring || !feat.recv_bundle) {
		io_uring_queue_exit(&ring);
		cr_skip_test("no receive bundles in this kernel (6.10+, not 6.13.11-6.14)");
	}
	struct nlb_bufring b;
	cr_assert_eq(nlb_bufring_init(&ring, &b, 4, 4, 64), 0);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);

	/* Take buffers 0 and 1, give them back as 1 then 0: the ring now
	 * holds 2, 3, 1, 0. */
	int taken[2];
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(write(sv[1], "x", 1), 1);
		struct io_uring_cqe cqe;
		recv_from_group(&ring, sv[0], 0, 4, false, &cqe);
		cr_assert_eq(cqe.res, 1);
		taken[i] = nlb_bufring_cqe_bid(&cqe);
	}
	cr_assert_eq(taken[0], 0);
	cr_assert_eq(taken[1], 1);
	nlb_bufring_recycle(&b, 1);
	nlb_bufring_recycle(&b, 0);
	nlb_bufring_flush(&b);

	unsigned char data[3 * 64 + 5];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 1);
	cr_assert_eq(write(sv[1], data, sizeof(data)), (ssize_t)sizeof(data));
	/* The kernel may stop a bundle short of the data (6.18 took three
	 * buffers here): bundles until it is all in, each one completion,
	 * the buffers following each other in ring order. */
	const unsigned want[] = { 2, 3, 1, 0 };
	unsigned got[4];
	int n_got = 0, bundles = 0;
	size_t off = 0;
	while (off < sizeof(data)) {
		struct io_uring_cqe cqe;
		recv_from_group(&ring, sv[0], 0, 4, true, &cqe);
		cr_assert_gt(cqe.res, 0, "recv: %d", cqe.res);
		bundles++;
		unsigned bid = (unsigned)nlb_bufring_cqe_bid(&cqe);
		size_t left = (size_t)cqe.res;
		while (left) {
			cr_assert_lt(n_got, 4, "more than four buffers");
			got[n_got++] = bid;
			size_t n = left < 64 ? left : 64;
			cr_expect_eq(memcmp(nlb_bufring_addr(&b, bid), data + off, n), 0,
				     "bytes %zu.. differ", off);
			off += n;
			left -= n;
			if (left)
				bid = nlb_bufring_next(&b, bid);
		}
	}
	cr_expect_lt(bundles, 4, "%d completions for four buffers: no bundle", bundles);
	cr_assert_eq(n_got, 4);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(got[i], want[i], "buffer %d is %u, not %u", i, got[i], want[i]);
	cr_expect_eq(off, sizeof(data));
	close(sv[0]);
	close(sv[1]);
	nlb_bufring_free(&ring, &b);
	io_uring_queue_exit(&ring);
}

/* Which kernels get no bundles: 6.13.11 to 6.14, and any release nlb
 * cannot read. */
T_UNIT(ring, bundle_order_broken_releases)
{
	cr_expect(!nlb_ring_bundle_order_broken("6.18.0-1-amd64"));
	cr_expect(!nlb_ring_bundle_order_broken("6.12.57"));
	cr_expect(!nlb_ring_bundle_order_broken("6.13.10"));
	cr_expect(nlb_ring_bundle_order_broken("6.13.11"));
	cr_expect(nlb_ring_bundle_order_broken("6.14.2-arch1"));
	cr_expect(!nlb_ring_bundle_order_broken("6.15"));
	cr_expect(!nlb_ring_bundle_order_broken("7.0.1"));
	cr_expect(nlb_ring_bundle_order_broken("linux"));
}

/* Two requests that would wait for ever (a recv with nothing to read, a
 * one-hour timeout) are cancelled and their completions reaped: the count
 * comes back to 0 and the ring still works. */
T_TEST(ring, cancel_all_drains_the_ring)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	char buf[16];
	uint64_t inflight = 0;
	struct io_uring_sqe *sqe = nlb_ring_sqe(&ring);
	io_uring_prep_recv(sqe, sv[0], buf, sizeof(buf), 0);
	io_uring_sqe_set_data64(sqe, 1);
	inflight++;
	struct __kernel_timespec hour = nlb_ring_timespec(3600ull * 1000000000u);
	sqe = nlb_ring_sqe(&ring);
	io_uring_prep_timeout(sqe, &hour, 0, 0);
	io_uring_sqe_set_data64(sqe, 2);
	inflight++;
	cr_assert_eq(io_uring_submit(&ring), 2);

	cr_expect_eq(nlb_ring_cancel_all(&ring, &inflight, 10000), 0);
	cr_expect_eq(inflight, 0);

	sqe = nlb_ring_sqe(&ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, 3);
	struct io_uring_cqe cqe;
	one_cqe(&ring, &cqe);
	cr_expect_eq(cqe.user_data, 3, "the ring works after the drain");
	cr_expect_eq(cqe.res, 0);
	close(sv[0]);
	close(sv[1]);
	io_uring_queue_exit(&ring);
}

/* A completion owed that never comes: the drain gives up with -ETIME and
 * leaves it counted. */
T_TEST(ring, cancel_all_reports_what_never_came)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	uint64_t inflight = 1;	/* counted, never submitted */
	cr_expect_eq(nlb_ring_cancel_all(&ring, &inflight, 20), -ETIME);
	cr_expect_eq(inflight, 1, "the cancel's own completion was reaped");
	io_uring_queue_exit(&ring);
}

/* nlb_ring_submit_and_wait_batch, as the worker loop calls it: it submits
 * what is queued in the same enter; with the kernel's minimum wait, a
 * batch that does not fill ends with what there is once the minimum has
 * passed, not at the timeout; without it, only the timeout ends the
 * wait.  Either way no completion is lost. */
T_TEST(ring, batch_wait_submits_and_returns_a_short_batch)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	struct io_uring_sqe *sqe = nlb_ring_sqe(&ring);
	cr_assert_not_null(sqe);
	io_uring_prep_nop(sqe);
	int ret = nlb_ring_submit_and_wait_batch(&ring, &feat, 1, 0, 10ull * 1000000000ull);
	cr_expect_eq(ret, 1, "the queued NOP is submitted by the wait: %d", ret);
	cr_expect_eq(io_uring_cq_ready(&ring), 1);
	io_uring_cq_advance(&ring, 1);

	for (int i = 0; i < 3; i++) {
		sqe = nlb_ring_sqe(&ring);
		cr_assert_not_null(sqe);
		io_uring_prep_nop(sqe);
	}
	cr_assert_eq(io_uring_submit(&ring), 3);
	/* Nothing left to submit: what the enter returns is the wait's. */
	uint64_t timeout_ns = feat.min_wait ? 10ull * 1000000000ull : 100000000ull;
	ret = nlb_ring_submit_and_wait_batch(&ring, &feat, 8, 1000, timeout_ns);
	if (feat.min_wait)
		cr_expect_eq(ret, 0, "3 of 8 ready: back after the minimum wait: %d", ret);
	else
		cr_expect_eq(ret, -ETIME, "no minimum wait: only the timeout ends it: %d", ret);
	cr_expect_eq(io_uring_cq_ready(&ring), 3);
	io_uring_cq_advance(&ring, io_uring_cq_ready(&ring));

	/* Nothing queued and nothing to come: the timeout, not a hang. */
	ret = nlb_ring_submit_and_wait_batch(&ring, &feat, 1, 0, 10000000ull);
	cr_expect_eq(ret, -ETIME, "empty ring: %d", ret);
	io_uring_queue_exit(&ring);
}

/* A restricted ring (nlb_ring_init_restricted): what r lists completes,
 * another opcode or an unlisted SQE flag completes with -EACCES, an
 * unlisted registration fails with EACCES. */
static const uint8_t nop_only[] = { IORING_OP_NOP };
static const uint8_t pbuf_only[] = { IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_PBUF_RING };

static void nop_res(struct io_uring *ring, uint8_t flags, int want, const char *what)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(ring);
	cr_assert_not_null(sqe);
	io_uring_prep_nop(sqe);
	sqe->flags |= flags;
	struct io_uring_cqe cqe;
	one_cqe(ring, &cqe);
	cr_expect_eq(cqe.res, want, "%s: %d (%s)", what, cqe.res, strerror(-cqe.res));
}

static void openat_res(struct io_uring *ring, int want, const char *what)
{
	struct io_uring_sqe *sqe = nlb_ring_sqe(ring);
	cr_assert_not_null(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
	struct io_uring_cqe cqe;
	one_cqe(ring, &cqe);
	if (want == 0)
		cr_expect_geq(cqe.res, 0, "%s: %d (%s)", what, cqe.res, strerror(-cqe.res));
	else
		cr_expect_eq(cqe.res, want, "%s: %d (%s)", what, cqe.res, strerror(-cqe.res));
	if (cqe.res >= 0)
		close(cqe.res);
}

T_TEST(ring, restrictions_refuse_what_is_not_listed)
{
	struct io_uring ring;
	struct nlb_ring_features feat;
	struct nlb_ring_restrictions r = {
		.sqe_ops = nop_only, .n_sqe_ops = 1,
		.register_ops = pbuf_only, .n_register_ops = 2,
		.sqe_flags = IOSQE_IO_LINK,
	};
	int ret = nlb_ring_init_restricted(&ring, 8, 16, &feat, &r);
	cr_assert_eq(ret, 0, "a restricted ring: %s", strerror(-ret));
	nop_res(&ring, 0, 0, "NOP");
	nop_res(&ring, IOSQE_ASYNC, -EACCES, "NOP with IOSQE_ASYNC, not listed");
	openat_res(&ring, -EACCES, "OPENAT");
	unsigned iowq[2] = { 1, 1 };
	cr_expect_eq(io_uring_register_iowq_max_workers(&ring, iowq), -EACCES,
		     "a registration not listed");
	/* a listed one still works once enabled */
	struct nlb_bufring b;
	cr_expect_eq(nlb_bufring_init(&ring, &b, 0, 8, 64), 0);
	nlb_bufring_free(&ring, &b);
	io_uring_queue_exit(&ring);

	/* the same calls on a ring without restrictions work */
	cr_assert_eq(nlb_ring_init(&ring, 8, 16, &feat), 0);
	nop_res(&ring, IOSQE_ASYNC, 0, "unrestricted NOP with IOSQE_ASYNC");
	openat_res(&ring, 0, "unrestricted OPENAT");
	io_uring_queue_exit(&ring);
}

/* nlb's own restrictions (core/sandbox.c, seccomp = true): what workers
 * submit and register completes; opening a file through the ring does
 * not, though open(2) is on the seccomp list (reloads read files). */
T_TEST(ring, nlb_restrictions_allow_what_workers_do)
{
	static struct nlb_config cfg;
	cr_expect_null(sandbox_ring_restrictions(&cfg), "seccomp = false: no restriction");
	cfg.seccomp = 1;
	const struct nlb_ring_restrictions *r = sandbox_ring_restrictions(&cfg);
	cr_assert_not_null(r);
	struct io_uring ring;
	struct nlb_ring_features feat;
	int ret = nlb_ring_init_restricted(&ring, 8, 16, &feat, r);
	cr_assert_eq(ret, 0, "nlb's restricted ring: %s", strerror(-ret));
	cr_expect(feat.recv_multishot && feat.accept_multishot, "the probe ran before enabling");
	nop_res(&ring, IOSQE_IO_LINK, 0, "NOP with IOSQE_IO_LINK, listed");
	openat_res(&ring, -EACCES, "OPENAT");
	struct nlb_bufring b;
	cr_expect_eq(nlb_bufring_init(&ring, &b, 0, 8, 64), 0, "a buffer ring, as a reload adds");
	/* a receive from the buffer group, as workers make them */
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(write(sv[1], "ping", 4), 4);
	struct io_uring_cqe cqe;
	recv_from_group(&ring, sv[0], 64, 0, false, &cqe);
	cr_expect_eq(cqe.res, 4, "recv: %d (%s)", cqe.res, strerror(-cqe.res));
	close(sv[0]);
	close(sv[1]);
	nlb_bufring_free(&ring, &b);
	unsigned iowq[2] = { 4, 4 };
	cr_expect_geq(io_uring_register_iowq_max_workers(&ring, iowq), 0);
	io_uring_queue_exit(&ring);
}
