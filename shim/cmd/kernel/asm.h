/*
 * A tiny assembler for the guard's BPF programs: instructions are appended
 * to a buffer, jumps name a label instead of an offset, and nsc_asm_finish()
 * writes each jump's offset once every label has its place. The helpers
 * below are named after what they do (mov, add, load, jump_if...), with the
 * registers by name (R0...R10), so a program reads top to bottom.
 */
#ifndef NOSELFCONN_KERNEL_ASM_H
#define NOSELFCONN_KERNEL_ASM_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stdint.h>

#define NSC_ASM_MAX_INSNS 1536
#define NSC_ASM_MAX_LABELS 256

enum nsc_reg { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

struct nsc_asm {
	struct bpf_insn insns[NSC_ASM_MAX_INSNS];
	unsigned count;
	int label_at[NSC_ASM_MAX_LABELS]; /* -1 until placed */
	unsigned labels;
	struct {
		unsigned insn, label;
	} jumps[NSC_ASM_MAX_INSNS];
	unsigned jump_count;
	bool overflow;
};

typedef unsigned nsc_label;

void nsc_asm_init(struct nsc_asm *a);
nsc_label nsc_label_new(struct nsc_asm *a);
/* The next instruction is where `l` jumps to. */
void nsc_label_here(struct nsc_asm *a, nsc_label l);
/* Every jump resolved; false when a label was never placed, a jump is out
 * of reach or the buffer overflowed. */
bool nsc_asm_finish(struct nsc_asm *a);

void nsc_emit(struct nsc_asm *a, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm);
void nsc_emit_jump(struct nsc_asm *a, uint8_t code, uint8_t dst, uint8_t src, int32_t imm,
		   nsc_label to);

/* dst = src, dst = imm (64-bit; imm sign-extends), dst = imm (32-bit: zero-extends) */
static inline void mov(struct nsc_asm *a, enum nsc_reg dst, enum nsc_reg src)
{
	nsc_emit(a, BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
static inline void mov_imm(struct nsc_asm *a, enum nsc_reg dst, int32_t imm)
{
	nsc_emit(a, BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
static inline void mov32_imm(struct nsc_asm *a, enum nsc_reg dst, uint32_t imm)
{
	nsc_emit(a, BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, (int32_t)imm);
}
/* dst op= imm / src, 64-bit or 32-bit (op: BPF_ADD, BPF_AND, BPF_RSH, BPF_MOD...) */
static inline void alu_imm(struct nsc_asm *a, uint8_t op, enum nsc_reg dst, int32_t imm)
{
	nsc_emit(a, BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}
static inline void alu(struct nsc_asm *a, uint8_t op, enum nsc_reg dst, enum nsc_reg src)
{
	nsc_emit(a, BPF_ALU64 | op | BPF_X, dst, src, 0, 0);
}
static inline void alu32(struct nsc_asm *a, uint8_t op, enum nsc_reg dst, enum nsc_reg src)
{
	nsc_emit(a, BPF_ALU | op | BPF_X, dst, src, 0, 0);
}
/* dst = be16/be32(dst): network order to host order and back, zero-extended */
static inline void to_be(struct nsc_asm *a, enum nsc_reg dst, int32_t bits)
{
	nsc_emit(a, BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, bits);
}
/* dst = *(size *)(src + off); *(size *)(dst + off) = src (size: BPF_B, BPF_H, BPF_W, BPF_DW) */
static inline void load(struct nsc_asm *a, uint8_t size, enum nsc_reg dst, enum nsc_reg src,
			int off)
{
	nsc_emit(a, BPF_LDX | BPF_MEM | size, dst, src, (int16_t)off, 0);
}
static inline void store(struct nsc_asm *a, uint8_t size, enum nsc_reg dst, int off,
			 enum nsc_reg src)
{
	nsc_emit(a, BPF_STX | BPF_MEM | size, dst, src, (int16_t)off, 0);
}
/* *(u64 *)(dst + off) += src, atomically */
static inline void atomic_add64(struct nsc_asm *a, enum nsc_reg dst, int off, enum nsc_reg src)
{
	nsc_emit(a, BPF_STX | BPF_ATOMIC | BPF_DW, dst, src, (int16_t)off, BPF_ADD);
}
/* dst = the map whose descriptor is fd (two instructions) */
static inline void load_map(struct nsc_asm *a, enum nsc_reg dst, int fd)
{
	/* BPF_LD and BPF_IMM are both 0: the code is BPF_DW alone, spelled out */
	nsc_emit(a, BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd); // NOLINT(misc-redundant-expression)
	nsc_emit(a, 0, 0, 0, 0, 0);
}
static inline void call(struct nsc_asm *a, int32_t helper)
{
	nsc_emit(a, BPF_JMP | BPF_CALL, 0, 0, 0, helper);
}
static inline void exit_insn(struct nsc_asm *a)
{
	nsc_emit(a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}
static inline void jump(struct nsc_asm *a, nsc_label to)
{
	nsc_emit_jump(a, BPF_JMP | BPF_JA, 0, 0, 0, to);
}
/* if (dst op imm) goto to: 64-bit compare; the immediate sign-extends, so
 * never compare a 32-bit value with an immediate above 0x7fffffff here:
 * jump32_if does it right (0xffff0000 would never match). */
static inline void jump_if(struct nsc_asm *a, uint8_t op, enum nsc_reg dst, int32_t imm, nsc_label to)
{
	nsc_emit_jump(a, BPF_JMP | op | BPF_K, dst, 0, imm, to);
}
static inline void jump32_if(struct nsc_asm *a, uint8_t op, enum nsc_reg dst, uint32_t imm,
			     nsc_label to)
{
	nsc_emit_jump(a, BPF_JMP32 | op | BPF_K, dst, 0, (int32_t)imm, to);
}
static inline void jump_if_reg(struct nsc_asm *a, uint8_t op, enum nsc_reg dst, enum nsc_reg src,
			       nsc_label to)
{
	nsc_emit_jump(a, BPF_JMP | op | BPF_X, dst, src, 0, to);
}

#endif
