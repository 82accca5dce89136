"""The server's TLS context and how the in-process runtime finds a verified route to it.

Certificates are made fresh per test by a private CA (tests/support/tls_certs.py).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from ekiden.config import ConfigError, load_settings
from ekiden.server.http import HttpRequest, HttpResponse, HttpServer
from ekiden.server.tls import MIN_VERSION, LoopbackRoute, TlsConfigError, loopback_route
from ekiden.server.tls import server_context as make_server_context
from tests.support.tls_certs import Authority, ServerFiles, make_authority, make_server_files


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "ca")


@pytest.fixture
def files(ca: Authority, tmp_path: Path) -> ServerFiles:
    return make_server_files(ca, tmp_path)


# --- the server context ---------------------------------------------------------------


def test_context_from_a_matching_chain_and_key_accepts_tls_1_2_and_newer_only(
    files: ServerFiles,
) -> None:
    context = make_server_context(files.chain, files.key)
    assert context.minimum_version == MIN_VERSION == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.verify_mode == ssl.CERT_NONE  # no client certificates asked for
    tls12 = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12, "some TLS 1.2 suites must remain"
    assert all(("GCM" in name or "CHACHA20" in name) for name in tls12), tls12
    assert all(name.startswith(("ECDHE", "DHE")) for name in tls12), tls12


def test_a_certificate_without_its_chain_is_accepted_too(files: ServerFiles) -> None:
    assert make_server_context(files.cert, files.key).minimum_version == MIN_VERSION


def test_missing_certificate_file_is_named_in_the_error(files: ServerFiles, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsConfigError, match=rf"tls_cert {missing}: no such file"):
        make_server_context(missing, files.key)


def test_missing_key_file_is_named_in_the_error(files: ServerFiles, tmp_path: Path) -> None:
    missing = tmp_path / "nokey.pem"
    with pytest.raises(TlsConfigError, match=rf"tls_key {missing}: no such file"):
        make_server_context(files.cert, missing)


def test_a_file_that_is_not_pem_is_refused_with_what_was_expected(
    files: ServerFiles, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    with pytest.raises(TlsConfigError, match="not a PEM certificate chain"):
        make_server_context(garbage, files.key)
    with pytest.raises(TlsConfigError, match="not a PEM private key"):
        make_server_context(files.cert, garbage)
    with pytest.raises(TlsConfigError, match="is a directory"):
        make_server_context(tmp_path, files.key)


def test_a_key_of_another_certificate_is_refused(
    ca: Authority, files: ServerFiles, tmp_path: Path
) -> None:
    other = make_server_files(ca, tmp_path, prefix="other")
    with pytest.raises(TlsConfigError, match="does not match the certificate"):
        make_server_context(files.cert, other.key)


def test_a_chain_in_the_wrong_order_is_refused(
    ca: Authority, files: ServerFiles, tmp_path: Path
) -> None:
    backwards = tmp_path / "backwards.pem"
    backwards.write_bytes(ca.cert_path.read_bytes() + files.cert.read_bytes())
    with pytest.raises(TlsConfigError, match="first certificate must be the server's own"):
        make_server_context(backwards, files.key)


def test_an_encrypted_key_is_refused_without_prompting(ca: Authority, tmp_path: Path) -> None:
    locked = make_server_files(ca, tmp_path, prefix="locked", encrypt_key_with=b"s3cret")
    with pytest.raises(TlsConfigError, match="private key is encrypted"):
        make_server_context(locked.cert, locked.key)


# --- the runtime's route to its own server ----------------------------------------------


async def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, b"{}")


def _route(cert: Path, key: Path, hosts: list[str], trust_file: Path) -> LoopbackRoute:
    async def main() -> LoopbackRoute:
        server = HttpServer(_ok, tls=make_server_context(cert, key))
        port = await server.start("127.0.0.1", 0)
        try:
            return await loopback_route(hosts, port, trust_file)
        finally:
            await server.stop(1.0)

    return asyncio.run(main())


def test_runtime_trusts_a_chain_that_ends_in_its_root(files: ServerFiles) -> None:
    route = _route(files.chain, files.key, ["127.0.0.1", "localhost"], files.chain)
    assert route == LoopbackRoute("127.0.0.1", files.chain)
    assert route.endpoint(8443) == "https://127.0.0.1:8443"


def test_runtime_uses_localhost_when_the_certificate_does_not_name_127_0_0_1(
    ca: Authority, tmp_path: Path
) -> None:
    named = make_server_files(ca, tmp_path, dns_names=["localhost"], ip_addresses=[])
    route = _route(named.chain, named.key, ["127.0.0.1", "localhost"], named.chain)
    assert route == LoopbackRoute("localhost", named.chain)


def test_runtime_route_fails_clearly_when_the_certificate_cannot_be_verified(
    ca: Authority, tmp_path: Path
) -> None:
    elsewhere = make_server_files(ca, tmp_path, dns_names=["broker.example"], ip_addresses=[])
    with pytest.raises(TlsConfigError, match=r"must name one of 127\.0\.0\.1, localhost"):
        _route(elsewhere.chain, elsewhere.key, ["127.0.0.1", "localhost"], elsewhere.chain)
    # Named, but the file lacks the root and the system does not trust the private CA.
    leaf_only = make_server_files(ca, tmp_path, prefix="leaf")
    with pytest.raises(TlsConfigError, match="chain up to its root"):
        _route(leaf_only.cert, leaf_only.key, ["127.0.0.1"], leaf_only.cert)


# --- settings ---------------------------------------------------------------------------


def test_tls_settings_come_from_file_environment_and_flags(
    files: ServerFiles, tmp_path: Path
) -> None:
    config = tmp_path / "ekiden.toml"
    config.write_text(f'[server]\ntls_cert = "{files.chain}"\ntls_key = "{files.key}"\n')
    from_file = load_settings(config, {}, {})
    assert (from_file.tls_cert, from_file.tls_key) == (files.chain, files.key)
    env = {"EKIDEN_TLS_CERT": str(files.cert), "EKIDEN_TLS_KEY": str(files.key)}
    assert load_settings(None, env, {}).tls_cert == files.cert
    flags = {"tls_cert": str(files.cert), "tls_key": str(files.key)}
    assert load_settings(None, {}, flags).tls_key == files.key
    assert load_settings(None, {}, {}).tls_cert is None


def test_tls_cert_and_key_go_together(files: ServerFiles) -> None:
    with pytest.raises(ConfigError, match="tls_cert is set but tls_key is not"):
        load_settings(None, {"EKIDEN_TLS_CERT": str(files.cert)}, {})
    with pytest.raises(ConfigError, match="tls_key is set but tls_cert is not"):
        load_settings(None, {}, {"tls_key": str(files.key)})


def test_tls_files_must_exist_when_the_settings_are_loaded(
    files: ServerFiles, tmp_path: Path
) -> None:
    flags = {"tls_cert": str(tmp_path / "gone.pem"), "tls_key": str(files.key)}
    with pytest.raises(ConfigError, match="tls_cert from flag --tls-cert: must be an existing"):
        load_settings(None, {}, flags)
