"""Posts the same fact to nhacviec's control socket again and again until a deadline, as whoever
runs it (the tests run it under setpriv as a writer or a reader), and prints how the daemon
answered: {"200": n, "403": m, ...}. Debian's /usr/bin/python3, standard library only.

Usage: control_client.py SOCKET SECONDS UNIT
"""

import json
import socket
import sys
import time

path, seconds, unit = sys.argv[1], float(sys.argv[2]), sys.argv[3]
body = json.dumps({"facts": [{"kind": "report", "unit": unit, "rule": "annual", "period": "2026"}]}).encode()
request = (
    b"POST /v1/facts HTTP/1.1\r\nHost: nhacviec\r\nContent-Type: application/json\r\n"
    + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    + body
)
answers = {}
until = time.monotonic() + seconds
while time.monotonic() < until:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(request)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
        status = reply.split(b" ", 2)[1].decode() if reply.startswith(b"HTTP/1.1 ") else "none"
        answers[status] = answers.get(status, 0) + 1
print(json.dumps(answers))
