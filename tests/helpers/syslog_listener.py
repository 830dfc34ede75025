"""syslog_listener.py PATH: a stand-in for syslog on the datagram socket PATH
(/dev/log in a private mount namespace). Prints "listening", then each
datagram received on a line of its own (bytes that are not UTF-8 shown as
backslash escapes), until 2 s pass without one."""
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
s.settimeout(2)
try:
    while True:
        print(s.recv(4096).decode(errors="backslashreplace"), flush=True)
except socket.timeout:
    pass
