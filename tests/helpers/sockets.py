#!/usr/bin/python3
"""A crowd of TCP sockets, for the audit's benchmark (tests/bench/run.sh).

  sockets.py PAIRS PORT
Listens on 127.0.0.1:PORT, opens PAIRS connections to itself (2 * PAIRS + 1
sockets and descriptors), a few listeners inside the ephemeral range,
prints "ready" and waits until it is killed.
"""
import resource
import signal
import socket
import sys


def main():
    pairs, port = int(sys.argv[1]), int(sys.argv[2])
    need = 2 * pairs + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)
    held = [listener]
    for exposed in range(40001, 40011):  # before the clients take ports
        s = socket.socket()
        s.bind(("0.0.0.0", exposed))
        s.listen(1)
        held.append(s)
    for _ in range(pairs):
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        held += [client, server]
    print("ready", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
