"""steered_from: where a refused dial leaves its socket, one line per dial:

    python3 steered_from.py [--timeout S] PORT ADDR[%DEVICE]... [then REMOTE]

For each ADDR, a fresh blocking TCP socket (bound to DEVICE with
SO_BINDTODEVICE when given) dials ADDR PORT, where nothing listens, and the
line says how it ended and the socket's own name after it:
"ADDR refused from HOST port=other|same|0" (its port against PORT;
"timed-out" for a dial unanswered after S seconds, with --timeout).
With "then REMOTE", the same socket of the last ADDR dials REMOTE PORT
without blocking after its refusal: "again REMOTE: ERRNO" (OK for
EINPROGRESS, a dial under way).
"""
import errno
import socket
import sys

args = sys.argv[1:]
timeout = None
if args[0] == "--timeout":
    timeout = float(args[1])
    args = args[2:]
port = int(args[0])
args = args[1:]
remote = None
if "then" in args:
    remote = args[args.index("then") + 1]
    args = args[: args.index("then")]


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def name(code):
    return "OK" if code in (0, errno.EINPROGRESS) else errno.errorcode.get(code, str(code))


sock = None
for spec in args:
    host, _, device = spec.partition("%")
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    if device:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
    sock.settimeout(timeout)
    ended = name(sock.connect_ex((host, port)))  # EAGAIN: the timeout ran out
    ended = {"ECONNREFUSED": "refused", "EAGAIN": "timed-out"}.get(ended, ended)
    own = sock.getsockname()
    kept = "0" if own[1] == 0 else ("other" if own[1] != port else "same")
    print(f"{spec} {ended} from {own[0]} port={kept}")
    if remote is None or spec != args[-1]:
        sock.close()
if remote is not None:
    sock.setblocking(False)
    print(f"again {remote}: {name(sock.connect_ex((remote, port)))}")
    sock.close()
