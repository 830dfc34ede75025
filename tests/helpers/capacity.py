"""capacity.py, a Python program that dials a listener of its own:

  capacity.py hold LISTEN DIAL PORT COUNT [BEFORE]
      listens on LISTEN:PORT and keeps every connection it makes to DIAL:PORT
      until the first dial fails (or COUNT). BEFORE: that many dials to the
      port first, while nothing listens there, then a pause.
  capacity.py closed DIAL PORT COUNT
      listens on DIAL:PORT, connects once, closes both, then dials COUNT
      times where nothing listens any more.

Prints connected= self= refused= first_error= (self: a connection whose
local and peer names are the same, judged here, never by the guard)."""
import errno
import socket
import sys
import time

counts = {"connected": 0, "self": 0, "refused": 0}
first_error = "none"


def family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def dial(address, port):
    """A connected socket (None if the dial failed, counted either way)."""
    global first_error
    s = socket.socket(family(address), socket.SOCK_STREAM)
    try:
        s.connect((address, port))
    except OSError as e:
        s.close()
        if e.errno == errno.ECONNREFUSED:
            counts["refused"] += 1
        elif first_error == "none":
            first_error = errno.errorcode.get(e.errno, str(e.errno))
        return None
    if s.getsockname()[:2] == s.getpeername()[:2]:
        counts["self"] += 1
        s.close()  # it holds the port: let it go at once
        return None
    counts["connected"] += 1
    return s


def listen(address, port):
    server = socket.socket(family(address), socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(1024)  # the kernel completes them; nobody needs to accept
    return server


def hold(listen_address, address, port, count, before=0):
    for _ in range(before):
        dial(address, port)
    time.sleep(0.05)
    counts["refused_before"] = counts["refused"]
    server = listen(listen_address, port)
    held = []
    while len(held) < count and first_error == "none":
        s = dial(address, port)
        if s is not None:
            held.append(s)
    return server, held


def closed(address, port, count):
    server = listen(address, port)
    first = dial(address, port)
    server.close()
    if first is not None:
        first.close()
    counts["connected"] = 0
    for _ in range(count):
        s = dial(address, port)
        if s is not None:
            s.close()


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        kept = hold(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                    int(sys.argv[6]) if len(sys.argv) > 6 else 0)
    else:
        closed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" first_error={first_error}")
