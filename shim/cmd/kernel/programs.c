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
 *      with port 0 (EADDRNOTAVAIL: not local), unless the namespace allows
 *      non-local binds, where a trial proves nothing. Remote: untouched.
 *   5. A socket already bound to the target port on a local destination:
 *      the destination port becomes 0, so the kernel refuses the dial
 *      through its own path (ECONNREFUSED, or EINPROGRESS and then it).
 *   6. A listener holds the port: the kernel never picks a listener's port
 *      for a dial, so it is untouched.
 *   7. Else the socket is bound to its address (the wildcard if it had
 *      none) and a random port Q of the namespace's range other than the
 *      target: it can no longer meet itself, and the dial is refused by
 *      the kernel as it would have been. No port free after a few tries:
 *      refused as in 5.
 * Every destination port is guarded, not only the range's: the range can
 * change under a running dial.
 */
#include "kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "compat.h"

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
	FP_CONFIG = -184,   /* u32 1 once the namespace's values are read */
};

#define STEER_TRIES 4

/* A field of a structure laid out on the stack at `base`. */
#define AT(base, type, field) ((int)(base) + (int)offsetof(type, field))

/* How the destination is written: an IPv4 socket's, a v4-mapped
 * destination of an IPv6 socket (the kernel dials it as IPv4), IPv6. */
enum dial_kind { DIAL_V4, DIAL_MAPPED, DIAL_V6 };

struct program {
	struct nsc_asm *a;
	const struct nsc_guard_maps *maps;
	enum dial_kind kind;
	nsc_label pass, restore_pass, refuse, local;
};

static void store_imm32(struct nsc_asm *a, int off, uint32_t value)
{
	mov32_imm(a, R1, value);
	store(a, BPF_W, R10, off, R1);
}

/* counts[index] += 1 (per CPU). */
static void count(struct program *p, enum nsc_count index)
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
static void read_netns(struct program *p)
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

/* 16 bytes at `from` (stack) to `to` (stack). */
static void copy16(struct nsc_asm *a, int to, int from)
{
	load(a, BPF_DW, R1, R10, from);
	store(a, BPF_DW, R10, to, R1);
	load(a, BPF_DW, R1, R10, from + 8);
	store(a, BPF_DW, R10, to + 8, R1);
}

/* Whose address a sockaddr for bpf_bind() carries. */
enum bind_addr { ADDR_WILDCARD, ADDR_SOURCE, ADDR_DEST };

/*
 * The sockaddr for bpf_bind() at FP_SOCKADDR, with port `port` (a register
 * holding it in host order; R10 for port 0), in the form the socket takes: sockaddr_in for IPv4, sockaddr_in6 (v4-mapped for
 * an address of a DIAL_MAPPED dial, :: for its wildcard) otherwise. Leaves
 * its length in R3.
 */
static void build_sockaddr(struct program *p, enum nsc_reg port, enum bind_addr addr)
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
static void bind_sockaddr(struct program *p)
{
	mov(p->a, R1, CTX);
	mov(p->a, R2, R10);
	alu_imm(p->a, BPF_ADD, R2, FP_SOCKADDR);
	call(p->a, BPF_FUNC_bind);
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
	build_sockaddr(p, R10, ADDR_DEST);
	bind_sockaddr(p);
	jump_if(a, BPF_JEQ, R0, 0, bound);
	jump32_if(a, BPF_JEQ, R0, (uint32_t)-EADDRNOTAVAIL, p->pass);
	if (p->kind == DIAL_V4)
		jump32_if(a, BPF_JEQ, R0, (uint32_t)-EINVAL, local);
	jump(a, undecided);
	nsc_label_here(a, bound);
	store_imm32(a, FP_TRIAL, 1);
	nsc_label_here(a, local);
	count(p, NSC_COUNT_TRIAL);
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
static void trial_or_map(struct program *p, uint32_t nonlocal_flag)
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

/* Whether nsc_addrs holds the destination for this namespace: goto local. */
static void lookup_address(struct program *p)
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
	jump_if(a, BPF_JNE, R0, 0, p->local);
}

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
	count(p, NSC_COUNT_LISTENER);
	jump(a, p->restore_pass);
	nsc_label_here(a, none);
}

/*
 * Step 7: bind (the socket's address, Q), Q drawn at random from the
 * namespace's range less the target; a few tries, as a port may be taken.
 */
