/* The guard's assembler: see asm.h. */
#include "asm.h"

#include <string.h>

void nsc_asm_init(struct nsc_asm *a)
{
	memset(a, 0, sizeof(*a));
}

nsc_label nsc_label_new(struct nsc_asm *a)
{
	if (a->labels == NSC_ASM_MAX_LABELS) {
		a->overflow = true;
		return 0;
	}
	a->label_at[a->labels] = -1;
	return a->labels++;
}

void nsc_label_here(struct nsc_asm *a, nsc_label l)
{
	if (l < a->labels)
		a->label_at[l] = (int)a->count;
}

void nsc_emit(struct nsc_asm *a, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (a->count == NSC_ASM_MAX_INSNS) {
		a->overflow = true;
		return;
	}
	a->insns[a->count++] = (struct bpf_insn){ .code = code, .dst_reg = dst & 0xf,
						  .src_reg = src & 0xf, .off = off, .imm = imm };
}

void nsc_emit_jump(struct nsc_asm *a, uint8_t code, uint8_t dst, uint8_t src, int32_t imm,
		   nsc_label to)
{
	if (a->jump_count == NSC_ASM_MAX_INSNS) {
		a->overflow = true;
		return;
	}
	a->jumps[a->jump_count].insn = a->count;
	a->jumps[a->jump_count].label = to;
	a->jump_count++;
	nsc_emit(a, code, dst, src, 0, imm);
}

bool nsc_asm_finish(struct nsc_asm *a)
{
	if (a->overflow)
		return false;
	for (unsigned i = 0; i < a->jump_count; i++) {
		unsigned from = a->jumps[i].insn, label = a->jumps[i].label;
		if (label >= a->labels || a->label_at[label] < 0)
			return false;
		long off = (long)a->label_at[label] - (long)from - 1;
		if (off < INT16_MIN || off > INT16_MAX)
			return false;
		a->insns[from].off = (int16_t)off;
	}
	return true;
}
