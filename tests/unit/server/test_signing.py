"""The SNS envelope signer: RSA signatures that verify with its certificate, for both
signature versions, and one key per data directory, kept across reopening the store."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ekiden.core.sns_envelopes import notification_for
from ekiden.core.sns_messages import PublishInput, validate_publish
from ekiden.core.topics import TopicSettings
from ekiden.server.signing import (
    KEY_BITS,
    RsaEnvelopeSigner,
    load_signer,
    new_key_and_certificate,
)
from ekiden.store.sqlite.store import SqliteStore


@pytest.fixture(scope="module")
def signer() -> RsaEnvelopeSigner:
    return RsaEnvelopeSigner(new_key_and_certificate("us-east-1"))


def public_key(signer: RsaEnvelopeSigner) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(signer.cert_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.mark.parametrize(("version", "algorithm"), [("1", hashes.SHA1()), ("2", hashes.SHA256())])
def test_a_signature_verifies_with_the_certificate_and_the_versions_hash(
    signer: RsaEnvelopeSigner, version: str, algorithm: hashes.HashAlgorithm
) -> None:
    published = validate_publish(
        PublishInput(message="hi\nthere", subject="s"),
        TopicSettings.from_attributes({}, fifo=False),
    )
    envelope = notification_for(
        published,
        protocol="https",
        message_id="m-1",
        topic_arn="arn:aws:sns:us-east-1:000000000000:t",
        timestamp_ms=1_700_000_000_000,
        unsubscribe_url="",
    )
    data = envelope.string_to_sign()

    signature = signer.sign(data, version, "http://127.0.0.1:9324/")

    assert signature.version == version
    raw = base64.b64decode(signature.signature)
    assert len(raw) == KEY_BITS // 8
    public_key(signer).verify(raw, data, padding.PKCS1v15(), algorithm)
    with pytest.raises(InvalidSignature):
        public_key(signer).verify(raw, data + b"x", padding.PKCS1v15(), algorithm)


def test_the_certificate_url_is_under_the_base_url_and_names_the_certificate(
    signer: RsaEnvelopeSigner,
) -> None:
    url = signer.sign(b"x", "2", "http://broker:9324/").signing_cert_url
    assert url == "http://broker:9324" + signer.cert_path
    assert signer.cert_path.startswith("/sns/SimpleNotificationService-")
    assert signer.cert_path.endswith(".pem")
    other = RsaEnvelopeSigner(new_key_and_certificate("us-east-1"))
    assert other.cert_path != signer.cert_path


def test_the_certificate_is_self_signed_x509_for_the_rsa_key(signer: RsaEnvelopeSigner) -> None:
    certificate = x509.load_pem_x509_certificate(signer.cert_pem)
    assert certificate.issuer == certificate.subject
    assert public_key(signer).key_size == KEY_BITS


def test_the_key_is_made_once_per_data_directory_and_kept_across_reopening(
    tmp_path: Path,
) -> None:
    async def cert_of(location: Path) -> bytes:
        store = await SqliteStore.open(location)
        try:
            return (await load_signer(store.writer, "us-east-1")).cert_pem
        finally:
            await store.close()

    first = asyncio.run(cert_of(tmp_path / "a"))
    again = asyncio.run(cert_of(tmp_path / "a"))
    elsewhere = asyncio.run(cert_of(tmp_path / "b"))

    assert first == again
    assert first != elsewhere
