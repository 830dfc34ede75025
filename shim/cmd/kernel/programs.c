/*
 * The guard's two programs, cgroup/connect4 and cgroup/connect6, written
 * with the assembler of asm.h. They run in the kernel on every connect()
 * of a process in the cgroup, before the source port is chosen (io_uring's,
 * TCP Fast Open's and 32-bit system calls' included). What they do, in
 * order (see shim/doc/design-kernel.md for why):
 *
 *   1. Only TCP (and MPTCP) stream sockets; port 0 and UDP pass untouched.
 *   2. The destination as the kernel will see it: 0.0.0.0 is the socket's
 *      own address or 127.0.0.1, :: is ::1.
 *   3. A socket bound to another address or another port cannot meet
 *      itself: untouched.
 *   4. Is the destination one of this namespace's own addresses? 127/8 and
 *      ::1 are; an address the socket is bound to is; then the namespace's
 *      addresses user space keeps (nsc_addrs); then a trial bpf_bind() to it
 *      with port 0 where one can tell (bound: local; EADDRNOTAVAIL: not);
 *      where it cannot (a bound socket of the IPv6 family, a namespace that
 *      allows non-local binds, a link-local address), the map's word: a
 *      miss is remote where user space keeps the namespace's addresses
 *      whole, local where it does not. Remote: untouched.
 *   5. A socket already bound to the target port on a local destination:
 *      the destination port becomes 0, so the kernel refuses the dial
 *      through its own path (ECONNREFUSED, or EINPROGRESS and then it).
 *   6. A listener holds the port: the kernel never picks a listener's port
 *      for a dial, so it is untouched.
 *   7. Else the socket is bound to an address (its own; else the
 *      destination, where that is one of the namespace's addresses the
 *      kernel dials from themselves; else the wildcard) and a random port
 *      Q of the namespace's range other than the target: it can no longer
 *      meet itself, and the dial is refused by the kernel as it would
 *      have been. No port free after a few tries:
 *      refused as in 5.
 * Every destination port is guarded, not only the range's: the range can
 * change under a running dial. Steps 3 and 4 are in prog_blocks.c, 5 to 7
 * in prog_local.c; here, what each kind of dial reads and how it goes
 * through them.
 */
#include "programs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "compat.h"

/*
 * An IPv4 dial (DIAL_V4, or DIAL_MAPPED from connect6), DEST4 and SRC4 as
 * the caller read them.
 */
static void body_v4(struct program *p, enum dial_kind kind)
{
	struct nsc_asm *a = p->a;
	prog_new_body(p, kind);
	nsc_label have_dest = nsc_label_new(a), unbound = nsc_label_new(a);

	/* 0.0.0.0: the kernel dials the socket's own address, or 127.0.0.1 */
	jump_if(a, BPF_JNE, DEST4, 0, have_dest);
	mov(a, DEST4, SRC4);
	jump_if(a, BPF_JNE, DEST4, 0, have_dest);
	mov32_imm(a, DEST4, htonl(INADDR_LOOPBACK));
	nsc_label_here(a, have_dest);
	/* Step 3: a source address other than the destination, or another port */
	jump_if(a, BPF_JEQ, SRC4, 0, unbound);
	jump_if_reg(a, BPF_JNE, SRC4, DEST4, p->pass);
	nsc_label_here(a, unbound);
	prog_other_port_passes(p);

	/* Step 4 */
	jump32_if(a, BPF_JEQ, DEST4, htonl(INADDR_LOOPBACK), p->local_exact);
	mov(a, R1, DEST4);
	to_be(a, R1, 32);
	alu_imm(a, BPF_RSH, R1, 24);
	jump_if(a, BPF_JEQ, R1, 127, p->local); /* 127/8 */
	jump_if(a, BPF_JNE, SRC4, 0, p->local); /* its own address */
	prog_read_netns(p);
	prog_lookup_address(p);
	prog_trial_or_map(p, NSC_NETNS_NONLOCAL4);

	prog_local_dial(p);
	prog_pass_exit(p);
}

