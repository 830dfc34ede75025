"""connect.py HOST PORT: one blocking dial with Python's socket module, the
way most Python clients dial. Exits 0 when connected; a refusal ends in
Python's own ConnectionRefusedError."""
import socket
import sys

socket.create_connection((sys.argv[1], int(sys.argv[2]))).close()
