"""connect.py HOST PORT [SOURCE]: one blocking dial with Python's socket
module, the way most Python clients dial; SOURCE binds that address first
(source_address, port 0). Exits 0 when connected; a refusal ends in
Python's own ConnectionRefusedError."""
import socket
import sys

source = (sys.argv[3], 0) if len(sys.argv) > 3 else None
socket.create_connection((sys.argv[1], int(sys.argv[2])), source_address=source).close()