static void steer(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label outside = nsc_label_new(a), steered = nsc_label_new(a);
	read_netns(p);
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
		build_sockaddr(p, R5, ADDR_SOURCE);
		bind_sockaddr(p);
		jump_if(a, BPF_JEQ, R0, 0, steered);
	}
	jump(a, p->refuse);
	nsc_label_here(a, steered);
	count(p, NSC_COUNT_STEERED);
	jump(a, p->pass);
}

/* Steps 5 to 7 and the exits, once the destination is known to be local. */
static void local_dial(struct program *p)
{
	struct nsc_asm *a = p->a;
	nsc_label_here(a, p->local);
	load(a, BPF_W, R1, R10, FP_SPORT);
	jump_if(a, BPF_JNE, R1, 0, p->refuse); /* bound to the target port itself */
	check_listener(p);
	steer(p);

	/* Refused: the kernel dials port 0 and gets its own refusal. (6.1's
	 * verifier takes no BPF_ST into the context: store a register.) */
	nsc_label_here(a, p->refuse);
	count(p, NSC_COUNT_REFUSED);
	mov_imm(a, R1, 0);
	store(a, BPF_W, CTX, offsetof(struct bpf_sock_addr, user_port), R1);

	/* The socket's address back as it was, where a trial bind set it. */
	nsc_label_here(a, p->restore_pass);
	load(a, BPF_W, R1, R10, FP_TRIAL);
	jump_if(a, BPF_JEQ, R1, 0, p->pass);
	build_sockaddr(p, R10, ADDR_WILDCARD);
	bind_sockaddr(p);
}

/* A body's own labels: where it passes, refuses, finds the destination local. */
static void new_body(struct program *p, enum dial_kind kind)
{
	p->kind = kind;
	p->pass = nsc_label_new(p->a);
	p->restore_pass = nsc_label_new(p->a);
	p->refuse = nsc_label_new(p->a);
	p->local = nsc_label_new(p->a);
}

/* The dial goes on as it is. */
static void pass_exit(struct program *p)
{
	nsc_label_here(p->a, p->pass);
	mov_imm(p->a, R0, 1);
	exit_insn(p->a);
}

/* Step 3's port half: bound to a port other than the target: untouched. */
static void other_port_passes(struct program *p)
{
	nsc_label unbound = nsc_label_new(p->a);
	load(p->a, BPF_W, R1, R10, FP_SPORT);
	jump_if(p->a, BPF_JEQ, R1, 0, unbound);
	jump_if_reg(p->a, BPF_JNE, R1, PORT, p->pass);
	nsc_label_here(p->a, unbound);
}

/*
 * An IPv4 dial (DIAL_V4, or DIAL_MAPPED from connect6), DEST4 and SRC4 as
 * the caller read them.
 */
static void body_v4(struct program *p, enum dial_kind kind)
{
	struct nsc_asm *a = p->a;
	new_body(p, kind);
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
	other_port_passes(p);

	/* Step 4 */
	mov(a, R1, DEST4);
	to_be(a, R1, 32);
	alu_imm(a, BPF_RSH, R1, 24);
	jump_if(a, BPF_JEQ, R1, 127, p->local); /* 127/8 */
	jump_if(a, BPF_JNE, SRC4, 0, p->local); /* its own address */
	read_netns(p);
	lookup_address(p);
	trial_or_map(p, NSC_NETNS_NONLOCAL4);

	local_dial(p);
	pass_exit(p);
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
	new_body(p, DIAL_V6);
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
	other_port_passes(p);

	/* Step 4 */
	load(a, BPF_DW, R1, R10, FP_DEST6);
	jump_if(a, BPF_JNE, R1, 0, not_loopback);
	load(a, BPF_W, R1, R10, FP_DEST6 + 8);
	jump_if(a, BPF_JNE, R1, 0, not_loopback);
	load(a, BPF_W, R1, R10, FP_DEST6 + 12);
	jump32_if(a, BPF_JEQ, R1, htonl(1), p->local); /* ::1 */
	nsc_label_here(a, not_loopback);
	load(a, BPF_DW, R1, R10, FP_SRC6);
	jump_if(a, BPF_JNE, R1, 0, p->local); /* its own address */
	load(a, BPF_DW, R1, R10, FP_SRC6 + 8);
	jump_if(a, BPF_JNE, R1, 0, p->local);
	read_netns(p);
	lookup_address(p);
	trial_or_map(p, NSC_NETNS_NONLOCAL6);

	local_dial(p);
	pass_exit(p);
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
