/* Steering a SO_REUSEPORT group by a payload byte (reuseport_steer.h):
 * the eBPF program and its socket map, or the classic BPF fallback. */
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

/* The map of the n sockets by slot; its descriptor, or -errno. */
static int socket_map(const int *fds, unsigned n)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
	a.key_size = sizeof(uint32_t);
	a.value_size = sizeof(uint64_t);
	a.max_entries = n;
	int map = bpf_call(BPF_MAP_CREATE, &a);
	for (uint32_t i = 0; map >= 0 && i < n; i++) {
		uint64_t fd = (uint64_t)fds[i];
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)map;
		a.key = (uint64_t)(uintptr_t)&i;
		a.value = (uint64_t)(uintptr_t)&fd;
		a.flags = BPF_ANY;
		int r = bpf_call(BPF_MAP_UPDATE_ELEM, &a);
		if (r < 0) {
			close(map);
			return r;
		}
	}
	return map;
}

/* key = the byte (its offset counted from the UDP header, where the
 * context's data starts); the socket of slot key, or the hash's choice
 * when the byte is missing or names no socket. */
static int steer_ebpf(const int *fds, unsigned n, unsigned offset)
{
	int map = socket_map(fds, n);
	if (map < 0)
		return map;
	enum { R0, R1, R2, R3, R4, R5, R6, R10 = 10 };
	struct bpf_insn prog[] = {
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0),
		insn(BPF_ST | BPF_MEM | BPF_W, R10, 0, -4, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, (int32_t)(8 + offset)),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R10, 0, 0),
		insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, -4),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, 1),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes),
		insn(BPF_JMP | BPF_JNE | BPF_K, R0, 0, 7, 0),	/* to the pass */
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0),
		insn(BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_MAP_FD, 0, map),
		insn(0, 0, 0, 0, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R10, 0, 0),
		insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, -4),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, 0),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_select_reuseport),
		/* selected or not, pass: an unselected datagram goes by hash */
		insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, SK_PASS),
		insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
	a.expected_attach_type = BPF_SK_REUSEPORT_SELECT;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
	a.license = (uint64_t)(uintptr_t)"BSD";
	int fd = bpf_call(BPF_PROG_LOAD, &a);
	close(map);	/* the program holds it */
	if (fd < 0)
		return fd;
	int r = setsockopt(fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &fd, sizeof(fd)) < 0 ?
		-errno : 0;
	close(fd);	/* the group holds it */
	return r;
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
