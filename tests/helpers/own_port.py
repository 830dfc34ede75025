"""own_port.py ADDR...: for each ADDR, an IPv6 socket bound to the wildcard
(::, dual-stack) and port 0 dials ADDR on the port it drew, as a peer that
answers from the port it listens on does. Where ADDR is one of this
namespace's own, the dial meets itself unless something stops it. Prints
one line: dials= self= refused= failed=.
"""
import socket
import sys

counts = dict(dials=0, self=0, refused=0, failed=0)
for addr in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind(("::", 0))
    counts["dials"] += 1
    try:
        s.connect((addr, s.getsockname()[1]))
        counts["self"] += s.getsockname()[:2] == s.getpeername()[:2]
    except ConnectionRefusedError:
        counts["refused"] += 1
    except OSError as e:
        counts["failed"] += 1
        print("error: %s" % e, file=sys.stderr)
    s.close()
print(" ".join("%s=%d" % kv for kv in counts.items()), flush=True)
