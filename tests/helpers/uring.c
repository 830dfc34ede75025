/*
 * uring: dial through io_uring, which neither a preload nor a seccomp
 * filter sees (the kernel makes the call, not the program), and count what
 * happens, as tests/helpers/dial.c does. Raw system calls, no liburing.
 *
 *   uring [-n COUNT] [-s connect|fastopen-sendmsg] [-kL] ADDR PORT
 *
 * connect submits IORING_OP_CONNECT; fastopen-sendmsg submits
 * IORING_OP_SENDMSG with MSG_FASTOPEN (a TCP Fast Open dial). An answer of
 * EINPROGRESS (the ring's non-blocking attempt) is waited for with poll()
 * and SO_ERROR. -k stops at the first self-connection and keeps it open to
 * the end (-L then sees it hold the port); -L tries to bind the target
 * port afterwards. Prints one line of counts; exits 3 if io_uring is not
 * available here (io_uring_setup fails: the line says why).
 */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#define PROBE "noselfconn-probe"
#define CONNECT_TIMEOUT_MS 3000

static struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
} ring;

static int setup_ring(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	ring.fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (ring.fd < 0)
		return errno;
	size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_size = cq_size = sq_size > cq_size ? sq_size : cq_size;
	char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd,
			IORING_OFF_SQ_RING);
	char *cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		? sq
		: mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd,
		       IORING_OFF_CQ_RING);
	ring.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, ring.fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || ring.sqes == MAP_FAILED)
		return errno;
	ring.sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ring.sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	ring.sq_array = (unsigned *)(sq + p.sq_off.array);
	ring.cq_head = (unsigned *)(cq + p.cq_off.head);
	ring.cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ring.cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	ring.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submits one entry and waits for its completion: its res (0 or -errno). */
static int submit_and_wait(const struct io_uring_sqe *entry)
{
	unsigned tail = *ring.sq_tail, index = tail & *ring.sq_mask;
	ring.sqes[index] = *entry;
	ring.sq_array[index] = index;
	__atomic_store_n(ring.sq_tail, tail + 1, __ATOMIC_RELEASE);
	for (;;) {
		unsigned head = __atomic_load_n(ring.cq_head, __ATOMIC_ACQUIRE);
		if (head != __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE)) {
			int res = ring.cqes[head & *ring.cq_mask].res;
			__atomic_store_n(ring.cq_head, head + 1, __ATOMIC_RELEASE);
			return res;
		}
		long n = syscall(__NR_io_uring_enter, ring.fd, tail + 1 == *ring.sq_tail ? 1 : 0, 1,
				 IORING_ENTER_GETEVENTS, NULL, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		tail = *ring.sq_tail; /* submitted: the next round only waits */
	}
}

/* One dial on fd through the ring: 0 when connected, else the error. */
static int dial(const char *style, int fd, struct sockaddr_storage *dest, socklen_t len)
{
	struct io_uring_sqe e;
	struct iovec iov = { .iov_base = PROBE, .iov_len = sizeof(PROBE) };
	struct msghdr msg = { .msg_name = dest, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
	memset(&e, 0, sizeof(e));
	e.fd = fd;
	if (strcmp(style, "connect") == 0) {
		e.opcode = IORING_OP_CONNECT;
		e.addr = (uintptr_t)dest;
		e.off = len;
	} else if (strcmp(style, "fastopen-sendmsg") == 0) {
		e.opcode = IORING_OP_SENDMSG;
		e.addr = (uintptr_t)&msg;
		e.len = 1;
		e.msg_flags = MSG_FASTOPEN | MSG_NOSIGNAL;
	} else {
		fprintf(stderr, "uring: unknown style '%s'\n", style);
		exit(2);
	}
	int res = submit_and_wait(&e);
	if (res >= 0)
		return 0;
	if (res != -EINPROGRESS && res != -EALREADY)
		return -res;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1)
		return ETIMEDOUT;
	int err = 0;
	socklen_t err_len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
	return err;
}

static const char *bind_target(const struct sockaddr_storage *dest, socklen_t len)
{
	int fd = socket(dest->ss_family, SOCK_STREAM, 0);
	int rc = bind(fd, (const struct sockaddr *)dest, len);
	int err = errno;
	close(fd);
	return rc == 0 ? "ok" : errname(err);
}

int main(int argc, char **argv)
{
	const char *style = "connect";
	int count = 1, c;
	bool stop_at_self = false, try_bind = false;
	while ((c = getopt(argc, argv, "n:s:kL")) != -1) {
		switch (c) {
		case 'n': count = atoi(optarg); break;
		case 's': style = optarg; break;
		case 'k': stop_at_self = true; break;
		case 'L': try_bind = true; break;
		default: argc = -1; break;
		}
	}
	if (argc < 0 || argc - optind != 2) {
		fprintf(stderr, "usage: uring [-n COUNT] [-s connect|fastopen-sendmsg] [-kL] ADDR PORT\n");
		return 2;
	}
	struct sockaddr_storage dest;
	socklen_t len = parse_endpoint(argv[optind], argv[optind + 1], &dest);
	int err = setup_ring();
	if (err != 0) {
		printf("attempts=0 uring=%s\n", errname(err));
		return 3;
	}
	int fds_before = count_fds(), held = -1;
	struct tally t = { 0 };
	for (int i = 0; i < count; i++) {
		int fd = socket(dest.ss_family, SOCK_STREAM, 0);
		err = fd < 0 ? errno : dial(style, fd, &dest, len);
		tally_dial(&t, fd, err);
		if (t.self > 0 && stop_at_self) {
			held = fd; /* it keeps the port, as a real one would */
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	int fds_leaked = count_fds() - fds_before - (held >= 0);
	print_tally(&t);
	printf(" fds_leaked=%d", fds_leaked);
	if (try_bind)
		printf(" bind_after=%s", bind_target(&dest, len));
	printf("\n");
	if (held >= 0)
		close(held);
	return 0;
}
