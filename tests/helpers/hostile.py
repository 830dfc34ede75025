#!/usr/bin/python3
"""A listener with a hostile name, for the audit's escaping tests.

  hostile.py PORT [COMM_HEX]
Sets its comm (prctl PR_SET_NAME) to the bytes COMM_HEX spells (default: an
ESC colour sequence, a newline and invalid UTF-8), listens on PORT (IPv4,
every address) and waits until it is killed. Start it with `exec -a` to give
it a hostile command line too.
"""
import ctypes
import signal
import socket
import sys

PR_SET_NAME = 15
DEFAULT_COMM = b"\x1b[31mX\n\xff\xfe\xc3"


def main():
    port = int(sys.argv[1])
    comm = bytes.fromhex(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_COMM
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(comm), 0, 0, 0) != 0:
        raise SystemExit(f"prctl: errno {ctypes.get_errno()}")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(8)
    signal.pause()


if __name__ == "__main__":
    main()
