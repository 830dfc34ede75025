/*
 * stall: one dial whose address nobody can read yet, and others meanwhile.
 *
 *   stall [-n COUNT] [-w SECONDS] [-s SIGNALS] PORT
 *
 * A listener on 127.0.0.1:PORT. One thread dials it with the sockaddr on a
 * page registered with userfaultfd and left missing: whoever reads it first
 * (the kernel's copy, or a supervisor's process_vm_readv) waits until the
 * page is filled. Once that read is waiting, another thread dials COUNT times
 * (connect, accept, close). The page is filled when those dials are done, or
 * after SECONDS (10) if they are held up; then the first dial completes too.
 * Prints "dials=COUNT before_release=DONE stalled_by=self|other
 * stalled_dial=ERRNAME" (ERRNAME "none" when it connected). -s sends the
 * stalled dial's thread SIGNALS signals (SIGUSR1, a handler installed
 * without SA_RESTART) while its address is being read, and says whether
 * that dial made a connection (stalled_connected=yes|no). Exits 3 where
 * userfaultfd is not allowed (it needs root, or vm.unprivileged_userfaultfd).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static struct sockaddr_in target = { .sin_family = AF_INET };
static int listener;
static long count = 100;

static void on_signal(int sig)
{
	(void)sig;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static long dials_done;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static bool stalled_connected; /* whether that dial made a connection after all */

/* The first dial: its address is on the missing page. Interrupted (EINTR),
 * it goes on as Python goes on: wait until writable, then SO_ERROR. */
static void *dial_stalled(void *page)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int err = connect(fd, page, sizeof(target)) == 0 ? 0 : errno;
	if (err == EINTR) {
		struct pollfd writable = { .fd = fd, .events = POLLOUT };
		socklen_t len = sizeof(err);
		poll(&writable, 1, 3000);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	}
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	stalled_connected = getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
	close(fd);
	return (void *)(intptr_t)err;
}

static void *dial_others(void *unused)
{
	(void)unused;
	for (long i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&target, sizeof(target)) != 0)
			die("connect");
		int peer = accept(listener, NULL, NULL);
		close(fd);
		close(peer);
		pthread_mutex_lock(&lock);
		dials_done++;
		pthread_cond_signal(&changed);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* The missing page, and the userfaultfd that reports who reads it. */
static int missing_page(void **page, size_t size)
{
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0) {
		perror("userfaultfd");
		exit(3);
	}
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_THREAD_ID };
	if (ioctl(uffd, UFFDIO_API, &api) != 0)
		die("UFFDIO_API");
	*page = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*page == MAP_FAILED)
		die("mmap");
	struct uffdio_register missing = {
		.range = { .start = (uintptr_t)*page, .len = size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &missing) != 0)
		die("UFFDIO_REGISTER");
	return uffd;
}

int main(int argc, char **argv)
{
	int wait_seconds = 10, signals = 0, c;
	while ((c = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (c) {
		case 'n': count = atol(optarg); break;
		case 'w': wait_seconds = atoi(optarg); break;
		case 's': signals = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: stall [-n COUNT] [-w SECONDS] [-s SIGNALS] PORT\n");
		return 2;
	}
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target.sin_port = htons((in_port_t)atoi(argv[optind]));
	listener = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&target, sizeof(target)) != 0 || listen(listener, 128) != 0)
		die("listen");

	size_t size = (size_t)sysconf(_SC_PAGESIZE);
	void *page;
	int uffd = missing_page(&page, size);
	pthread_t stalled, others;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&stalled, NULL, dial_stalled, page);

	/* Whoever reads the address first is now waiting for the page. */
	struct uffd_msg fault;
	struct pollfd ready = { .fd = uffd, .events = POLLIN };
	if (poll(&ready, 1, wait_seconds * 1000) != 1 || read(uffd, &fault, sizeof(fault)) != sizeof(fault) ||
	    fault.event != UFFD_EVENT_PAGEFAULT) {
		fprintf(stderr, "stall: the address was never read\n");
		return 1;
	}
	char task[64];
	snprintf(task, sizeof(task), "/proc/self/task/%u", fault.arg.pagefault.feat.ptid);
	bool by_self = access(task, F_OK) == 0;
	for (int i = 0; i < signals; i++) {
		const struct timespec pause = { .tv_nsec = 1000000 };
		pthread_kill(stalled, SIGUSR1);
		nanosleep(&pause, NULL);
	}

	pthread_condattr_t monotonic;
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&changed, &monotonic);
	pthread_create(&others, NULL, dial_others, NULL);
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_seconds;
	pthread_mutex_lock(&lock);
	while (dials_done < count && pthread_cond_timedwait(&changed, &lock, &deadline) == 0)
		;
	long before_release = dials_done;
	pthread_mutex_unlock(&lock);

	/* Fill the page with the address: the first dial goes on. */
	void *source = aligned_alloc(size, size);
	if (source == NULL)
		die("aligned_alloc");
	memset(source, 0, size);
	memcpy(source, &target, sizeof(target));
	struct uffdio_copy fill = { .dst = (uintptr_t)page, .src = (uintptr_t)source, .len = size };
	if (ioctl(uffd, UFFDIO_COPY, &fill) != 0)
		die("UFFDIO_COPY");
	void *err;
	pthread_join(others, NULL);
	pthread_join(stalled, &err);
	printf("dials=%ld before_release=%ld stalled_by=%s stalled_dial=%s", count, before_release,
	       by_self ? "self" : "other", errname((int)(intptr_t)err));
	if (signals > 0)
		printf(" stalled_connected=%s", stalled_connected ? "yes" : "no");
	printf("\n");
	return 0;
}
