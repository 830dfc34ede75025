"""fastopen_sink PORT [sendmsg]: one blocking sendto(MSG_FASTOPEN) of 16 MB
(with "sendmsg": one sendmsg() of it in three iovecs, 1000 bytes, 5000 and
the rest) to a server of its own on 127.0.0.1:PORT, which checks what
arrives. Prints "sent N of 16777216 received M" and "intact" or "changed"."""
import socket
import sys
import threading

port = int(sys.argv[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(1)
received = bytearray()


def serve():
    conn, _ = server.accept()
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        received.extend(chunk)


reader = threading.Thread(target=serve)
reader.start()
client = socket.socket()
data = bytes(range(256)) * (16 * 4096)
if sys.argv[2:] == ["sendmsg"]:
    parts = [data[:1000], data[1000:6000], data[6000:]]
    sent = client.sendmsg(parts, [], socket.MSG_FASTOPEN, ("127.0.0.1", port))
else:
    sent = client.sendto(data, socket.MSG_FASTOPEN, ("127.0.0.1", port))
client.close()
reader.join()
print(f"sent {sent} of {len(data)} received {len(received)} {'intact' if received == data else 'changed'}")
