/*
 * dial: dial an address again and again in one style and count what happens.
 * It judges self-connections on its own (local name == peer name), never
 * through the library, so the same run shows the bug without the library.
 *
 *   dial [-n COUNT] [-t THREADS] [-s STYLE] [-uRkKLSrm] [-H SECS] [-b HOW] [-P LO:HI]
 *        [-N NAMELEN] [-l ADDR] ADDR PORT
 *
 * Styles: blocking, nonblock (EINPROGRESS, poll, SO_ERROR), nonblock-write
 * (EINPROGRESS, poll, write without SO_ERROR), fastopen-sendto,
 * fastopen-sendmsg, fastopen-sendmmsg (two messages),
 * fastopen-connect (TCP_FASTOPEN_CONNECT + send).
 * -u dials UDP, -R re-dials one socket after each refusal, -k stops at the
 * first self-connection and keeps it open to the end (-L sees it hold the port), -H holds that one open for SECS seconds, -r dials
 * with raw syscall(2) as static and non-libc programs do, -L tries
 * to bind the target port afterwards, -S serves the target itself first
 * (accepts and closes). -m dials Multipath TCP (IPPROTO_MPTCP). -b binds
 * each socket before it dials, as clients with a source-address option do:
 * "port0" binds the destination's address with port 0 (the kernel picks
 * the port at bind time), "any0" the wildcard address with port 0,
 * "noport" the destination's address with IP_BIND_ADDRESS_NO_PORT (the
 * port is picked at connect time). -P sets the socket's own
 * IP_LOCAL_PORT_RANGE first and counts dials after which it was not the
 * same (range_changed=). -N gives sendmsg/sendmmsg this msg_namelen (the
 * kernel clamps one above 128). -X changes the process before its first
 * dial, as programs do after start: "chroot:DIR" (no /proc there),
 * "noopen" (a seccomp filter fails open() with EPERM), "nofd" (no
 * descriptor left but the socket's). -G FILE dials a listener of its own
 * once (not counted), prints "warm", and waits for FILE to exist before
 * the counted dials. -Z SIZE: fastopen-sendto sends SIZE bytes in one
 * blocking call, fastopen-sendmsg in three iovecs (1000 bytes, 5000, the
 * rest; 16 MB sent to itself never returns). -K keeps every
 * connection open to the end, as a client holding many does (capacity).
 * -l ADDR: -S listens on ADDR (say the wildcard) and the target's port.
 * Prints one line of counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"


#define PROBE "noselfconn-probe"
#define CONNECT_TIMEOUT_MS 3000

enum outcome { SELF, REFUSED, CONNECTED, FAILED, OUTCOMES };

static struct {
	const char *style;
	int type, protocol;
	int count;
	const char *bind_how;	  /* -b */
	uint32_t own_range;	  /* -P */
	socklen_t namelen;	  /* -N, 0: the address's own length */
	/* The destination again, with room behind it for a -N longer than
	 * any address: the kernel reads 128 bytes, a sanitizer all of them. */
	struct {
		struct sockaddr_storage addr;
		char beyond[4096];
	} named;
	bool reuse_socket, stop_at_self, keep_connected;
	char *payload;		  /* -Z: what fastopen-sendto sends, instead of the probe */
	size_t payload_len;
	int hold_seconds;
	struct sockaddr_storage dest;
	socklen_t dest_len;
} opt = { .style = "blocking", .type = SOCK_STREAM, .count = 1 };

static bool raw; /* -r: syscall(2), never libc's wrappers */

static int do_connect(int fd, const struct sockaddr *to, socklen_t len)
{
	return raw ? (int)syscall(SYS_connect, fd, to, len) : connect(fd, to, len);
}

static ssize_t do_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
			 socklen_t len)
{
	return raw ? syscall(SYS_sendto, fd, buf, n, flags, to, len) : sendto(fd, buf, n, flags, to, len);
}

static ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return raw ? syscall(SYS_sendmsg, fd, msg, flags) : sendmsg(fd, msg, flags);
}

