/*
 * noselfconn --supervise, the filter: which system calls reach the
 * supervisor. The dials of the native ABI (connect(), and sendto(),
 * sendmsg() or sendmmsg() with MSG_FASTOPEN), to be guarded; and what the
 * supervisor cannot guard but must not keep quiet about: the same dials
 * through another ABI (i386 or x32 on x86-64, 32-bit Arm on arm64),
 * io_uring_setup() (io_uring's dials never pass the filter), and a seccomp
 * listener of the program's own (the kernel refuses a second one: EBUSY).
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/net.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"

/* One ABI's numbers; NONE where it has no such call. */
#define NONE UINT32_MAX
struct abi {
	uint32_t connect, sendto, sendmsg, sendmmsg, socketcall, io_uring_setup, seccomp;
};

#define X32_BIT 0x40000000U
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define FOREIGN_ARCH AUDIT_ARCH_I386
static const struct abi foreign = { 362, 369, 370, 345, 102, 425, 354 };
static const struct abi x32 = { X32_BIT + 42, X32_BIT + 44, X32_BIT + 518, X32_BIT + 538, NONE,
				X32_BIT + 425, X32_BIT + 317 };
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define FOREIGN_ARCH AUDIT_ARCH_ARM
static const struct abi foreign = { 283, 290, 296, 374, NONE, 425, 383 };
static const struct abi x32 = { NONE, NONE, NONE, NONE, NONE, NONE, NONE };
#else
#define NATIVE_ARCH 0 /* unsupported: installing the filter fails cleanly */
#define FOREIGN_ARCH 0
static const struct abi foreign = { NONE, NONE, NONE, NONE, NONE, NONE, NONE };
static const struct abi x32 = { NONE, NONE, NONE, NONE, NONE, NONE, NONE };
#endif
static const struct abi native = { __NR_connect, __NR_sendto, __NR_sendmsg, __NR_sendmmsg, NONE,
				   __NR_io_uring_setup, __NR_seccomp };

/* The low half of a 64-bit syscall argument (little-endian targets above):
 * an int argument is what the kernel reads, whatever the upper half holds
 * (trapped.c reads them the same way). */
#define ARG_LOW(n) (offsetof(struct seccomp_data, args) + sizeof(__u64) * (n))

/* One ABI's part of the program; its instructions by name, so the jumps read. */
enum {
	LOAD, CONNECT, URING, SECCOMP, SOCKETCALL, SENDTO, SENDMMSG, SENDMSG, OTHER,
	FLAGS3, FLAGS3_TEST, FLAGS2, FLAGS2_TEST, CALL, CALL_TEST, MODE, MODE_TEST, LISTENER, LISTENER_TEST,
	ALLOW, NOTIFY, BLOCK
};
#define TO(from, to) ((__u8)((to) - (from) - 1))

static void emit_abi(struct sock_filter *b, const struct abi *a)
{
	b[LOAD] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	b[CONNECT] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->connect, TO(CONNECT, NOTIFY), 0);
	b[URING] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->io_uring_setup, TO(URING, NOTIFY), 0);
	b[SECCOMP] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->seccomp, TO(SECCOMP, MODE), 0);
	b[SOCKETCALL] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->socketcall, TO(SOCKETCALL, CALL), 0);
	b[SENDTO] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->sendto, TO(SENDTO, FLAGS3), 0);
	b[SENDMMSG] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->sendmmsg, TO(SENDMMSG, FLAGS3), 0);
	b[SENDMSG] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->sendmsg, TO(SENDMSG, FLAGS2), 0);
	b[OTHER] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	/* sendto() and sendmmsg() take their flags fourth, sendmsg() third */
	b[FLAGS3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(3));
	b[FLAGS3_TEST] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN,
						      TO(FLAGS3_TEST, NOTIFY), TO(FLAGS3_TEST, ALLOW));
	b[FLAGS2] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2));
	b[FLAGS2_TEST] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN,
						      TO(FLAGS2_TEST, NOTIFY), TO(FLAGS2_TEST, ALLOW));
	/* socketcall(SYS_CONNECT, ...): its flags for the others are in memory */
	b[CALL] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(0));
	b[CALL_TEST] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_CONNECT,
						    TO(CALL_TEST, NOTIFY), TO(CALL_TEST, ALLOW));
	/* seccomp(SECCOMP_SET_MODE_FILTER, ...NEW_LISTENER..., ...) */
	b[MODE] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(0));
	b[MODE_TEST] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_SET_MODE_FILTER, 0,
						    TO(MODE_TEST, ALLOW));
	b[LISTENER] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1));
	b[LISTENER_TEST] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SECCOMP_FILTER_FLAG_NEW_LISTENER,
							TO(LISTENER_TEST, NOTIFY), TO(LISTENER_TEST, ALLOW));
	b[ALLOW] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	b[NOTIFY] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
}

