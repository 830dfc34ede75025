/*
 * What the library and the supervisor do to a TCP socket, in one place:
 * system calls on that one socket only, async-signal-safe, errno kept.
 */
#ifndef NOSELFCONN_TCPSOCK_H
#define NOSELFCONN_TCPSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "verdict.h"

/* Whether fd is a TCP or Multipath TCP socket: the ones that can meet themselves. */
bool nsc_is_tcp_socket(int fd);

/* The socket's own IP_LOCAL_PORT_RANGE (0: none). False before Linux 6.3. */
bool nsc_get_socket_range(int fd, uint32_t *range);
bool nsc_set_socket_range(int fd, uint32_t range);

/* The port the socket is bound to, 0 if none yet (or not a socket). */
uint16_t nsc_bound_port(int fd);

#endif
