"""ctypes_dial: dials ADDR PORT COUNT times through connect() taken from a
ctypes handle (LIBRARY: "libc.so.6", or "None" for the process's own
symbols) and prints "self=N": how many dials connected to themselves."""
import ctypes
import socket
import struct
import sys

library, addr, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
libc = ctypes.CDLL(None if library == "None" else library, use_errno=True)
self_count = 0
for _ in range(count):
    s = socket.socket()
    name = struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton(addr))
    if libc.connect(s.fileno(), name, len(name)) == 0 and s.getsockname() == s.getpeername():
        self_count += 1
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
print(f"self={self_count}")
