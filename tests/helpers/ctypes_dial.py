"""ctypes_dial: dial with the connect() of a handle on libc, as Python's
ctypes, JNA or .NET's DllImport do (dlopen, then dlsym: no preload sees it),
and count what happens as tests/helpers/dial.c does.

    python3 ctypes_dial.py [--library LIBRARY] COUNT ADDR PORT

LIBRARY: libc.so.6 (the default), or None for the process's own symbols
(ctypes.CDLL(None): the preload's connect() when it is loaded).
"""
import ctypes
import errno
import socket
import sys

args = sys.argv[1:]
library = "libc.so.6"
if args[:1] == ["--library"]:
    library, args = args[1], args[2:]
count, host, port = int(args[0]), args[1], int(args[2])
libc = ctypes.CDLL(None if library == "None" else library, use_errno=True)
family = socket.AF_INET6 if ":" in host else socket.AF_INET
if family == socket.AF_INET:
    name = (socket.AF_INET.to_bytes(2, sys.byteorder) + port.to_bytes(2, "big")
            + socket.inet_pton(family, host) + bytes(8))
else:
    name = (socket.AF_INET6.to_bytes(2, sys.byteorder) + port.to_bytes(2, "big")
            + bytes(4) + socket.inet_pton(family, host) + bytes(4))
counts = {"self": 0, "refused": 0, "connected": 0, "failed": 0}
for _ in range(count):
    s = socket.socket(family, socket.SOCK_STREAM)
    if libc.connect(s.fileno(), name, len(name)) == 0:
        counts["self" if s.getsockname() == s.getpeername() else "connected"] += 1
    elif ctypes.get_errno() == errno.ECONNREFUSED:
        counts["refused"] += 1
    else:
        counts["failed"] += 1
    s.close()
print("attempts=%d %s" % (count, " ".join("%s=%d" % kv for kv in counts.items())))
