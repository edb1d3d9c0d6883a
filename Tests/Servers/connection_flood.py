"""Holds many connections to nhacviec's control socket without sending a request, opening a new
one for each the daemon closes, until a deadline: a client flooding the socket with connections.
Debian's /usr/bin/python3, standard library only; prints how many connections it opened.

Usage: connection_flood.py SOCKET SECONDS CONNECTIONS
"""

import selectors
import socket
import sys
import time

path, seconds, wanted = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
selector = selectors.DefaultSelector()
opened = 0


def connect():
    global opened
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        return
    s.setblocking(False)
    selector.register(s, selectors.EVENT_READ)
    opened += 1


until = time.monotonic() + seconds
while time.monotonic() < until:
    while len(selector.get_map()) < wanted and time.monotonic() < until:
        connect()
    for key, _ in selector.select(timeout=0.01):
        # The daemon answered (503) or closed it: make another.
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            selector.unregister(key.fileobj)
            key.fileobj.close()
print(opened, flush=True)