/* The arch first; on the native one, x32's numbers (X32_BIT set) apart. */
enum { ARCH, IS_NATIVE, IS_FOREIGN, NR, IS_X32, NATIVE_BLOCK, X32_BLOCK = NATIVE_BLOCK + BLOCK,
       FOREIGN_BLOCK = X32_BLOCK + BLOCK, OTHER_ARCH = FOREIGN_BLOCK + BLOCK, PROGRAM };

static void build(struct sock_filter *code)
{
	code[ARCH] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	code[IS_NATIVE] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, TO(IS_NATIVE, NR), 0);
	code[IS_FOREIGN] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FOREIGN_ARCH,
							TO(IS_FOREIGN, FOREIGN_BLOCK), TO(IS_FOREIGN, OTHER_ARCH));
	code[NR] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	code[IS_X32] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_BIT, TO(IS_X32, X32_BLOCK),
						    TO(IS_X32, NATIVE_BLOCK));
	emit_abi(&code[NATIVE_BLOCK], &native);
	emit_abi(&code[X32_BLOCK], &x32);
	emit_abi(&code[FOREIGN_BLOCK], &foreign);
	code[OTHER_ARCH] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
}

enum nsc_trap nsc_trap_kind(const struct seccomp_data *data)
{
	bool ours = data->arch == NATIVE_ARCH && (data->nr & X32_BIT) == 0;
	const struct abi *abi = ours ? &native : data->arch == NATIVE_ARCH ? &x32 : &foreign;
	if ((uint32_t)data->nr == abi->seccomp)
		return NSC_TRAP_LISTENER;
	if ((uint32_t)data->nr == abi->io_uring_setup)
		return NSC_TRAP_URING;
	return ours ? NSC_TRAP_DIAL : NSC_TRAP_FOREIGN;
}

/*
 * Once we have received a dial, a signal must not interrupt it: the caller
 * would see EINTR (or, in Python, a connect() that succeeded) for a dial
 * that never started. WAIT_KILLABLE_RECV (Linux 5.19) makes the wait
 * killable only from then on; before, the call is installed without it.
 */
static int install(const struct sock_fprog *program)
{
	int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
				    program);
	if (listener >= 0 || errno != EINVAL)
		return listener;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, program);
}

int nsc_install_filter(bool *no_new_privs)
{
	struct sock_filter code[PROGRAM];
	build(code);
	struct sock_fprog program = { .len = PROGRAM, .filter = code };
	*no_new_privs = false;
	if (NATIVE_ARCH == 0) {
		errno = ENOSYS;
		return -1;
	}
	/* Linux 5.0-5.5 notify, but cannot lend us the caller's socket
	 * (pidfd_getfd, 5.6): there the supervisor could only watch. */
	if (syscall(SYS_pidfd_getfd, -1, -1, 0) < 0 && errno == ENOSYS)
		return -1;
	/* With CAP_SYS_ADMIN, no no_new_privs: setuid programs keep working. */
	int listener = install(&program);
	if (listener >= 0 || errno != EACCES)
		return listener;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	*no_new_privs = true;
	return install(&program);
}
