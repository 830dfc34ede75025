/*
 * The blocks both of the guard's programs use (the steps: programs.c):
 * counting, the namespace's values, a sockaddr for bpf_bind(), and what
 * steps 3 and 4 ask: whether the socket may meet itself at all, whether the
 * destination is one of its namespace's addresses.
 */
#include "programs.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "compat.h"

/* counts[index] += 1 (per CPU). */
void prog_count(struct program *p, enum nsc_count index)
{
	struct nsc_asm *a = p->a;
	nsc_label done = nsc_label_new(a);
	store_imm32(a, FP_KEY, index);
	load_map(a, R1, p->maps->counts);
	mov(a, R2, R10);
	alu_imm(a, BPF_ADD, R2, FP_KEY);
	call(a, BPF_FUNC_map_lookup_elem);
	jump_if(a, BPF_JEQ, R0, 0, done);
	mov_imm(a, R1, 1);
	atomic_add64(a, R0, 0, R1);
	nsc_label_here(a, done);
}

/* The namespace's cookie, range and flags into the stack, once: the
 * defaults where user space has not filled nsc_netns for it. */
void prog_read_netns(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label done = nsc_label_new(a);
	load(a, BPF_W, R1, R10, FP_CONFIG);
	jump_if(a, BPF_JNE, R1, 0, done);
	store_imm32(a, FP_CONFIG, 1);
	mov(a, R1, CTX);
	call(a, BPF_FUNC_get_netns_cookie);
	store(a, BPF_DW, R10, FP_COOKIE, R0);
	store_imm32(a, FP_LOW, NSC_DEFAULT_LOW);
	store_imm32(a, FP_HIGH, NSC_DEFAULT_HIGH);
	load_map(a, R1, p->maps->netns);
	mov(a, R2, R10);
	alu_imm(a, BPF_ADD, R2, FP_COOKIE);
	call(a, BPF_FUNC_map_lookup_elem);
	jump_if(a, BPF_JEQ, R0, 0, done);
	load(a, BPF_H, R1, R0, offsetof(struct nsc_netns_value, low));
	store(a, BPF_W, R10, FP_LOW, R1);
	load(a, BPF_H, R1, R0, offsetof(struct nsc_netns_value, high));
	store(a, BPF_W, R10, FP_HIGH, R1);
	load(a, BPF_W, R1, R0, offsetof(struct nsc_netns_value, flags));
	store(a, BPF_W, R10, FP_FLAGS, R1);
	nsc_label_here(a, done);
}

/*
 * The sockaddr for bpf_bind() at FP_SOCKADDR, with port `port` (a register
 * holding it in host order; R10 for port 0), in the form the socket takes:
 * sockaddr_in for IPv4, sockaddr_in6 otherwise (v4-mapped for an address of
 * a DIAL_MAPPED dial, :: for its wildcard). Leaves its length in R3.
 */
