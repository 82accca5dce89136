"""TLS for ``ekiden serve``: the server's :class:`ssl.SSLContext`, and how the in-process
runtime reaches the server it runs in.

Contract:

* :func:`server_context` reads a PEM certificate chain (the server's certificate first,
  then its intermediates, optionally the root) and a PEM private key (unencrypted) and
  returns a server context that speaks TLS 1.2 and 1.3 only, with forward-secret AEAD
  ciphers for TLS 1.2, no compression, no renegotiation, and ALPN ``http/1.1``. Every
  problem with the files -- missing, unreadable, not PEM, an encrypted key, a key that
  is not the certificate's -- raises :class:`TlsConfigError` (a ``ValueError``, so
  ``serve`` reports it as a startup error, exit status 2) whose message names the file
  and says what is wrong. A certificate that has expired or is not yet valid is logged
  as a warning only: clients decide whether to accept it.
* :func:`loopback_route` finds how the runtime inside the server can connect to it over
  TLS *and verify it*, by trying real handshakes: which host name to address (the bound
  address, ``127.0.0.1`` or ``localhost``: whichever the certificate names) and which
  trust store to use (the certificate file itself when its chain ends in a self-signed
  root, else the system's). Trying is more robust than reading subjectAltNames: it is
  exactly the check the runtime's client will make.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "HANDSHAKE_TIMEOUT_S",
    "MIN_VERSION",
    "LoopbackRoute",
    "TlsConfigError",
    "loopback_route",
    "server_context",
]

log = logging.getLogger("ekiden.server")

MIN_VERSION: Final = ssl.TLSVersion.TLSv1_2
"""The oldest protocol version the server accepts."""

HANDSHAKE_TIMEOUT_S: Final = 10.0
"""A client must finish its TLS handshake within this time, else it is disconnected.
Until the handshake completes, the HTTP layer does not see the connection at all (so
its idle sweep cannot close it): this bound is what keeps half-open handshakes from
piling up."""

# TLS 1.2 suites: ECDHE/DHE key exchange (forward secrecy) with AES-GCM or ChaCha20
# only -- Mozilla's "intermediate" profile. TLS 1.3 suites are OpenSSL's defaults (all
# of them are AEAD and forward-secret).
_TLS12_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!MD5:!DSS"

_PROBE_TIMEOUT_S: Final = 5.0


class TlsConfigError(ValueError):
    """The TLS certificate or key cannot be used; the message says which file and why."""


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server-side TLS context of the chain in ``cert_file`` and the key in ``key_file``.

    Raises:
        TlsConfigError: a file is missing, unreadable or not PEM, the key is encrypted,
            or the key does not belong to the first certificate of the chain.
    """
    chain = _read_chain(cert_file)
    key = _read_key(key_file)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if chain[0].public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise TlsConfigError(
            f"tls_key {key_file} does not match the certificate in tls_cert {cert_file} "
            "(the file's first certificate must be the server's own, followed by its "
            "intermediates)"
        )
    _warn_if_not_valid_now(chain[0], cert_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSION
    context.options |= (
        ssl.OP_NO_COMPRESSION
        | ssl.OP_CIPHER_SERVER_PREFERENCE
        | ssl.OP_SINGLE_ECDH_USE
        | ssl.OP_SINGLE_DH_USE
        | ssl.OP_NO_RENEGOTIATION
    )
    context.set_ciphers(_TLS12_CIPHERS)
    context.set_alpn_protocols(["http/1.1"])
    try:
        # The password callback never prompts on a terminal: the key was checked above
        # to be unencrypted, so it is not called.
        context.load_cert_chain(str(cert_file), str(key_file), password=_no_password)
    except (ssl.SSLError, OSError) as exc:  # cryptography accepted what OpenSSL refuses
        raise TlsConfigError(
            f"tls_cert {cert_file} / tls_key {key_file} cannot be loaded: {exc}"
        ) from None
    return context


@dataclass(frozen=True, slots=True)
class LoopbackRoute:
    """How the in-process runtime connects to its own server: ``https://host:port``,
    verifying the certificate against ``ca_file`` (``None``: the system trust store)."""

    host: str
    ca_file: Path | None

    def endpoint(self, port: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{port}"


async def loopback_route(hosts: Sequence[str], port: int, cert_file: Path) -> LoopbackRoute:
    """The first (host, trust store) under which a TLS handshake with this server on
    ``port`` verifies, the way the runtime's SQS client makes it.

    ``hosts`` are the names that reach the server, best first. For each, the
    certificate file itself is tried as the trust store (it holds the root when the
    chain ends in one), then the system's (a certificate of a public CA).

    Raises:
        TlsConfigError: no combination verifies; the message says what the certificate
            must contain.
    """
    failures: list[str] = []
    for host in hosts:
        for ca_file in (cert_file, None):
            problem = await _handshake_problem(host, port, ca_file)
            if problem is None:
                return LoopbackRoute(host, ca_file)
            trust = "itself" if ca_file is not None else "the system trust store"
            failures.append(f"{host} verified against {trust}: {problem}")
    raise TlsConfigError(
        f"the functions runtime in this server cannot verify its own TLS certificate "
        f"({'; '.join(failures)}). The certificate must name one of {', '.join(hosts)} "
        f"(subjectAltName), and tls_cert {cert_file} must hold the chain up to its root "
        "CA unless that root is in the system trust store. Or run `ekiden serve "
        "--no-runtime` and `ekiden worker --endpoint https://... --ca-file CA.pem`."
    )


async def _handshake_problem(host: str, port: int, ca_file: Path | None) -> str | None:
    """``None`` when a verified handshake with ``host:port`` succeeds, else why not."""
    # The same context the runtime's SqsClient builds for an https endpoint.
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host),
            _PROBE_TIMEOUT_S,
        )
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message)
    except (OSError, TimeoutError) as exc:
        return str(exc) or type(exc).__name__
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), _PROBE_TIMEOUT_S)
    return None


def _no_password() -> bytes:
    raise TlsConfigError("the TLS private key is encrypted")


def _read_bytes(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsConfigError(f"{setting} {path}: no such file") from None
    except IsADirectoryError:
        raise TlsConfigError(f"{setting} {path}: is a directory, not a PEM file") from None
    except OSError as exc:
        raise TlsConfigError(f"{setting} {path}: cannot be read: {exc.strerror}") from None


def _read_chain(path: Path) -> list[x509.Certificate]:
    data = _read_bytes(path, "tls_cert")
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsConfigError(
            f"tls_cert {path}: not a PEM certificate chain "
            "(expected -----BEGIN CERTIFICATE----- blocks)"
        ) from None
    return chain


def _read_key(path: Path) -> PrivateKeyTypes:
    data = _read_bytes(path, "tls_key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying "encrypted, and no password given"
        raise TlsConfigError(
            f"tls_key {path}: the private key is encrypted; ekiden needs it unencrypted "
            "(protect it with file permissions)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsConfigError(
            f"tls_key {path}: not a PEM private key (expected -----BEGIN PRIVATE KEY-----, "
            "RSA PRIVATE KEY or EC PRIVATE KEY)"
        ) from None


def _warn_if_not_valid_now(cert: x509.Certificate, path: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    if now > cert.not_valid_after_utc:
        log.warning(
            "tls_cert %s expired on %s: clients will refuse it", path, cert.not_valid_after_utc
        )
    elif now < cert.not_valid_before_utc:
        log.warning(
            "tls_cert %s is not valid before %s: clients will refuse it",
            path,
            cert.not_valid_before_utc,
        )
