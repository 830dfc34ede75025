"""refusal: how a dial to ADDR PORT ends, spelled out, once blocking and once
non-blocking, for comparing a refusal with another side by side:

    python3 refusal.py ADDR PORT [bound]

prints "blocking: ERRNO" and "nonblock: ERRNO then SO_ERROR=ERRNO" (OK for
none; SELF for a self-connection). With "bound", each socket binds ADDR PORT
itself first (the self-connection is then certain without a guard).
"""
import errno
import select
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
bound = len(sys.argv) > 3 and sys.argv[3] == "bound"
family = socket.AF_INET6 if ":" in host else socket.AF_INET


def name(code):
    return errno.errorcode.get(code, str(code)) if code else "OK"


def dial(blocking):
    s = socket.socket(family, socket.SOCK_STREAM)
    if bound:
        s.bind((host, port))
    s.setblocking(blocking)
    code = s.connect_ex((host, port))
    text = name(code)
    if code == errno.EINPROGRESS:
        select.select([], [s], [], 5)
        text += " then SO_ERROR=" + name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    if text.endswith("OK"):
        try:
            if s.getsockname() == s.getpeername():
                text += " SELF"
        except OSError:
            pass
    s.close()
    return text


print("blocking: " + dial(True))
print("nonblock: " + dial(False))
