/* Suite "reuseport_steer": lib/reuseport_steer.c on loopback sockets.
 * Datagrams whose byte names slot 0 or 1 reach that socket of the
 * steered set: with the eBPF program even when another socket joined
 * the group first and when the first of the group leaves (the order a
 * binary upgrade leaves it in); with the classic program (what nlb gets
 * without CAP_BPF) while the set is the group; a byte that names no
 * slot, or a datagram too short, still reaches a socket.  Steering by
 * CPU: a connection made from a thread pinned to CPU c (on loopback the
 * SYN is taken on the sender's CPU) waits on the socket given CPU c,
 * with eBPF past a foreign socket and with the classic program. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "reuseport_steer.h"

#define OFFSET 36

static int member(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert(fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
		  bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind 127.0.0.1:%u: %s", port,
		  strerror(errno));
	return fd;
}

/* 40 datagrams, the byte alternating 0 and 1; how many each of fds[0..2]
 * got whose byte named it (right) and how many it got at all. */
static void send_and_count(uint16_t port, const int *fds, unsigned n, unsigned right[],
			   unsigned all[])
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	uint8_t pkt[40] = { 0 };
	for (int k = 0; k < 40; k++) {
		pkt[OFFSET] = (uint8_t)(k & 1);
		cr_assert_eq(sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&a, sizeof(a)), 40);
	}
	close(s);
	t_sleep_ms(50);
	for (unsigned i = 0; i < n; i++) {
		right[i] = all[i] = 0;
		uint8_t b[64];
		while (recv(fds[i], b, sizeof(b), MSG_DONTWAIT) == 40) {
			all[i]++;
			right[i] += b[OFFSET] == i;
		}
	}
}

Test(reuseport_steer, ebpf_steers_by_slot_whatever_the_group_holds)
{
	uint16_t port = t_free_port();
	int foreign = member(port);	/* another process's, first in the group */
	int fds[2] = { member(port), member(port) };
	int how = nlb_steer_by_payload_byte(fds, 2, OFFSET);
	cr_assert_eq(how, 1, "the eBPF program (as root): %d %s", how, how < 0 ? strerror(-how) : "");
	unsigned right[3], all[3];
	int every[3] = { fds[0], fds[1], foreign };
	send_and_count(port, every, 3, right, all);
	cr_expect_eq(right[0], 20, "slot 0 got %u of its 20 (%u in all)", right[0], all[0]);
	cr_expect_eq(right[1], 20, "slot 1 got %u of its 20 (%u in all)", right[1], all[1]);
	cr_expect_eq(all[2], 0, "the foreign socket got %u", all[2]);
	/* the foreign socket leaves: the group's order changes, not the map */
	close(foreign);
	send_and_count(port, every, 2, right, all);
	cr_expect_eq(right[0], 20);
	cr_expect_eq(right[1], 20);
	close(fds[0]);
	close(fds[1]);
}

Test(reuseport_steer, unnamed_slots_and_short_datagrams_go_by_hash)
{
	uint16_t port = t_free_port();
	int fds[2] = { member(port), member(port) };
	cr_assert_eq(nlb_steer_by_payload_byte(fds, 2, OFFSET), 1);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	uint8_t pkt[40] = { 0 };
	pkt[OFFSET] = 7;	/* no slot 7 */
	cr_assert_eq(sendto(s, pkt, 40, 0, (struct sockaddr *)&a, sizeof(a)), 40);
	cr_assert_eq(sendto(s, pkt, 10, 0, (struct sockaddr *)&a, sizeof(a)), 10);
	close(s);
	t_sleep_ms(50);
	unsigned got = 0;
	uint8_t b[64];
	for (int i = 0; i < 2; i++)
		while (recv(fds[i], b, sizeof(b), MSG_DONTWAIT) > 0)
			got++;
	cr_expect_eq(got, 2, "%u of 2 datagrams delivered", got);
	close(fds[0]);
	close(fds[1]);
}

Test(reuseport_steer, classic_without_cap_bpf)
{
	uint16_t port = t_free_port();
	/* a user with no capability: as nlb after its privilege drop */
	cr_assert_eq(setresgid(65534, 65534, 65534), 0);
	cr_assert_eq(setresuid(65534, 65534, 65534), 0);
	int fds[2] = { member(port), member(port) };
	int how = nlb_steer_by_payload_byte(fds, 2, OFFSET);
	cr_assert_eq(how, 0, "the classic program: %d", how);
	unsigned right[2], all[2];
	send_and_count(port, fds, 2, right, all);
	cr_expect_eq(right[0], 20);
	cr_expect_eq(right[1], 20);
	close(fds[0]);
	close(fds[1]);
}

