#!/usr/bin/python3
"""The benchmark's receiver: one HTTP/1.1 webhook endpoint and one SMTP server on 127.0.0.1, in
one asyncio loop (stdlib + aiosmtpd), recording when each message arrived and which notice it
carries, so that the driver can count arrivals, duplicates and latency.

  POST /hook/ANY     a webhook; answers 200 "ok"
  GET  /stats        {"count": arrivals, "distinct": distinct keys, "requests": HTTP hooks}
  GET  /arrivals     [[unix time, channel, key], ...]
  POST /reset        forgets every arrival
  POST /kill-at?count=N&pid=P   sends SIGKILL to process P as soon as N messages have arrived

The key of a message is the nhacviec notice key (Idempotency-Key header, X-Nhacviec-Key mail
header) or the Alertmanager alert name (each alert of a webhook payload; X-Bench-Key mail header,
which the benchmark's Alertmanager configuration sets). Usage:
  receiver.py --http-port-file F --smtp-port-file F
"""

import argparse
import asyncio
import email.parser
import json
import logging
import os
import signal
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"


class Record:
    def __init__(self):
        self.arrivals = []  # (t, channel, key)
        self.keys = set()
        self.requests = 0
        self.kill_at = None  # (count, pid)

    def add(self, t, channel, key):
        self.arrivals.append((t, channel, key))
        self.keys.add(key)
        if self.kill_at and len(self.arrivals) >= self.kill_at[0]:
            try:
                os.kill(self.kill_at[1], signal.SIGKILL)
            except OSError:
                pass
            self.kill_at = None

    def reset(self):
        self.arrivals = []
        self.keys = set()
        self.requests = 0
        self.kill_at = None


RECORD = Record()


def hook_keys(headers, body):
    key = headers.get("idempotency-key")
    if key:
        return [key]
    try:
        payload = json.loads(body)
        return [a["labels"].get("alertname", "?") for a in payload.get("alerts", [])] or ["?"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ["?"]


async def read_body(reader, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readline()
    length = int(headers.get("content-length") or 0)
    return await reader.readexactly(length) if length else b""


async def serve_http(reader, writer):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await read_body(reader, headers)
            status, out, ctype = 200, b"ok", "text/plain"
            if method == "POST" and target.startswith("/hook/"):
                t = time.time()
                RECORD.requests += 1
                for key in hook_keys(headers, body):
                    RECORD.add(t, "webhook", key)
            elif target == "/stats":
                out = json.dumps(
                    {"count": len(RECORD.arrivals), "distinct": len(RECORD.keys), "requests": RECORD.requests}
                ).encode()
                ctype = "application/json"
            elif target == "/arrivals":
                out = json.dumps(RECORD.arrivals).encode()
                ctype = "application/json"
            elif method == "POST" and target.startswith("/kill-at?"):
                q = dict(p.split("=", 1) for p in target.split("?", 1)[1].split("&") if "=" in p)
                RECORD.kill_at = (int(q["count"]), int(q["pid"]))
                out, ctype = b"{}", "application/json"
            elif method == "POST" and target == "/reset":
                RECORD.reset()
                out, ctype = b"{}", "application/json"
            else:
                status, out = 404, b"not found"
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                % (status, ctype.encode(), len(out), out)
            )
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


class MailHandler:
    parser = email.parser.BytesHeaderParser()

    async def handle_DATA(self, server, session, envelope):
        t = time.time()
        raw = envelope.original_content or b""
        headers = self.parser.parsebytes(raw)
        key = headers.get("X-Nhacviec-Key") or headers.get("X-Bench-Key") or "?"
        RECORD.add(t, "email", str(key).strip())
        return "250 2.0.0 OK"


def write_port(path, port):
    tmp = path + ".part"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


async def amain(a):
    loop = asyncio.get_running_loop()
    http = await asyncio.start_server(serve_http, HOST, 0, backlog=4096, limit=1 << 20)
    handler = MailHandler()
    smtp = await loop.create_server(
        lambda: SMTP(handler, loop=loop, decode_data=False, enable_SMTPUTF8=True, hostname="localhost"),
        host=HOST, port=0, backlog=4096,
    )
    write_port(a.http_port_file, http.sockets[0].getsockname()[1])
    write_port(a.smtp_port_file, smtp.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    http.close()
    smtp.close()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--http-port-file", required=True)
    p.add_argument("--smtp-port-file", required=True)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(lambda loop, context: None)
    try:
        loop.run_until_complete(amain(a))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