static int do_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	return raw ? (int)syscall(SYS_sendmmsg, fd, msgs, n, flags) : sendmmsg(fd, msgs, n, flags);
}

static long counts[OUTCOMES], range_changed, unreach_retried, kept;
static int held_fd = -1; /* -k: the self-connection stays open until the end */
static int first_error;
static volatile int stop;


static int wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int n = poll(&p, 1, CONNECT_TIMEOUT_MS);
	return n == 1 ? 0 : (n == 0 ? ETIMEDOUT : errno);
}

/* Makes one dial on `fd`; returns 0 when connected, else the error. */
static int dial_once(int fd)
{
	const struct sockaddr *to = (const struct sockaddr *)&opt.dest;
	const char *s = opt.style;
	socklen_t namelen = opt.namelen ? opt.namelen : opt.dest_len;

	if (strcmp(s, "blocking") == 0)
		return do_connect(fd, to, opt.dest_len) == 0 ? 0 : errno;
	if (strcmp(s, "nonblock") == 0 || strcmp(s, "nonblock-write") == 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (do_connect(fd, to, opt.dest_len) != 0 && errno != EINPROGRESS)
			return errno;
		int err = wait_writable(fd);
		if (err != 0)
			return err;
		if (strcmp(s, "nonblock-write") == 0) /* as proxies do: no SO_ERROR */
			return send(fd, PROBE, sizeof(PROBE), MSG_NOSIGNAL) >= 0 ? 0 : errno;
		socklen_t len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		return err;
	}
	if (strcmp(s, "fastopen-sendto") == 0 && opt.payload != NULL)
		return do_sendto(fd, opt.payload, opt.payload_len, MSG_FASTOPEN | MSG_NOSIGNAL, to,
				 opt.dest_len) >= 0 ? 0 : errno;
	if (strcmp(s, "fastopen-sendto") == 0)
		return do_sendto(fd, PROBE, sizeof(PROBE), MSG_FASTOPEN | MSG_NOSIGNAL, to,
				 opt.dest_len) >= 0 ? 0 : errno;
	if (strcmp(s, "fastopen-sendmsg") == 0) {
		struct iovec iov[3] = { { .iov_base = PROBE, .iov_len = sizeof(PROBE) } };
		struct msghdr msg = { .msg_name = &opt.named, .msg_namelen = namelen,
				      .msg_iov = iov, .msg_iovlen = 1 };
		if (opt.payload != NULL && opt.payload_len > 6000) {
			/* three parts, so the rest starts inside one of them */
			iov[0] = (struct iovec){ .iov_base = opt.payload, .iov_len = 1000 };
			iov[1] = (struct iovec){ .iov_base = opt.payload + 1000, .iov_len = 5000 };
			iov[2] = (struct iovec){ .iov_base = opt.payload + 6000, .iov_len = opt.payload_len - 6000 };
			msg.msg_iovlen = 3;
		}
		return do_sendmsg(fd, &msg, MSG_FASTOPEN | MSG_NOSIGNAL) >= 0 ? 0 : errno;
	}
	if (strcmp(s, "fastopen-sendmmsg") == 0) {
		/* The first message dials; the second follows on the connection. */
		struct iovec iov = { .iov_base = PROBE, .iov_len = sizeof(PROBE) };
		struct mmsghdr msgs[2] = {
			{ .msg_hdr = { .msg_name = &opt.named, .msg_namelen = namelen,
				       .msg_iov = &iov, .msg_iovlen = 1 } },
			{ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } },
		};
		return do_sendmmsg(fd, msgs, 2, MSG_FASTOPEN | MSG_NOSIGNAL) >= 0 ? 0 : errno;
	}
	if (strcmp(s, "fastopen-connect") == 0) {
		int on = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &on, sizeof(on));
		if (do_connect(fd, to, opt.dest_len) != 0)
			return errno;
		return send(fd, PROBE, sizeof(PROBE), MSG_NOSIGNAL) >= 0 ? 0 : errno;
	}
	fprintf(stderr, "unknown style '%s'\n", s);
	exit(2);
}

