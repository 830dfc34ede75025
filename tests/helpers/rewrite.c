/*
 * rewrite: another program's connect hooks on a cgroup, as a service mesh
 * or a socket load-balancer has: dials to FROM-ADDR:FROM-PORT go to
 * TO-ADDR:TO-PORT instead (IPv4 through connect4; IPv6 through connect6,
 * where only the port is rewritten). Raw instructions, bpf(2), a bpf_link
 * each (attached after whatever is there; gone with this process).
 *
 *   rewrite CGROUP FROM-ADDR FROM-PORT TO-ADDR TO-PORT
 *
 * Prints "attached" once both run, then waits to be killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define CTX_FIELD(f) ((short)offsetof(struct bpf_sock_addr, f))

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* if port == from (and, for IPv4, address == from4): address = to4, port = to */
static int load(int v6, uint32_t from4, uint32_t from_port, uint32_t to4, uint32_t to_port)
{
	struct bpf_insn code[16];
	int n = 0;
	code[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, CTX_FIELD(user_port), 0);
	code[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, 2, 0, v6 ? 2 : 6, (int)from_port);
	if (!v6) {
		code[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, CTX_FIELD(user_ip4), 0);
		code[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, 2, 0, 4, (int)from4);
		code[n++] = INSN(BPF_ALU | BPF_MOV | BPF_K, 2, 0, 0, (int)to4);
		code[n++] = INSN(BPF_STX | BPF_MEM | BPF_W, 1, 2, CTX_FIELD(user_ip4), 0);
	}
	code[n++] = INSN(BPF_ALU | BPF_MOV | BPF_K, 2, 0, 0, (int)to_port);
	code[n++] = INSN(BPF_STX | BPF_MEM | BPF_W, 1, 2, CTX_FIELD(user_port), 0);
	code[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
	code[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	attr.expected_attach_type = v6 ? BPF_CGROUP_INET6_CONNECT : BPF_CGROUP_INET4_CONNECT;
	attr.insns = (uint64_t)(uintptr_t)code;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	strcpy(attr.prog_name, "test_rewrite");
	return (int)bpf(BPF_PROG_LOAD, &attr);
}

static int link_to(int prog, int cgroup, int type)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog;
	attr.link_create.target_fd = (uint32_t)cgroup;
	attr.link_create.attach_type = (uint32_t)type;
	return (int)bpf(BPF_LINK_CREATE, &attr);
}

int main(int argc, char **argv)
{
	struct in_addr from, to;
	if (argc != 6 || inet_pton(AF_INET, argv[2], &from) != 1 || inet_pton(AF_INET, argv[4], &to) != 1) {
		fprintf(stderr, "usage: rewrite CGROUP FROM-ADDR FROM-PORT TO-ADDR TO-PORT\n");
		return 2;
	}
	uint32_t from_port = htons((uint16_t)atoi(argv[3])), to_port = htons((uint16_t)atoi(argv[5]));
	int cgroup = open(argv[1], O_RDONLY | O_DIRECTORY);
	int p4 = load(0, from.s_addr, from_port, to.s_addr, to_port);
	int p6 = load(1, 0, from_port, 0, to_port);
	if (cgroup < 0 || p4 < 0 || p6 < 0 || link_to(p4, cgroup, BPF_CGROUP_INET4_CONNECT) < 0 ||
	    link_to(p6, cgroup, BPF_CGROUP_INET6_CONNECT) < 0) {
		perror("rewrite");
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	for (;;)
		pause();
}
