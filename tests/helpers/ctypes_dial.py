"""ctypes_dial: dial with the connect() of a handle on libc, as Python's
ctypes, JNA or .NET's DllImport do (dlopen, then dlsym: no preload sees it),
and count what happens as tests/helpers/dial.c does.

    python3 ctypes_dial.py COUNT ADDR PORT
"""
import ctypes
import errno
import socket
import sys

count, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL("libc.so.6", use_errno=True)
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