static void record(enum outcome o, int err)
{
	__atomic_add_fetch(&counts[o], 1, __ATOMIC_RELAXED);
	if (o == FAILED) {
		int none = 0;
		__atomic_compare_exchange_n(&first_error, &none, err, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
}

static void hold(int fd)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char text[INET6_ADDRSTRLEN] = "?";
	getsockname(fd, (struct sockaddr *)&local, &len);
	const void *a = local.ss_family == AF_INET
		? (const void *)&((struct sockaddr_in *)&local)->sin_addr
		: (const void *)&((struct sockaddr_in6 *)&local)->sin6_addr;
	inet_ntop(local.ss_family, a, text, sizeof(text));
	printf("holding self-connection %s pid=%d\n", text, getpid());
	fflush(stdout);
	sleep((unsigned)opt.hold_seconds);
}

/* -b and -P: what a client with a source address or a port range does first. */
static int prepare(int fd)
{
	if (opt.own_range != 0 &&
	    setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &opt.own_range, sizeof(opt.own_range)) != 0)
		return errno;
	if (opt.bind_how == NULL)
		return 0;
	int on = 1;
	if (strcmp(opt.bind_how, "noport") == 0 &&
	    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on)) != 0)
		return errno;
	struct sockaddr_storage source = opt.dest;
	/* The destination's address (or, "any0", the wildcard), any port. */
	bool any = strcmp(opt.bind_how, "any0") == 0;
	if (source.ss_family == AF_INET) {
		((struct sockaddr_in *)&source)->sin_port = 0;
		if (any)
			((struct sockaddr_in *)&source)->sin_addr.s_addr = htonl(INADDR_ANY);
	} else {
		((struct sockaddr_in6 *)&source)->sin6_port = 0;
		if (any)
			((struct sockaddr_in6 *)&source)->sin6_addr = in6addr_any;
	}
	return bind(fd, (struct sockaddr *)&source, opt.dest_len) == 0 ? 0 : errno;
}

static void check_range_kept(int fd)
{
	uint32_t range = 0;
	socklen_t len = sizeof(range);
	if (opt.own_range != 0 &&
	    (getsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, &len) != 0 || range != opt.own_range))
		__atomic_add_fetch(&range_changed, 1, __ATOMIC_RELAXED);
}

