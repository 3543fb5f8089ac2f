/* Steering a SO_REUSEPORT group by a payload byte or by the CPU
 * (reuseport_steer.h): the eBPF programs and their socket maps, or the
 * classic BPF fallbacks. */
#include "reuseport_steer.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bpf_call(int cmd, union bpf_attr *attr)
{
	long r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
	return r < 0 ? -errno : (int)r;
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off,
				  .imm = imm };
}

/* A socket map of max_entries with fds[i] at keys[i] (the first fd
 * given a key keeps it); its descriptor, or -errno. */
static int socket_map(const int *fds, const uint32_t *keys, unsigned n, unsigned max_entries)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
	a.key_size = sizeof(uint32_t);
	a.value_size = sizeof(uint64_t);
	a.max_entries = max_entries;
	int map = bpf_call(BPF_MAP_CREATE, &a);
	for (uint32_t i = 0; map >= 0 && i < n; i++) {
		uint64_t fd = (uint64_t)fds[i];
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)map;
		a.key = (uint64_t)(uintptr_t)&keys[i];
		a.value = (uint64_t)(uintptr_t)&fd;
		a.flags = BPF_NOEXIST;
		int r = bpf_call(BPF_MAP_UPDATE_ELEM, &a);
		if (r < 0 && r != -EEXIST) {
			close(map);
			return r;
		}
	}
	return map;
}

enum { R0, R1, R2, R3, R4, R5, R6, R10 = 10 };

/* Loads head, which leaves the context in R6 and a key at fp-4 (or jumps
 * 7 on to the pass), followed by the selection of the map's socket at
 * that key, as the group's SK_REUSEPORT program, and attaches it through
 * fd: 0 or -errno.  Selected or not, the packet passes: one no socket
 * was selected for goes by the group's hash.  The map is closed either
 * way (the program holds it, and the group the program). */
static int attach_select(int fd, const struct bpf_insn *head, unsigned n_head, int map)
{
	struct bpf_insn prog[32];
	const struct bpf_insn tail[] = {
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0),
		insn(BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_MAP_FD, 0, map),
		insn(0, 0, 0, 0, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R10, 0, 0),
		insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, -4),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, 0),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_select_reuseport),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, SK_PASS),	/* the pass */
		insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	unsigned n_tail = sizeof(tail) / sizeof(tail[0]);
	memcpy(prog, head, n_head * sizeof(*head));
	memcpy(prog + n_head, tail, sizeof(tail));
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
	a.expected_attach_type = BPF_SK_REUSEPORT_SELECT;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = n_head + n_tail;
	a.license = (uint64_t)(uintptr_t)"BSD";
	int pfd = bpf_call(BPF_PROG_LOAD, &a);
	close(map);
	if (pfd < 0)
		return pfd;
	int r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &pfd, sizeof(pfd)) < 0 ?
		-errno : 0;
	close(pfd);
	return r;
}

/* key = the byte (its offset counted from the UDP header, where the
 * context's data starts); the socket of slot key, or the hash's choice
 * when the byte is missing or names no socket. */
static int steer_ebpf(const int *fds, unsigned n, unsigned offset)
{
	uint32_t slots[256];
	for (uint32_t i = 0; i < n; i++)
		slots[i] = i;
	int map = socket_map(fds, slots, n, n);
	if (map < 0)
		return map;
	const struct bpf_insn head[] = {
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0),
		insn(BPF_ST | BPF_MEM | BPF_W, R10, 0, -4, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, (int32_t)(8 + offset)),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R10, 0, 0),
		insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, -4),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, 1),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes),
		insn(BPF_JMP | BPF_JNE | BPF_K, R0, 0, 7, 0),	/* to the pass */
	};
	return attach_select(fds[0], head, sizeof(head) / sizeof(head[0]), map);
}

static int steer_classic(int fd, unsigned offset)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, offset, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, offset),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0 ?
	       -errno : 0;
}

int nlb_steer_by_payload_byte(const int *fds, unsigned n, unsigned offset)
{
	if (n == 0 || n > 256)
		return -EINVAL;
	int r = steer_ebpf(fds, n, offset);
	if (r == 0)
		return 1;
	r = steer_classic(fds[0], offset);
	return r < 0 ? r : 0;
}

/* key = the CPU the packet is processed on; the socket of the worker
 * pinned there, or the hash's choice for a CPU with none. */
static int steer_cpu_ebpf(const int *fds, const uint32_t *cpus, unsigned n)
{
	uint32_t max = 0;
	for (unsigned i = 0; i < n; i++)
		max = cpus[i] > max ? cpus[i] : max;
	int map = socket_map(fds, cpus, n, max + 1);
	if (map < 0)
		return map;
	const struct bpf_insn head[] = {
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_smp_processor_id),
		insn(BPF_STX | BPF_MEM | BPF_W, R10, R0, -4, 0),
	};
	return attach_select(fds[0], head, sizeof(head) / sizeof(head[0]), map);
}

/* The CPU compared with each worker's in turn: the index of the first
 * pinned there, which is its socket only while these sockets are the
 * group, in order; past the group (no worker on the CPU) the kernel
 * hashes. */
static int steer_cpu_classic(int fd, const uint32_t *cpus, unsigned n)
{
	struct sock_filter code[2 + 2 * 1024];
	unsigned k = 0;
	code[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_CPU);
	for (unsigned i = 0; i < n; i++) {
		code[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, cpus[i], 0, 1);
		code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, i);
	}
	code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	struct sock_fprog prog = { (unsigned short)k, code };
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0 ?
	       -errno : 0;
}

int nlb_steer_by_cpu(const int *fds, const uint32_t *cpus, unsigned n)
{
	if (n == 0 || n > 1024)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (cpus[i] >= 1024)
			return -EINVAL;
	int r = steer_cpu_ebpf(fds, cpus, n);
	if (r == 0)
		return 1;
	r = steer_cpu_classic(fds[0], cpus, n);
	return r < 0 ? r : 0;
}
