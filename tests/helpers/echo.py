"""echo: a TCP echo server, and a client that checks what comes back.

    python3 echo.py serve ADDR PORT        (prints "listening", serves forever)
    python3 echo.py dial ADDR PORT COUNT [freebind|transparent|bound]...

The client makes COUNT connections, sends 64 KiB on each and reads them back
up to the server's end (so no half-closed connection outlives a dial), and
prints one line: connected= intact= refused= failed= self= (intact: the bytes
came back unchanged). freebind and transparent set IP_FREEBIND or
IP_TRANSPARENT (IPV6_FREEBIND, IPV6_TRANSPARENT) on each socket first; bound
binds it first to the wildcard of its family (:: is dual-stack) and PORT
itself, with SO_REUSEADDR, as a peer that dials from its own well-known port
does. ADDR may carry a scope (fe80::2%veth0).
"""
import os
import socket
import sys
import threading

IP_FREEBIND, IP_TRANSPARENT, IPV6_FREEBIND, IPV6_TRANSPARENT = 15, 19, 78, 75


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def echo(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def serve(host, port):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(64)
    print("listening", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def prepare(s, family, port, options):
    v6 = family == socket.AF_INET6
    for option in options:
        if option == "bound":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if v6 else "0.0.0.0", port))
            continue
        level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
        name = {("freebind", False): IP_FREEBIND, ("freebind", True): IPV6_FREEBIND,
                ("transparent", False): IP_TRANSPARENT,
                ("transparent", True): IPV6_TRANSPARENT}[(option, v6)]
        s.setsockopt(level, name, 1)


def dial(host, port, count, options):
    counts = dict(connected=0, intact=0, refused=0, failed=0, self=0)
    family = family_of(host)
    # getaddrinfo turns a scope (%veth0) into the scope id connect() needs
    where = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    for _ in range(count):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(10)
        prepare(s, family, port, options)
        try:
            s.connect(where)
        except ConnectionRefusedError:
            counts["refused"] += 1
            s.close()
            continue
        except OSError as e:
            counts["failed"] += 1
            print("error: %s" % e, file=sys.stderr)
            s.close()
            continue
        counts["connected"] += 1
        if s.getsockname()[:2] == s.getpeername()[:2]:
            counts["self"] += 1
        data = os.urandom(65536)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        back = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            back += chunk
        counts["intact"] += back == data
        s.close()
    print(" ".join("%s=%d" % kv for kv in counts.items()), flush=True)


if sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]))
else:
    dial(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), [o for o in sys.argv[5:] if o])
