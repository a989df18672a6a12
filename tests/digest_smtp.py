"""A real SMTP server on loopback for the digest tests (aiosmtpd in a thread): it keeps what it receives and can be
told to answer the next DATA commands with given replies ("451 ..." to fail transiently, "550 ..." for good), to
offer STARTTLS with a self-signed certificate, or to speak TLS from the first byte (smtps://), and to require a
login.

    with smtp_server() as server: ...  server.url, server.messages (email.message.EmailMessage), server.replies
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.tls_versions: list[str] = []  # per message received: "TLSv1.3", or "" when it came in clear
        self.replies: list[str] = []  # answers to the next DATA commands instead of accepting
        self.data_commands = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_commands += 1
            if self.replies:
                return self.replies.pop(0)
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            tls = server.transport.get_extra_info("ssl_object")
            self.tls_versions.append(tls.version() if tls else "")
        return "250 OK"


class SmtpServer:
    def __init__(self, mailbox: Mailbox, port: int, scheme: str = "smtp", login: str = "") -> None:
        self.mailbox = mailbox
        self.port = port
        self.url = f"{scheme}://{login + '@' if login else ''}127.0.0.1:{port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    @property
    def replies(self) -> list[str]:
        return self.mailbox.replies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the system's openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def smtp_server(
    *, tls_files: tuple[Path, Path] | None = None, password: str = "", implicit_tls: bool = False
) -> Iterator[SmtpServer]:
    """An SMTP server on a free loopback port; with `tls_files` it offers STARTTLS (or, with `implicit_tls`, speaks
    TLS from the first byte), with `password` it requires `digest:<password>` as its login (over TLS)."""
    mailbox = Mailbox()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if tls_files:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
        if implicit_tls:
            # The whole connection is TLS: aiosmtpd offers AUTH only after STARTTLS unless told it may here.
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if password:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = auth_data.login == b"digest" and auth_data.password == password.encode()
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticate, auth_required=True)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        scheme = "smtps" if tls_files and implicit_tls else "smtp"
        yield SmtpServer(mailbox, port, scheme, login=f"digest:{password}" if password else "")
    finally:
        controller.stop()
