/*
 * Steps 5 to 7 of the guard's programs (programs.c), once the destination
 * is local: refused when the socket is bound to the target port already,
 * untouched when a listener holds it, else bound first to another port Q
 * of the namespace's range.
 */
#include "programs.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "compat.h"

#define STEER_TRIES 4

/* Step 6: a listener on the destination (looked up as a SYN to it would
 * be): untouched, less the trial's address. */
static void check_listener(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label none = nsc_label_new(a);
	mov_imm(a, R1, 0);
	for (int off = 0; off < 40; off += 8)
		store(a, BPF_DW, R10, FP_TUPLE + off, R1);
	if (p->kind == DIAL_V6) {
		copy16(a, AT(FP_TUPLE, struct bpf_sock_tuple, ipv6.saddr), FP_DEST6);
		copy16(a, AT(FP_TUPLE, struct bpf_sock_tuple, ipv6.daddr), FP_DEST6);
		mov(a, R1, PORT); /* (copy16 uses R1) */
		to_be(a, R1, 16);
		store(a, BPF_H, R10, AT(FP_TUPLE, struct bpf_sock_tuple, ipv6.dport), R1);
		mov_imm(a, R3, sizeof(((struct bpf_sock_tuple *)0)->ipv6));
	} else {
		mov(a, R1, PORT);
		to_be(a, R1, 16);
		store(a, BPF_W, R10, AT(FP_TUPLE, struct bpf_sock_tuple, ipv4.saddr), DEST4);
		store(a, BPF_W, R10, AT(FP_TUPLE, struct bpf_sock_tuple, ipv4.daddr), DEST4);
		store(a, BPF_H, R10, AT(FP_TUPLE, struct bpf_sock_tuple, ipv4.dport), R1);
		mov_imm(a, R3, sizeof(((struct bpf_sock_tuple *)0)->ipv4));
	}
	mov(a, R1, CTX);
	mov(a, R2, R10);
	alu_imm(a, BPF_ADD, R2, FP_TUPLE);
	mov_imm(a, R4, -1); /* BPF_F_CURRENT_NETNS: the socket's namespace */
	mov_imm(a, R5, 0);
	call(a, BPF_FUNC_sk_lookup_tcp);
	jump_if(a, BPF_JEQ, R0, 0, none);
	mov(a, R1, R0);
	call(a, BPF_FUNC_sk_release);
	prog_count(p, NSC_COUNT_LISTENER);
	jump(a, p->restore_pass);
	nsc_label_here(a, none);
}

/* After a failed bind: an address the guard chose and the kernel will not
 * bind (EADDRNOTAVAIL) is dropped, so the next tries bind the wildcard. */
static void give_up_chosen_source(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label keep = nsc_label_new(a);
	jump32_if(a, BPF_JNE, R0, (uint32_t)-EADDRNOTAVAIL, keep);
	load(a, BPF_W, R1, R10, FP_CHOSEN_SRC);
	jump_if(a, BPF_JEQ, R1, 0, keep);
	store_imm32(a, FP_CHOSEN_SRC, 0);
	if (p->kind == DIAL_V6) {
		mov_imm(a, R1, 0);
		store(a, BPF_DW, R10, FP_SRC6, R1);
		store(a, BPF_DW, R10, FP_SRC6 + 8, R1);
	} else {
		mov_imm(a, SRC4, 0);
	}
	nsc_label_here(a, keep);
}

/*
 * Step 7: bind (the socket's address, Q), Q drawn at random from the
 * namespace's range less the target; a few tries, as a port may be taken.
 * An unbound socket gets the address the kernel would dial from where that
 * is certain (FP_EXACT: one of the namespace's addresses, which its local
 * route gives as the source, and no device bound), else the wildcard. A
 * wildcard-bound socket is moved to another bind bucket when connect()
 * sets its address (bhash2): 4 points of a refused dial's rate. An address
 * the kernel will not bind (EADDRNOTAVAIL: an IPv6 one still tentative, one
 * just removed) is given up for the wildcard, as the kernel would not dial
 * from it either.
 */
