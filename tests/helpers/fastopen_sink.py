"""fastopen_sink PORT: one blocking sendto(MSG_FASTOPEN) of 16 MB to a
server of its own on 127.0.0.1:PORT, which counts what arrives. Prints
"sent N of 16777216 received M"."""
import socket
import sys
import threading

port = int(sys.argv[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(1)
received = [0]


def serve():
    conn, _ = server.accept()
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        received[0] += len(chunk)


reader = threading.Thread(target=serve)
reader.start()
client = socket.socket()
data = bytes(range(256)) * (16 * 4096)
sent = client.sendto(data, socket.MSG_FASTOPEN, ("127.0.0.1", port))
client.close()
reader.join()
print(f"sent {sent} of {len(data)} received {received[0]}")
