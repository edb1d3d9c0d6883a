#!/usr/bin/python3
"""Test SMTP server for nhacviec (aiosmtpd, 127.0.0.1 only).

See README.md in this directory for options and failure-injection conventions.
Run with Debian's system Python (/usr/bin/python3) and python3-aiosmtpd.
"""

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import signal
import ssl
import sys
import tempfile
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"


def atomic_write(path, data: bytes):
    """Write data to path atomically (temp file in the same dir, then rename)."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Handler:
    def __init__(self, maildir, auth_configured):
        self.maildir = maildir
        self.auth_configured = auth_configured
        self.seen_once = set()
        self.lock = threading.Lock()
        self.counter = 0
        if maildir:
            os.makedirs(maildir, exist_ok=True)
            for name in os.listdir(maildir):
                m = re.fullmatch(r"(\d+)\.(eml|json)", name)
                if m:
                    self.counter = max(self.counter, int(m.group(1)))

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # With the 5-argument hook aiosmtpd leaves host_name to us.
        session.host_name = hostname
        if not self.auth_configured:
            # No --auth: do not advertise AUTH at all.
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rsplit("@", 1)[0].lower()
        if local.startswith("fail4xx-"):
            return "451 4.3.0 Try again later"
        if local.startswith("fail5xx-"):
            return "550 5.1.1 No such user"
        if local.startswith("once4xx-"):
            with self.lock:
                first = address not in self.seen_once
                self.seen_once.add(address)
            if first:
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(a.rsplit("@", 1)[0].lower().startswith("rejectdata-") for a in envelope.rcpt_tos):
            return "550 5.7.1 Message refused: content rejected by policy"
        raw = envelope.original_content
        if isinstance(raw, str):  # not expected with decode_data=False
            raw = raw.encode("utf-8", "surrogateescape")
        with self.lock:
            self.counter += 1
            n = self.counter
        ident = "%06d" % n
        if self.maildir:
            auth_user = None
            if session.authenticated and session.auth_data is not None:
                login = getattr(session.auth_data, "login", session.auth_data)
                if isinstance(login, bytes):
                    login = login.decode("utf-8", "replace")
                auth_user = login
            transport = server.transport
            tls = bool(
                transport is not None
                and transport.get_extra_info("ssl_object") is not None
            )
            peer = session.peer
            if isinstance(peer, tuple) and len(peer) >= 2:
                peer = "%s:%s" % (peer[0], peer[1])
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "auth_user": auth_user,
                "tls": tls,
                "peer": peer,
                "helo": session.host_name,
                "mail_options": list(envelope.mail_options),
                "smtp_utf8": bool(envelope.smtp_utf8),
                "size": len(raw),
            }
            atomic_write(
                os.path.join(self.maildir, ident + ".json"),
                (json.dumps(meta, ensure_ascii=False) + "\n").encode("utf-8"),
            )
            atomic_write(os.path.join(self.maildir, ident + ".eml"), raw)
        return "250 2.0.0 OK queued as " + ident


def make_authenticator(user, password, echo=False):
    user_b = user.encode("utf-8")
    pass_b = password.encode("utf-8")

    def authenticator(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user_b
            and auth_data.password == pass_b
        ):
            return AuthResult(success=True, auth_data=auth_data)
        if echo and isinstance(auth_data, LoginPassword):
            # As some servers do: the credentials that failed, repeated in the reply.
            blob = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password).decode()
            said = auth_data.password.decode("utf-8", "replace")
            return AuthResult(
                success=False, handled=False,
                message="535 5.7.8 Authentication failed for %s (%s, %s)"
                % (blob, said, base64.b64encode(auth_data.password).decode()))
        return AuthResult(success=False, handled=False)

    return authenticator


def parse_args(argv):
    p = argparse.ArgumentParser(description="Test SMTP server (aiosmtpd) on 127.0.0.1")
    p.add_argument("--port-file", help="write the listening port here (atomically)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default: ephemeral)")
    p.add_argument("--maildir", help="store accepted messages as NNNNNN.eml + NNNNNN.json")
    p.add_argument("--tls-cert", help="certificate (PEM) for STARTTLS / implicit TLS")
    p.add_argument("--tls-key", help="private key (PEM)")
    p.add_argument("--require-tls", action="store_true", help="refuse commands other than EHLO/NOOP/STARTTLS/QUIT before STARTTLS (530)")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (smtps)")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH PLAIN/LOGIN with these credentials")
    p.add_argument("--echo-auth", action="store_true", help="bad credentials -> 535 repeating them, plain and in base64")
    p.add_argument("--hostname", default="localhost", help="name in greeting/EHLO (default: localhost)")
    p.add_argument("--data-size-limit", type=int, default=32 * 1024 * 1024, help="max DATA bytes, 0 = unlimited (default 32 MiB)")
    p.add_argument("--verbose", action="store_true", help="aiosmtpd debug logging to stderr")
    a = p.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if (a.require_tls or a.implicit_tls) and not a.tls_cert:
        p.error("--require-tls/--implicit-tls need --tls-cert and --tls-key")
    if a.auth is not None and ":" not in a.auth:
        p.error("--auth wants USER:PASSWORD")
    return a


async def amain(a):
    loop = asyncio.get_running_loop()

    tls_ctx = None
    if a.tls_cert:
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(a.tls_cert, a.tls_key)

    auth_user = auth_pass = None
    if a.auth is not None:
        auth_user, auth_pass = a.auth.split(":", 1)

    handler = Handler(a.maildir, a.auth is not None)

    kwargs = dict(
        data_size_limit=a.data_size_limit or None,
        enable_SMTPUTF8=True,  # advertise SMTPUTF8; 8BITMIME comes with decode_data=False
        decode_data=False,
        hostname=a.hostname,
        ident="nhacviec-test-smtpd",
        auth_required=a.auth is not None,
    )
    if a.auth is not None:
        kwargs["authenticator"] = make_authenticator(auth_user, auth_pass, a.echo_auth)
    if a.implicit_tls:
        # The whole connection is TLS (asyncio's ssl= on the listener); aiosmtpd
        # only knows about STARTTLS, so give it no tls_context (no STARTTLS
        # offered) and let AUTH happen: the channel is already encrypted.
        kwargs["auth_require_tls"] = False
        server_ssl = tls_ctx
    else:
        server_ssl = None
        if tls_ctx is not None:
            kwargs["tls_context"] = tls_ctx
            kwargs["require_starttls"] = a.require_tls
            kwargs["auth_require_tls"] = True  # AUTH only after STARTTLS
        else:
            # No TLS at all: let AUTH happen in clear so that it is the
            # client that must refuse to send credentials without TLS.
            kwargs["auth_require_tls"] = False

    def factory():
        return SMTP(handler, loop=loop, **kwargs)

    server = await loop.create_server(factory, host=HOST, port=a.port, ssl=server_ssl)
    port = server.sockets[0].getsockname()[1]
    if a.port_file:
        atomic_write(a.port_file, ("%d\n" % port).encode())

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), 2)
    except asyncio.TimeoutError:
        pass


def quiet_exception_handler(loop, context):
    # TLS handshake failures, clients dropping connections, etc.: expected in
    # tests (e.g. a client that rejects our certificate); keep stderr clean.
    exc = context.get("exception")
    if isinstance(exc, (ssl.SSLError, ConnectionError, OSError, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.CRITICAL)
    logging.getLogger("mail.log").setLevel(logging.DEBUG if a.verbose else logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # aiosmtpd's SMTP() may call get_event_loop()
    if not a.verbose:
        loop.set_exception_handler(quiet_exception_handler)
    try:
        loop.run_until_complete(amain(a))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