/* Whether the 16 bytes at `off` (stack) are all zero: goto yes. */
static void if_zero16(struct nsc_asm *a, int off, nsc_label yes)
{
	nsc_label no = nsc_label_new(a);
	load(a, BPF_DW, R1, R10, off);
	jump_if(a, BPF_JNE, R1, 0, no);
	load(a, BPF_DW, R1, R10, off + 8);
	jump_if(a, BPF_JEQ, R1, 0, yes);
	nsc_label_here(a, no);
}

/* Whether the 16 bytes at `off` hold a v4-mapped address: goto yes. */
static void if_mapped(struct nsc_asm *a, int off, nsc_label yes)
{
	nsc_label no = nsc_label_new(a);
	load(a, BPF_DW, R1, R10, off);
	jump_if(a, BPF_JNE, R1, 0, no);
	load(a, BPF_W, R1, R10, off + 8);
	jump32_if(a, BPF_JEQ, R1, htonl(0xffff), yes); /* 32-bit: no sign extension */
	nsc_label_here(a, no);
}

/* Whether the 16 bytes at `x` and `y` differ: goto yes. */
static void if_differ16(struct nsc_asm *a, int x, int y, nsc_label yes)
{
	for (int off = 0; off < 16; off += 8) {
		load(a, BPF_DW, R1, R10, x + off);
		load(a, BPF_DW, R2, R10, y + off);
		jump_if_reg(a, BPF_JNE, R1, R2, yes);
	}
}

/* An IPv6 dial: FP_DEST6 and FP_SRC6 as read, neither v4-mapped. */
static void body_v6(struct program *p)
{
	struct nsc_asm *a = p->a;
	prog_new_body(p, DIAL_V6);
	nsc_label have_dest = nsc_label_new(a), unbound = nsc_label_new(a);
	nsc_label not_loopback = nsc_label_new(a);

	/* ::: the kernel dials ::1 */
	nsc_label any = nsc_label_new(a);
	if_zero16(a, FP_DEST6, any);
	jump(a, have_dest);
	nsc_label_here(a, any);
	mov32_imm(a, R1, htonl(1));
	store(a, BPF_W, R10, FP_DEST6 + 12, R1);
	nsc_label_here(a, have_dest);
	/* Step 3 */
	if_zero16(a, FP_SRC6, unbound);
	if_differ16(a, FP_SRC6, FP_DEST6, p->pass);
	nsc_label_here(a, unbound);
	prog_other_port_passes(p);

	/* Step 4 */
	load(a, BPF_DW, R1, R10, FP_DEST6);
	jump_if(a, BPF_JNE, R1, 0, not_loopback);
	load(a, BPF_W, R1, R10, FP_DEST6 + 8);
	jump_if(a, BPF_JNE, R1, 0, not_loopback);
	load(a, BPF_W, R1, R10, FP_DEST6 + 12);
	jump32_if(a, BPF_JEQ, R1, htonl(1), p->local_exact); /* ::1 */
	nsc_label_here(a, not_loopback);
	load(a, BPF_DW, R1, R10, FP_SRC6);
	jump_if(a, BPF_JNE, R1, 0, p->local); /* its own address */
	load(a, BPF_DW, R1, R10, FP_SRC6 + 8);
	jump_if(a, BPF_JNE, R1, 0, p->local);
	prog_read_netns(p);
	prog_lookup_address(p);
	prog_trial_or_map(p, NSC_NETNS_NONLOCAL6);

	prog_local_dial(p);
	prog_pass_exit(p);
}