static void steer(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label outside = nsc_label_new(a), steered = nsc_label_new(a);
	prog_read_netns(p);
	load(a, BPF_W, R1, R10, FP_LOW);
	load(a, BPF_W, R2, R10, FP_HIGH);
	jump_if_reg(a, BPF_JGT, R1, R2, p->refuse); /* no range: never from nsc_netns */
	mov(a, R3, R2);
	alu(a, BPF_SUB, R3, R1);
	alu_imm(a, BPF_ADD, R3, 1); /* ports in the range */
	mov_imm(a, R4, 0);
	jump_if_reg(a, BPF_JLT, PORT, R1, outside);
	jump_if_reg(a, BPF_JGT, PORT, R2, outside);
	mov_imm(a, R4, 1);
	alu_imm(a, BPF_SUB, R3, 1); /* the target is not a choice */
	nsc_label_here(a, outside);
	store(a, BPF_W, R10, FP_IN_RANGE, R4);
	store(a, BPF_W, R10, FP_CHOICES, R3);
	jump_if(a, BPF_JEQ, R3, 0, p->refuse); /* the range is the target alone */
	nsc_label wildcard = nsc_label_new(a);
	store_imm32(a, FP_CHOSEN_SRC, 0);
	load(a, BPF_W, R1, R10, FP_EXACT);
	jump_if(a, BPF_JEQ, R1, 0, wildcard);
	load(a, BPF_DW, R1, CTX, offsetof(struct bpf_sock_addr, sk));
	load(a, BPF_W, R1, R1, offsetof(struct bpf_sock, bound_dev_if));
	jump_if(a, BPF_JNE, R1, 0, wildcard);
	if (p->kind == DIAL_V6)
		copy16(a, FP_SRC6, FP_DEST6);
	else
		mov(a, SRC4, DEST4);
	store_imm32(a, FP_CHOSEN_SRC, 1);
	nsc_label_here(a, wildcard);
	for (int i = 0; i < STEER_TRIES; i++) {
		nsc_label below = nsc_label_new(a);
		call(a, BPF_FUNC_get_prandom_u32);
		load(a, BPF_W, R1, R10, FP_CHOICES);
		alu32(a, BPF_MOD, R0, R1);
		load(a, BPF_W, R1, R10, FP_LOW);
		alu(a, BPF_ADD, R0, R1);
		load(a, BPF_W, R1, R10, FP_IN_RANGE);
		jump_if(a, BPF_JEQ, R1, 0, below);
		jump_if_reg(a, BPF_JLT, R0, PORT, below);
		alu_imm(a, BPF_ADD, R0, 1); /* skip over the target */
		nsc_label_here(a, below);
		mov(a, R5, R0);
		prog_build_sockaddr(p, R5, ADDR_SOURCE);
		prog_bind_sockaddr(p);
		jump_if(a, BPF_JEQ, R0, 0, steered);
		give_up_chosen_source(p);
	}
	jump(a, p->refuse);
	nsc_label_here(a, steered);
	prog_count(p, NSC_COUNT_STEERED);
	jump(a, p->pass);
}

/* Steps 5 to 7 and the exits, once the destination is known to be local. */
void prog_local_dial(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label_here(a, p->local_exact);
	store_imm32(a, FP_EXACT, 1);
	nsc_label_here(a, p->local);
	load(a, BPF_W, R1, R10, FP_SPORT);
	jump_if(a, BPF_JNE, R1, 0, p->refuse); /* bound to the target port itself */
	check_listener(p);
	steer(p);

	/* Refused: the kernel dials port 0 and gets its own refusal. (6.1's
	 * verifier takes no BPF_ST into the context: store a register.) */
	nsc_label_here(a, p->refuse);
	prog_count(p, NSC_COUNT_REFUSED);
	mov_imm(a, R1, 0);
	store(a, BPF_W, CTX, offsetof(struct bpf_sock_addr, user_port), R1);

	/* The socket's address back as it was, where a trial bind set it. */
	nsc_label_here(a, p->restore_pass);
	load(a, BPF_W, R1, R10, FP_TRIAL);
	jump_if(a, BPF_JEQ, R1, 0, p->pass);
	prog_build_sockaddr(p, R10, ADDR_WILDCARD);
	prog_bind_sockaddr(p);
}
