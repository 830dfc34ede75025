/*
 * interrupt: dials and signals.
 *
 *   interrupt eintr PORT
 *     A blocking dial interrupted by SIGALRM, then dialed again until it
 *     settles; prints the sequence of results, to compare with libc's.
 *     PORT gets a listener whose queue is full, so the SYN goes unanswered.
 *   interrupt handler PORT COUNT
 *     COUNT blocking dials, each from inside a signal handler, to PORT where
 *     nothing listens; prints "attempts=N self=S refused=R failed=F".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"

static struct sockaddr_in target;
static volatile sig_atomic_t self, refused, failed;

static void on_alarm(int sig)
{
	(void)sig;
}

static void dial_from_handler(int sig)
{
	(void)sig;
	int saved_errno = errno;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0)
		self++;
	else if (errno == ECONNREFUSED)
		refused++;
	else
		failed++;
	close(fd);
	errno = saved_errno;
}

static void print_result(int rc)
{
	printf("%s\n", rc == 0 ? "0" : errname(errno));
}

static int eintr_sequence(void)
{
	/* A listener with a full queue: the next SYN is dropped, not answered. */
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	int filler = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(listener, (struct sockaddr *)&target, sizeof(target)) != 0 || listen(listener, 0) != 0 ||
	    connect(filler, (struct sockaddr *)&target, sizeof(target)) != 0) {
		perror("interrupt: set-up");
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval t = { .it_value = { .tv_usec = 200000 } };
	setitimer(ITIMER_REAL, &t, NULL);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	print_result(connect(fd, (struct sockaddr *)&target, sizeof(target)));
	/* Room in the queue: the SYN retransmitted after a second gets in. */
	close(accept(listener, NULL, NULL));
	print_result(connect(fd, (struct sockaddr *)&target, sizeof(target)));
	print_result(connect(fd, (struct sockaddr *)&target, sizeof(target)));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: interrupt eintr PORT | interrupt handler PORT COUNT\n");
		return 2;
	}
	struct sockaddr_storage ss;
	parse_endpoint("127.0.0.1", argv[2], &ss);
	memcpy(&target, &ss, sizeof(target));
	if (strcmp(argv[1], "eintr") == 0)
		return eintr_sequence();

	int count = argc > 3 ? atoi(argv[3]) : 100;
	signal(SIGUSR1, dial_from_handler);
	for (int i = 0; i < count; i++)
		raise(SIGUSR1);
	printf("attempts=%d self=%d refused=%d failed=%d\n", count, (int)self, (int)refused, (int)failed);
	return 0;
}
