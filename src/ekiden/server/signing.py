"""The RSA key that signs SNS envelopes, its self-signed certificate, and the signer.

AWS signs every envelope of a standard topic (notifications to SQS and HTTP/S, and
subscription confirmations) with a key whose certificate it serves at ``SigningCertURL``;
receivers fetch the certificate and verify (guide, "Verifying the signatures of Amazon SNS
messages"). ekiden does the same with its own key: RSA-2048, created the first time a
data directory is used and kept in the store's ``meta`` table (so signatures made before a
restart still verify after it), with a self-signed X.509 certificate served by ekiden
itself at ``<base URL>/sns/SimpleNotificationService-<fingerprint>.pem``.

``SignatureVersion`` 1 is SHA1withRSA, 2 is SHA256withRSA, both PKCS#1 v1.5. This lives
in ``ekiden.server`` because ``ekiden.core`` does no cryptography (it builds the string to
sign and takes the signature back through ``ekiden.core.services.fanout.EnvelopeSigner``).

Cost: one RSA-2048 signature is about 0.8 ms of CPU on this machine, and the library does
not release the GIL while signing, so it runs on the event loop; a publish signs once
per message and protocol (SQS, HTTP, HTTPS), not per subscription.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from ekiden.core.sns_envelopes import EnvelopeSignature
from ekiden.store.sqlite.meta import keep_meta, read_meta
from ekiden.store.sqlite.writer import GroupCommitWriter

META_NAME = "sns_signing_key"
CERT_PATH_PREFIX = "/sns/SimpleNotificationService-"
KEY_BITS = 2048
_CERT_VALID_DAYS = 3650
_PEM_CERT_START = b"-----BEGIN CERTIFICATE-----"
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def new_key_and_certificate(region: str) -> bytes:
    """A fresh RSA key and a self-signed certificate for it, as one PEM document (the
    key, then the certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ekiden"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"sns.{region}.ekiden.local"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=_CERT_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)


class RsaEnvelopeSigner:
    """Signs envelopes with one RSA key; implements ``EnvelopeSigner``.

    ``cert_path`` is where ekiden serves ``cert_pem``: the last part names the
    certificate by its SHA-256 fingerprint, as AWS's names name theirs, so a receiver
    that caches certificates by URL never mixes two keys.
    """

    def __init__(self, pem: bytes) -> None:
        start = pem.index(_PEM_CERT_START)
        key = serialization.load_pem_private_key(pem[:start], password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the SNS signing key is not an RSA key")
        self._key = key
        self.cert_pem = pem[start:]
        certificate = x509.load_pem_x509_certificate(self.cert_pem)
        fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER))
        self.cert_path = f"{CERT_PATH_PREFIX}{fingerprint.hexdigest()[:32]}.pem"

    def sign(
        self, string_to_sign: bytes, signature_version: str, base_url: str
    ) -> EnvelopeSignature:
        """The base64 PKCS#1 v1.5 signature of ``string_to_sign`` with SHA1 (version
        ``"1"``) or SHA256 (``"2"``), and the certificate's URL under ``base_url``."""
        signature = self._key.sign(string_to_sign, padding.PKCS1v15(), _HASHES[signature_version]())
        return EnvelopeSignature(
            signature_version,
            base64.b64encode(signature).decode("ascii"),
            base_url.rstrip("/") + self.cert_path,
        )


async def load_signer(writer: GroupCommitWriter, region: str) -> RsaEnvelopeSigner:
    """The signer of the data directory the store ``writer`` belongs to: its stored key,
    or a new one (made off the event loop, it takes a tenth of a second) stored now."""
    pem = await read_meta(writer, META_NAME)
    if pem is None:
        made = await asyncio.get_running_loop().run_in_executor(
            None, new_key_and_certificate, region
        )
        pem = await keep_meta(writer, META_NAME, made)
    return RsaEnvelopeSigner(pem)