static void *dial_loop(void *unused)
{
	(void)unused;
	int fd = -1;
	for (int i = 0; i < opt.count && !stop; i++) {
		if (fd < 0) {
			fd = socket(opt.dest.ss_family, opt.type, opt.protocol);
			int err = fd < 0 ? errno : prepare(fd);
			if (err != 0) {
				record(FAILED, err);
				if (fd >= 0)
					close(fd);
				fd = -1;
				continue;
			}
		}
		int err = dial_once(fd);
		/*
		 * Now and then (about 1 dial in 5 000 here) the kernel answers an
		 * IPv6 dial on lo with ENETUNREACH, with or without any guard:
		 * such a dial is made once more on a new socket, and counted.
		 * One that fails again is a failure.
		 */
		if (err == ENETUNREACH && opt.dest.ss_family == AF_INET6) {
			int again = socket(opt.dest.ss_family, opt.type, opt.protocol);
			if (again >= 0 && prepare(again) == 0) {
				close(fd);
				fd = again;
				err = dial_once(fd);
				__atomic_add_fetch(&unreach_retried, 1, __ATOMIC_RELAXED);
			} else if (again >= 0) {
				close(again);
			}
		}
		check_range_kept(fd);
		enum outcome o = err == 0 ? (names_equal(fd) ? SELF : CONNECTED)
			       : err == ECONNREFUSED ? REFUSED : FAILED;
		record(o, err);
		if (o == SELF && opt.hold_seconds > 0)
			hold(fd);
		if (o == SELF && opt.stop_at_self) {
			stop = 1;
			int none = -1;
			if (__atomic_compare_exchange_n(&held_fd, &none, fd, false, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED)) {
				fd = -1; /* held: it keeps the port, as a real one would */
				continue;
			}
		}
		if (o == CONNECTED && opt.keep_connected) {
			__atomic_add_fetch(&kept, 1, __ATOMIC_RELAXED);
			fd = -1; /* -K: it keeps its port to the end */
			continue;
		}
		/* -R keeps a refused socket to show it can be dialed again. */
		if (!(opt.reuse_socket && o == REFUSED)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* -X: what a program may do to itself after it started. */
static void apply_hazard(const char *hazard)
{
	if (strncmp(hazard, "chroot:", 7) == 0) {
		if (chroot(hazard + 7) != 0 || chdir("/") != 0) {
			perror("dial: chroot");
			exit(1);
		}
	} else if (strcmp(hazard, "noopen") == 0) {
		struct sock_filter code[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 1, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog program = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
			perror("dial: seccomp");
			exit(1);
		}
	} else if (strcmp(hazard, "nofd") == 0) {
		/* Room for exactly one more descriptor: the socket. */
		int probe = dup(0);
		struct rlimit limit = { .rlim_cur = (rlim_t)probe + 1, .rlim_max = (rlim_t)probe + 1 };
		close(probe);
		if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
			perror("dial: setrlimit");
			exit(1);
		}
	} else {
		fprintf(stderr, "dial: unknown -X '%s'\n", hazard);
		exit(2);
	}
}

/*
 * -G: one dial first, that the library certainly looks at (a connection
 * to a listener of our own on a port the kernel picks), then wait for FILE.
 */
static void warm_then_wait(const char *file)
{
	struct sockaddr_storage here = opt.dest;
	socklen_t len = opt.dest_len;
	int listener = socket(here.ss_family, SOCK_STREAM, 0);
	int fd = socket(here.ss_family, SOCK_STREAM, 0);
	if (here.ss_family == AF_INET)
		((struct sockaddr_in *)&here)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&here)->sin6_port = 0;
	if (bind(listener, (struct sockaddr *)&here, len) != 0 || listen(listener, 1) != 0 ||
	    getsockname(listener, (struct sockaddr *)&here, &len) != 0 ||
	    connect(fd, (struct sockaddr *)&here, len) != 0) {
		perror("dial: warm-up");
		exit(1);
	}
	close(fd);
	close(listener);
	printf("warm\n");
	fflush(stdout);
	while (access(file, F_OK) != 0)
		usleep(10000);
}

/* -S: a listener on the target, so dials have somewhere real to go. */
static long served; /* connections the -S server accepted and closed */
static bool serving;

static void *serve(void *listener)
{
	for (;;) {
		int fd = accept(*(int *)listener, NULL, NULL);
		if (fd >= 0) {
			close(fd);
			__atomic_add_fetch(&served, 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

/* Before descriptors are counted: the -S server done with every connection
 * made to it (an accepted one not closed yet is not a leak), 2 s at most. */
static void wait_served(void)
{
	long connected = __atomic_load_n(&counts[CONNECTED], __ATOMIC_RELAXED);
	for (int ms = 0; serving && ms < 2000 && __atomic_load_n(&served, __ATOMIC_ACQUIRE) < connected; ms++)
		usleep(1000);
}

static void start_server(const char *listen_addr)
{
	static int listener;
	int on = 1;
	pthread_t tid;
	struct sockaddr_storage where = opt.dest;
	socklen_t where_len = opt.dest_len;
	if (listen_addr != NULL) {
		char port[8];
		snprintf(port, sizeof(port), "%u", ntohs(((struct sockaddr_in *)&opt.dest)->sin_port));
		where_len = parse_endpoint(listen_addr, port, &where);
	}
	listener = socket(where.ss_family, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(listener, (struct sockaddr *)&where, where_len) != 0 || listen(listener, 512) != 0) {
		perror("dial: listen");
		exit(1);
	}
	pthread_create(&tid, NULL, serve, &listener);
	serving = true;
}

static const char *bind_target(void)
{
	int fd = socket(opt.dest.ss_family, SOCK_STREAM, 0);
	int rc = bind(fd, (struct sockaddr *)&opt.dest, opt.dest_len);
	int err = errno;
	close(fd);
	return rc == 0 ? "ok" : errname(err);
}

int main(int argc, char **argv)
{
	int threads = 1, c;
	bool try_bind = false, server = false;
	const char *hazard = NULL, *go_file = NULL, *listen_addr = NULL;
	unsigned lo, hi;
	while ((c = getopt(argc, argv, "n:t:s:uRkKH:LSrmb:P:N:X:G:Z:l:")) != -1) {
		switch (c) {
		case 'n': opt.count = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 's': opt.style = optarg; break;
		case 'u': opt.type = SOCK_DGRAM; break;
		case 'R': opt.reuse_socket = true; break;
		case 'k': opt.stop_at_self = true; break;
		case 'K': opt.keep_connected = true; break;
		case 'H': opt.hold_seconds = atoi(optarg); opt.stop_at_self = true; break;
		case 'L': try_bind = true; break;
		case 'S': server = true; break;
		case 'l': listen_addr = optarg; break;
		case 'r': raw = true; break;
		case 'm': opt.protocol = IPPROTO_MPTCP; break;
		case 'b': opt.bind_how = optarg; break;
		case 'X': hazard = optarg; break;
		case 'G': go_file = optarg; break;
		case 'N': opt.namelen = (socklen_t)atoi(optarg); break;
		case 'Z':
			opt.payload_len = (size_t)atol(optarg);
			opt.payload = calloc(1, opt.payload_len + 1);
			break;
		case 'P':
			if (sscanf(optarg, "%u:%u", &lo, &hi) != 2 || lo > 65535 || hi > 65535)
				return 2;
			opt.own_range = hi << 16 | lo;
			break;
		default: argc = -1; break; /* the usage below */
		}
	}
	if (argc < 0 || argc - optind != 2 || opt.namelen > sizeof(opt.named) || threads < 1 || threads > 64 ||
	    (opt.bind_how != NULL && strcmp(opt.bind_how, "port0") != 0 &&
	     strcmp(opt.bind_how, "any0") != 0 && strcmp(opt.bind_how, "noport") != 0)) {
		fprintf(stderr, "usage: dial [-n COUNT] [-t THREADS] [-s STYLE] [-uRkKLSrm] [-H SECS] "
				"[-b port0|any0|noport] [-P LO:HI] [-N NAMELEN] [-X HAZARD] [-G FILE] [-l ADDR] ADDR PORT\n");
		return 2;
	}
	opt.dest_len = parse_endpoint(argv[optind], argv[optind + 1], &opt.dest);
	opt.named.addr = opt.dest;
	if (server)
		start_server(listen_addr);
	if (go_file != NULL)
		warm_then_wait(go_file);
	if (hazard != NULL)
		apply_hazard(hazard);

	int fds_before = count_fds();
	pthread_t tids[64];
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, dial_loop, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	wait_served();
	int fds_after = count_fds() - (held_fd >= 0) - (int)kept;

	printf("attempts=%ld self=%ld refused=%ld connected=%ld failed=%ld first_error=%s "
	       "fds_leaked=%d",
	       counts[SELF] + counts[REFUSED] + counts[CONNECTED] + counts[FAILED], counts[SELF],
	       counts[REFUSED], counts[CONNECTED], counts[FAILED],
	       errname(first_error), fds_after - fds_before);
	if (opt.own_range != 0)
		printf(" range_changed=%ld", range_changed);
	if (unreach_retried != 0)
		printf(" unreach_retried=%ld", unreach_retried);
	if (try_bind)
		printf(" bind_after=%s", bind_target());
	printf("\n");
	if (held_fd >= 0)
		close(held_fd);
	return 0;
}
