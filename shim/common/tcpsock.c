/* See tcpsock.h. */
#include "tcpsock.h"

#include <errno.h>
#include <sys/socket.h>

#include "compat.h"

bool nsc_is_tcp_socket(int fd)
{
	int saved_errno = errno;
	int protocol = 0;
	socklen_t len = sizeof(protocol);
	bool ok = getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0;
	errno = saved_errno;
	return ok && nsc_is_tcp_protocol(protocol);
}

bool nsc_get_socket_range(int fd, uint32_t *range)
{
	int saved_errno = errno;
	socklen_t len = sizeof(*range);
	bool ok = getsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, range, &len) == 0;
	errno = saved_errno;
	return ok;
}

bool nsc_set_socket_range(int fd, uint32_t range)
{
	int saved_errno = errno;
	bool ok = setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) == 0;
	errno = saved_errno;
	return ok;
}

uint16_t nsc_bound_port(int fd)
{
	int saved_errno = errno;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	uint16_t port = 0;
	if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 &&
	    nsc_dial_verdict((struct sockaddr *)&local, len, NSC_ANY_PORT) == NSC_GUARD)
		port = nsc_dest_port((struct sockaddr *)&local);
	errno = saved_errno;
	return port;
}