/* Both programs start here: R1 is the context. */
static void prologue(struct program *p, nsc_label pass)
{
	struct nsc_asm *a = p->a;
	mov(a, CTX, R1);
	load(a, BPF_W, R1, CTX, offsetof(struct bpf_sock_addr, type));
	jump_if(a, BPF_JNE, R1, SOCK_STREAM, pass);
	nsc_label tcp = nsc_label_new(a);
	load(a, BPF_W, R1, CTX, offsetof(struct bpf_sock_addr, protocol));
	jump_if(a, BPF_JEQ, R1, IPPROTO_TCP, tcp);
	jump_if(a, BPF_JNE, R1, IPPROTO_MPTCP, pass);
	nsc_label_here(a, tcp);
	load(a, BPF_W, PORT, CTX, offsetof(struct bpf_sock_addr, user_port));
	to_be(a, PORT, 16);
	jump_if(a, BPF_JEQ, PORT, 0, pass);
	/* What is read before it is written, on some path */
	mov_imm(a, R1, 0);
	store(a, BPF_W, R10, FP_TRIAL, R1);
	store(a, BPF_W, R10, FP_CONFIG, R1);
	store(a, BPF_W, R10, FP_FLAGS, R1);
	store(a, BPF_W, R10, FP_EXACT, R1);
	load(a, BPF_DW, R1, CTX, offsetof(struct bpf_sock_addr, sk));
	load(a, BPF_W, R2, R1, offsetof(struct bpf_sock, src_port));
	store(a, BPF_W, R10, FP_SPORT, R2);
}

static void connect4(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label pass = nsc_label_new(a);
	prologue(p, pass);
	load(a, BPF_W, DEST4, CTX, offsetof(struct bpf_sock_addr, user_ip4));
	load(a, BPF_DW, R1, CTX, offsetof(struct bpf_sock_addr, sk));
	load(a, BPF_W, SRC4, R1, offsetof(struct bpf_sock, src_ip4));
	body_v4(p, DIAL_V4);
	nsc_label_here(a, pass);
	mov_imm(a, R0, 1);
	exit_insn(a);
}

static void connect6(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label pass = nsc_label_new(a), mapped = nsc_label_new(a), v4_body = nsc_label_new(a);
	nsc_label any_dest = nsc_label_new(a), not_any = nsc_label_new(a);
	prologue(p, pass);
	load(a, BPF_DW, R1, CTX, offsetof(struct bpf_sock_addr, sk));
	for (int w = 0; w < 16; w += 4) {
		load(a, BPF_W, R2, CTX, (int)offsetof(struct bpf_sock_addr, user_ip6) + w);
		store(a, BPF_W, R10, FP_DEST6 + w, R2);
		load(a, BPF_W, R2, R1, (int)offsetof(struct bpf_sock, src_ip6) + w);
		store(a, BPF_W, R10, FP_SRC6 + w, R2);
	}
	if_mapped(a, FP_DEST6, mapped);
	/* ::, from a socket bound to a v4-mapped address: 127.0.0.1 */
	if_zero16(a, FP_DEST6, any_dest);
	jump(a, not_any);
	nsc_label_here(a, any_dest);
	mov32_imm(a, DEST4, htonl(INADDR_LOOPBACK));
	if_mapped(a, FP_SRC6, v4_body);
	nsc_label_here(a, not_any);
	body_v6(p);

	/* A v4-mapped destination: the kernel dials it as IPv4, from the
	 * socket's v4-mapped address or the wildcard; a socket bound to an
	 * IPv6 address cannot dial it at all. */
	nsc_label_here(a, mapped);
	load(a, BPF_W, DEST4, R10, FP_DEST6 + 12);
	nsc_label_here(a, v4_body);
	nsc_label src_mapped = nsc_label_new(a), have_src = nsc_label_new(a);
	mov_imm(a, SRC4, 0);
	if_mapped(a, FP_SRC6, src_mapped);
	if_zero16(a, FP_SRC6, have_src);
	jump(a, pass);
	nsc_label_here(a, src_mapped);
	load(a, BPF_W, SRC4, R10, FP_SRC6 + 12);
	nsc_label_here(a, have_src);
	body_v4(p, DIAL_MAPPED);

	nsc_label_here(a, pass);
	mov_imm(a, R0, 1);
	exit_insn(a);
}

bool nsc_guard_program(struct nsc_asm *a, int family, const struct nsc_guard_maps *maps)
{
	struct program p = { .a = a, .maps = maps };
	nsc_asm_init(a);
	if (family == AF_INET)
		connect4(&p);
	else
		connect6(&p);
	return nsc_asm_finish(a);
}