static int tcp_member(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert(fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
		  bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 64) == 0,
		  "listen 127.0.0.1:%u: %s", port, strerror(errno));
	return fd;
}

static void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0, "pin to CPU %d: %s", cpu,
		     strerror(errno));
}

/* 10 connections from CPU cpu; how many each of fds[0 .. n) accepted. */
static void connect_from(int cpu, uint16_t port, const int *fds, unsigned n, unsigned got[])
{
	pin_to(cpu);
	int c[10];
	for (int k = 0; k < 10; k++) {
		c[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		cr_assert_eq(connect(c[k], (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s",
			     strerror(errno));
	}
	t_sleep_ms(20);
	for (unsigned i = 0; i < n; i++) {
		got[i] = 0;
		int fd;
		while ((fd = accept(fds[i], NULL, NULL)) >= 0) {
			got[i]++;
			close(fd);
		}
	}
	for (int k = 0; k < 10; k++)
		close(c[k]);
}

/* The machine's CPUs 0 and 1, which these tests pin to. */
static void need_two_cpus(void)
{
	cpu_set_t set;
	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	cr_assert(CPU_ISSET(0, &set) && CPU_ISSET(1, &set), "CPUs 0 and 1 are needed");
}

Test(reuseport_steer, ebpf_steers_by_cpu_whatever_the_group_holds)
{
	need_two_cpus();
	uint16_t port = t_free_port();
	int foreign = tcp_member(port);
	int fds[2] = { tcp_member(port), tcp_member(port) };
	/* the second socket on CPU 0, the first on CPU 1 */
	int how = nlb_steer_by_cpu((const int[]){ fds[1], fds[0] }, (const uint32_t[]){ 0, 1 }, 2);
	cr_assert_eq(how, 1, "the eBPF program (as root): %d %s", how, how < 0 ? strerror(-how) : "");
	int every[3] = { fds[0], fds[1], foreign };
	unsigned got[3];
	connect_from(0, port, every, 3, got);
	cr_expect(got[1] == 10 && got[0] == 0 && got[2] == 0,
		  "from CPU 0: %u, %u and foreign %u (want all 10 on the second)", got[0], got[1],
		  got[2]);
	connect_from(1, port, every, 3, got);
	cr_expect(got[0] == 10 && got[1] == 0 && got[2] == 0,
		  "from CPU 1: %u, %u and foreign %u (want all 10 on the first)", got[0], got[1],
		  got[2]);
	close(foreign);
	close(fds[0]);
	close(fds[1]);
}

Test(reuseport_steer, a_cpu_without_a_socket_goes_by_hash)
{
	need_two_cpus();
	uint16_t port = t_free_port();
	int fds[2] = { tcp_member(port), tcp_member(port) };
	/* both on CPU 0: CPU 1's connections are hashed over the two */
	cr_assert_eq(nlb_steer_by_cpu(fds, (const uint32_t[]){ 0, 0 }, 2), 1);
	unsigned got[2];
	connect_from(1, port, fds, 2, got);
	cr_expect_eq(got[0] + got[1], 10, "%u and %u accepted of 10", got[0], got[1]);
	connect_from(0, port, fds, 2, got);
	cr_expect(got[0] == 10, "from CPU 0: %u and %u (want all 10 on the first)", got[0], got[1]);
	close(fds[0]);
	close(fds[1]);
}

Test(reuseport_steer, classic_by_cpu_without_cap_bpf)
{
	need_two_cpus();
	uint16_t port = t_free_port();
	cr_assert_eq(setresgid(65534, 65534, 65534), 0);
	cr_assert_eq(setresuid(65534, 65534, 65534), 0);
	int fds[2] = { tcp_member(port), tcp_member(port) };
	int how = nlb_steer_by_cpu(fds, (const uint32_t[]){ 1, 0 }, 2);
	cr_assert_eq(how, 0, "the classic program: %d", how);
	unsigned got[2];
	connect_from(0, port, fds, 2, got);
	cr_expect(got[1] == 10, "from CPU 0: %u and %u (want all 10 on the second)", got[0], got[1]);
	connect_from(1, port, fds, 2, got);
	cr_expect(got[0] == 10, "from CPU 1: %u and %u (want all 10 on the first)", got[0], got[1]);
	close(fds[0]);
	close(fds[1]);
}
