#!/usr/bin/python3
"""Test HTTP/1.1 webhook server for nhacviec (127.0.0.1 only, stdlib only).

Behaviour is chosen by the request path (see README.md in this directory):
  POST /hook/NAME[?statuses=500,500,200][&retry_after=N][&delay=SECONDS][&echo=1]
  ANY  /loop/NAME        ->  307 to itself, for ever
  ANY  /bigheaders/NAME  ->  200 with a megabyte of headers
  ANY  /hang/NAME        ->  no answer at all
  GET  /count/NAME  ->  {"count": N}  (requests to NAME under any of the above)
  GET  /connections ->  {"open": N, "max": M}  (connections open now; the most open while a hook was answered)
"""

import argparse
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

HOST = "127.0.0.1"


def atomic_write(path, data: bytes):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.counts = {}
        self.open = 0
        self.most_open = 0
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def next_count(self, name):
        with self.lock:
            n = self.counts.get(name, 0) + 1
            self.counts[name] = n
            return n

    def opened(self, delta):
        with self.lock:
            self.open += delta

    def observe(self):
        # Measured while a hook is answered, so that a later GET /connections is not counted.
        with self.lock:
            self.most_open = max(self.most_open, self.open)

    def connections(self):
        with self.lock:
            return {"open": self.open, "max": self.most_open}

    def count(self, name):
        with self.lock:
            return self.counts.get(name, 0)

    def log(self, record):
        if self.log_file is None:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.log_lock:
            if not self.log_file.closed:
                self.log_file.write(line)
                self.log_file.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nhacviec-test-httpd"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def setup(self):
        ctx = self.server.tls_context
        if ctx is not None:
            # Handshake in the per-connection thread, not in accept().
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()
        # Counted once set up: finish() is only called for a handler whose setup() returned.
        self.server.state.opened(1)
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.state.opened(-1)

    # Quiet.
    def log_message(self, format, *args):
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def respond(self, status, body: bytes, content_type="text/plain; charset=utf-8", extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def handle_any(self):
        body = self.read_body()
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        self.server.state.log({
            "t": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
        })

        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path

        def q(name):
            v = query.get(name)
            return v[-1] if v else None

        if path.startswith("/hook/") and self.command == "POST":
            name = urllib.parse.unquote(path[len("/hook/"):])
            n = self.server.state.next_count(name)
            self.server.state.observe()
            status = 200
            statuses = q("statuses")
            if statuses:
                codes = [int(s) for s in statuses.split(",") if s.strip()]
                if codes:
                    status = codes[min(n, len(codes)) - 1]
            delay = q("delay")
            if delay:
                time.sleep(float(delay))
            extra = []
            retry_after = q("retry_after")
            if retry_after is not None and status in (429, 503):
                extra.append(("Retry-After", retry_after))
            text = b"ok" if status == 200 else ("status %d" % status).encode()
            if status != 200 and q("echo") == "1":
                # As some servers do: the request's target and credentials repeated in the error.
                told = [(k, v) for k, v in headers.items()
                        if k == "authorization" or (k.startswith("x-") and k != "x-nhacviec-signature")]
                text += (" for %s %s; " % (self.command, self.path)
                         + "; ".join("%s: %s" % kv for kv in told)).encode()
            self.respond(status, text, extra_headers=extra)
        elif path.startswith("/loop/"):
            # A redirect to itself, for ever: counts how many requests a client makes.
            name = urllib.parse.unquote(path[len("/loop/"):])
            self.server.state.next_count(name)
            self.respond(307, b"again", extra_headers=[("Location", self.path)])
        elif path.startswith("/bigheaders/"):
            # Headers without end (a megabyte of them), then nothing useful.
            name = urllib.parse.unquote(path[len("/bigheaders/"):])
            self.server.state.next_count(name)
            filler = "x" * 1000
            self.respond(200, b"ok", extra_headers=[("X-Filler-%d" % i, filler) for i in range(1000)])
        elif path.startswith("/hang/"):
            # Reads the request, then never answers.
            name = urllib.parse.unquote(path[len("/hang/"):])
            self.server.state.next_count(name)
            time.sleep(3600)
        elif path == "/connections" and self.command in ("GET", "HEAD"):
            out = json.dumps(self.server.state.connections()).encode()
            self.respond(200, out, content_type="application/json")
        elif path.startswith("/count/") and self.command in ("GET", "HEAD"):
            name = urllib.parse.unquote(path[len("/count/"):])
            out = json.dumps({"count": self.server.state.count(name)}).encode()
            self.respond(200, out, content_type="application/json")
        else:
            self.respond(404, b"not found")

    do_POST = do_GET = do_PUT = do_HEAD = do_DELETE = do_PATCH = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    p = argparse.ArgumentParser(description="Test HTTP/1.1 webhook server on 127.0.0.1")
    p.add_argument("--port-file", help="write the listening port here (atomically)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default: ephemeral)")
    p.add_argument("--log", help="append one JSON line per request here")
    p.add_argument("--tls-cert", help="certificate (PEM) for HTTPS")
    p.add_argument("--tls-key", help="private key (PEM) for HTTPS")
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")

    srv = Server((HOST, a.port), Handler)
    srv.state = State(a.log)
    srv.tls_context = None
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.tls_context = ctx

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    if a.port_file:
        atomic_write(a.port_file, ("%d\n" % srv.server_address[1]).encode())
    while not stop.wait(1.0):
        pass
    srv.shutdown()
    srv.server_close()
    if srv.state.log_file:
        with srv.state.log_lock:
            srv.state.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
