/*
 * What the guard's two programs are built from: the registers and stack
 * slots they keep, and the blocks they share (prog_blocks.c: counting, the
 * namespace's values, bpf_bind(), whether the destination is local;
 * prog_local.c: what becomes of a local dial). programs.c puts them
 * together, once for an IPv4 dial and once for an IPv6 one.
 */
#ifndef NOSELFCONN_KERNEL_PROGRAMS_H
#define NOSELFCONN_KERNEL_PROGRAMS_H

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

/* Registers that keep their value across helper calls (R1-R5 do not). */
#define CTX R6	 /* the struct bpf_sock_addr */
#define PORT R7	 /* the destination port, host order */
#define DEST4 R8 /* IPv4 (or v4-mapped) destination, network order */
#define SRC4 R9	 /* the socket's own IPv4 address, 0 when unbound */

/* The stack, below R10. */
enum {
	FP_COOKIE = -8,	    /* u64 the network namespace's cookie */
	FP_KEY = -16,	    /* u32 a counter's index, for the lookup */
	FP_TRIAL = -12,	    /* u32 1 when a trial bind left the address set */
	FP_LOW = -24,	    /* u32 the range's low end */
	FP_CHOICES = -20,   /* u32 how many ports Q may be */
	FP_SPORT = -32,	    /* u32 the socket's bound port, host order, 0 if none */
	FP_IN_RANGE = -28,  /* u32 1 when the target is inside the range */
	FP_SOCKADDR = -64,  /* struct sockaddr_in or _in6 for bpf_bind() (32 bytes) */
	FP_TUPLE = -104,    /* struct bpf_sock_tuple for the listener (40 bytes) */
	FP_ADDR_KEY = -136, /* struct nsc_addr_key (32 bytes) */
	FP_DEST6 = -152,    /* the IPv6 destination (16 bytes) */
	FP_SRC6 = -168,	    /* the socket's own IPv6 address (16 bytes) */
	FP_FLAGS = -176,    /* u32 nsc_netns_value.flags */
	FP_HIGH = -172,	    /* u32 the range's high end */
	FP_EXACT = -180,    /* u32 1 when the destination is an address of the
			       namespace's own: the kernel dials it from itself */
	FP_CONFIG = -184,   /* u32 1 once the namespace's values are read */
	FP_CHOSEN_SRC = -188, /* u32 1 while the source bound in step 7 is the
				 guard's choice (FP_EXACT), not the socket's */
};

/* A field of a structure laid out on the stack at `base`. */
#define AT(base, type, field) ((int)(base) + (int)offsetof(type, field))

/* How the destination is written: an IPv4 socket's, a v4-mapped
 * destination of an IPv6 socket (the kernel dials it as IPv4), IPv6. */
enum dial_kind { DIAL_V4, DIAL_MAPPED, DIAL_V6 };

/* A program being written: the buffer, the maps it reads, and the kind of
 * dial and the exits of the body being written (prog_new_body()). `local`:
 * the destination is one of the namespace's; `local_exact`: it is one of
 * its addresses (FP_EXACT). */
struct program {
	struct nsc_asm *a;
	const struct nsc_guard_maps *maps;
	enum dial_kind kind;
	nsc_label pass, restore_pass, refuse, local, local_exact;
};

/* Whose address a sockaddr for bpf_bind() carries. */
enum bind_addr { ADDR_WILDCARD, ADDR_SOURCE, ADDR_DEST };

/* *(u32 *)(R10 + off) = value; uses R1. */
static inline void store_imm32(struct nsc_asm *a, int off, uint32_t value)
{
	mov32_imm(a, R1, value);
	store(a, BPF_W, R10, off, R1);
}

/* 16 bytes at `from` (stack) to `to` (stack); uses R1. */
static inline void copy16(struct nsc_asm *a, int to, int from)
{
	load(a, BPF_DW, R1, R10, from);
	store(a, BPF_DW, R10, to, R1);
	load(a, BPF_DW, R1, R10, from + 8);
	store(a, BPF_DW, R10, to + 8, R1);
}

/* prog_blocks.c */
void prog_count(struct program *p, enum nsc_count index);
void prog_read_netns(struct program *p);
void prog_build_sockaddr(struct program *p, enum nsc_reg port, enum bind_addr addr);
void prog_bind_sockaddr(struct program *p);
void prog_lookup_address(struct program *p);
void prog_trial_or_map(struct program *p, uint32_t nonlocal_flag);
void prog_new_body(struct program *p, enum dial_kind kind);
void prog_pass_exit(struct program *p);
void prog_other_port_passes(struct program *p);

/* prog_local.c: steps 5 to 7 and the exits, from p->local */
void prog_local_dial(struct program *p);

#endif