void prog_build_sockaddr(struct program *p, enum nsc_reg port, enum bind_addr addr)
{
	struct nsc_asm *a = p->a;
	mov_imm(a, R1, 0);
	for (int off = 0; off < 32; off += 8)
		store(a, BPF_DW, R10, FP_SOCKADDR + off, R1);
	mov32_imm(a, R1, p->kind == DIAL_V4 ? AF_INET : AF_INET6);
	store(a, BPF_H, R10, FP_SOCKADDR, R1); /* sin_family, sin6_family */
	if (port != R10) {
		mov(a, R1, port);
		to_be(a, R1, 16);
		store(a, BPF_H, R10, FP_SOCKADDR + 2, R1); /* sin_port, sin6_port */
	}
	if (p->kind == DIAL_V6) {
		if (addr != ADDR_WILDCARD)
			copy16(a, AT(FP_SOCKADDR, struct sockaddr_in6, sin6_addr),
			       addr == ADDR_SOURCE ? FP_SRC6 : FP_DEST6);
		mov_imm(a, R3, sizeof(struct sockaddr_in6));
		return;
	}
	if (addr != ADDR_WILDCARD) {
		enum nsc_reg v4 = addr == ADDR_SOURCE ? SRC4 : DEST4;
		int at = p->kind == DIAL_V4
				     ? AT(FP_SOCKADDR, struct sockaddr_in, sin_addr)
				     : AT(FP_SOCKADDR, struct sockaddr_in6, sin6_addr) + 12;
		store(a, BPF_W, R10, at, v4);
		if (p->kind == DIAL_MAPPED) {
			/* ::ffff:a.b.c.d, unless a.b.c.d is 0 (then ::, the wildcard) */
			nsc_label wildcard = nsc_label_new(a);
			jump_if(a, BPF_JEQ, v4, 0, wildcard);
			mov32_imm(a, R1, htonl(0xffff));
			store(a, BPF_W, R10, at - 4, R1);
			nsc_label_here(a, wildcard);
		}
	}
	mov_imm(a, R3, p->kind == DIAL_V4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

/* R0 = bpf_bind(ctx, FP_SOCKADDR, R3) */
void prog_bind_sockaddr(struct program *p)
{
	mov(p->a, R1, CTX);
	mov(p->a, R2, R10);
	alu_imm(p->a, BPF_ADD, R2, FP_SOCKADDR);
	call(p->a, BPF_FUNC_bind);
}

/* Whether nsc_addrs holds the destination for this namespace: goto
 * local_exact (local for an IPv6 link-local one, which binds only with the
 * device its scope id names, and the context does not carry it). */
void prog_lookup_address(struct program *p)
{
	struct nsc_asm *a = p->a;
	mov_imm(a, R1, 0);
	for (int off = 0; off < 32; off += 8)
		store(a, BPF_DW, R10, FP_ADDR_KEY + off, R1);
	load(a, BPF_DW, R1, R10, FP_COOKIE);
	store(a, BPF_DW, R10, FP_ADDR_KEY, R1);
	store_imm32(a, FP_ADDR_KEY + 8, p->kind == DIAL_V6 ? AF_INET6 : AF_INET);
	if (p->kind == DIAL_V6)
		copy16(a, FP_ADDR_KEY + 16, FP_DEST6);
	else
		store(a, BPF_W, R10, FP_ADDR_KEY + 16, DEST4);
	load_map(a, R1, p->maps->addrs);
	mov(a, R2, R10);
	alu_imm(a, BPF_ADD, R2, FP_ADDR_KEY);
	call(a, BPF_FUNC_map_lookup_elem);
	if (p->kind != DIAL_V6) {
		jump_if(a, BPF_JNE, R0, 0, p->local_exact);
		return;
	}
	nsc_label miss = nsc_label_new(a);
	jump_if(a, BPF_JEQ, R0, 0, miss);
	load(a, BPF_B, R1, R10, FP_DEST6);
	jump_if(a, BPF_JNE, R1, 0xfe, p->local_exact);
	load(a, BPF_B, R1, R10, FP_DEST6 + 1);
	alu_imm(a, BPF_AND, R1, 0xc0);
	jump_if(a, BPF_JNE, R1, 0x80, p->local_exact); /* not fe80::/10 */
	jump(a, p->local);
	nsc_label_here(a, miss);
}

/*
 * Step 4's trial: bind the destination's address with port 0 (no port is
 * taken), and read the answer as __inet_bind and __inet6_bind give it.
 * Bound: local (the address is put back before the dial goes on,
 * restore_pass). EADDRNOTAVAIL: not local, untouched. IPv4's EINVAL is
 * "already bound", checked after the address: local. Any other error tells
 * nothing (IPv6's EINVAL: a link-local address with no device to bind it
 * to, as the scope id of the dial is not in the context; ENODEV...): goto
 * undecided.
 */
static void trial_bind(struct program *p, nsc_label undecided)
{
	struct nsc_asm *a = p->a;
	nsc_label local = nsc_label_new(a), bound = nsc_label_new(a);
	prog_build_sockaddr(p, R10, ADDR_DEST);
	prog_bind_sockaddr(p);
	jump_if(a, BPF_JEQ, R0, 0, bound);
	jump32_if(a, BPF_JEQ, R0, (uint32_t)-EADDRNOTAVAIL, p->pass);
	if (p->kind == DIAL_V4)
		jump32_if(a, BPF_JEQ, R0, (uint32_t)-EINVAL, local);
	jump(a, undecided);
	nsc_label_here(a, bound);
	store_imm32(a, FP_TRIAL, 1);
	nsc_label_here(a, local);
	prog_count(p, NSC_COUNT_TRIAL);
	jump(a, p->local);
}

/*
 * Step 4's end, where neither the fixed ranges nor the map found the
 * destination: a trial bind where it can tell, else the map's word (a
 * namespace whose addresses user space keeps: a miss says remote; one it
 * does not: local, to be safe). No trial where non-local binds are allowed
 * (it would prove nothing), nor for a bound socket of the IPv6 family, a
 * v4-mapped dial's included: __inet6_bind checks "already bound" before the
 * address. (IPv4's __inet_bind checks the address first.)
 */
void prog_trial_or_map(struct program *p, uint32_t nonlocal_flag)
{
	struct nsc_asm *a = p->a;
	nsc_label undecided = nsc_label_new(a);
	load(a, BPF_W, R1, R10, FP_FLAGS);
	alu_imm(a, BPF_AND, R1, (int32_t)nonlocal_flag);
	jump_if(a, BPF_JNE, R1, 0, undecided);
	if (p->kind != DIAL_V4) {
		load(a, BPF_W, R1, R10, FP_SPORT);
		jump_if(a, BPF_JNE, R1, 0, undecided);
	}
	trial_bind(p, undecided);
	nsc_label_here(a, undecided);
	load(a, BPF_W, R1, R10, FP_FLAGS);
	alu_imm(a, BPF_AND, R1, NSC_NETNS_KNOWN);
	jump_if(a, BPF_JNE, R1, 0, p->pass);
	jump(a, p->local);
}

/* A body's own labels: where it passes, refuses, finds the destination local. */
void prog_new_body(struct program *p, enum dial_kind kind)
{
	p->kind = kind;
	p->pass = nsc_label_new(p->a);
	p->restore_pass = nsc_label_new(p->a);
	p->refuse = nsc_label_new(p->a);
	p->local = nsc_label_new(p->a);
	p->local_exact = nsc_label_new(p->a);
}

/* The dial goes on as it is. */
void prog_pass_exit(struct program *p)
{
	nsc_label_here(p->a, p->pass);
	mov_imm(p->a, R0, 1);
	exit_insn(p->a);
}

/* Step 3's port half: bound to a port other than the target: untouched. */
void prog_other_port_passes(struct program *p)
{
	nsc_label unbound = nsc_label_new(p->a);
	load(p->a, BPF_W, R1, R10, FP_SPORT);
	jump_if(p->a, BPF_JEQ, R1, 0, unbound);
	jump_if_reg(p->a, BPF_JNE, R1, PORT, p->pass);
	nsc_label_here(p->a, unbound);
}
