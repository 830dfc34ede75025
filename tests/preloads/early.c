/*
 * A library whose constructor dials before libnoselfconn.so's constructor
 * has run (preloaded after it, so initialised first): the guard must
 * initialise itself on that first call. Dials 127.0.0.1:$EARLY_PORT
 * $EARLY_COUNT times and reports what happened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((constructor)) static void dial_early(void)
{
	const char *port = getenv("EARLY_PORT"), *count = getenv("EARLY_COUNT");
	if (port == NULL || count == NULL)
		return;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((in_port_t)atoi(port)) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int self = 0, refused = 0, other = 0;
	for (int i = 0; i < atoi(count); i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0)
			self++; /* nothing listens: a success is a self-connection */
		else if (errno == ECONNREFUSED)
			refused++;
		else
			other++;
		close(fd);
	}
	fprintf(stderr, "early: self=%d refused=%d other=%d\n", self, refused, other);
}
