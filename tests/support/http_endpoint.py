"""A real HTTP(S) endpoint in the test process for SNS's HTTP/S deliveries, and the
signature check of AWS's guide ("Verifying the signatures of Amazon SNS messages").

``Endpoint`` is an ``http.server`` in a thread: it records every POST and answers with
the next status of a script (then 200, or ``always`` forever). ``verify_signature``
fetches the certificate at ``SigningCertURL`` and checks ``Signature`` over the string
to sign built from the JSON fields, as a receiver on AWS would.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import queue
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


@dataclass(frozen=True)
class Received:
    """One POST the endpoint got: its path, lower-cased headers and body; when it came."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class Endpoint:
    """An HTTP server on 127.0.0.1 that records POSTs and answers them by script."""

    def __init__(
        self,
        statuses: Iterable[int] = (),
        *,
        always: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._script = list(statuses)
        self._always = always
        self._lock = threading.Lock()
        self.received: queue.Queue[Received] = queue.Queue()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.received.put(Received(self.path, headers, body, time.monotonic()))
                self.send_response(endpoint._next_status())
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer_next(self, *statuses: int) -> None:
        """Answer the next POSTs with ``statuses``, in order."""
        with self._lock:
            self._script.extend(statuses)

    def answer_always(self, status: int) -> None:
        """Answer every POST after the scripted ones with ``status``."""
        with self._lock:
            self._always = status

    def _next_status(self) -> int:
        with self._lock:
            if self._script:
                return self._script.pop(0)
            return self._always if self._always is not None else 200

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_port}/hook"

    def next(self, timeout_s: float = 10.0) -> Received:
        """The next POST, waiting up to ``timeout_s`` for it."""
        return self.received.get(timeout=timeout_s)

    def quiet_for(self, seconds: float) -> bool:
        """True when no POST arrives within ``seconds``."""
        try:
            self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def __enter__(self) -> Endpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# The keys of a SubscriptionConfirmation / UnsubscribeConfirmation envelope, in AWS's order.
CONFIRMATION_ENVELOPE_KEYS = [
    "Type",
    "MessageId",
    "Token",
    "TopicArn",
    "Message",
    "SubscribeURL",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
]


def verify_signature(message: dict[str, Any]) -> None:
    """Raise unless ``message`` (a parsed envelope) carries a valid signature, checked
    the way AWS's guide says: the certificate from SigningCertURL, "Key\\nValue\\n" for
    the type's fields in byte order (Subject only when present), SHA1withRSA for
    SignatureVersion 1 and SHA256withRSA for 2."""
    certificate = x509.load_pem_x509_certificate(
        requests.get(message["SigningCertURL"], timeout=10).content
    )
    keys = NOTIFICATION_KEYS if message["Type"] == "Notification" else CONFIRMATION_KEYS
    signed = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message).encode("utf-8")
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[message["SignatureVersion"]]
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(message["Signature"]), signed, padding.PKCS1v15(), algorithm)


@dataclass(frozen=True)
class PrivateCa:
    """A private CA and a server certificate for 127.0.0.1 that it signed."""

    ca_file: Path
    server_context: ssl.SSLContext


def make_private_ca(directory: Path) -> PrivateCa:
    """Write a CA certificate (``ca.pem``) and a server key and certificate it signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ekiden test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + server_cert.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return PrivateCa(ca_file, context)


def drain(endpoint: Endpoint) -> Iterator[Received]:
    """Every POST already received, without waiting."""
    while True:
        try:
            yield endpoint.received.get_nowait()
        except queue.Empty:
            return
