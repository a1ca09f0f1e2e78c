"""With a certificate and key, the agent speaks only https and wss, so tokens never cross a network in clear
text; a half-set or unloadable pair stops the start. The CLI reaches a wss:// agent trusting a CA file."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import TOKEN, make_settings
from underpaint.cli import main
from underpaint.client.agent_client import AgentClient
from underpaint.config import SettingsError
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made now, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "underpaint studio test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "agent.pem", folder / "agent.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
async def tls_agent(tmp_path: Path, pair: tuple[Path, Path]) -> AsyncIterator[RunningAgent]:
    settings = make_settings(tmp_path, tls_certificate=pair[0], tls_private_key=pair[1])
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    yield agent
    await agent.stop()


async def test_the_handshake_runs_over_wss_trusting_the_agents_certificate(
        tls_agent: RunningAgent, pair: tuple[Path, Path]) -> None:
    assert tls_agent.ws_url.startswith("wss://")
    trusted = ssl.create_default_context(cafile=pair[0])
    async with await AgentClient.connect(tls_agent.ws_url, TOKEN, ssl=trusted) as client:
        assert await client.list_jobs() == []


async def test_an_untrusted_certificate_is_refused_by_the_client(tls_agent: RunningAgent) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await AgentClient.connect(tls_agent.ws_url, TOKEN, ssl=ssl.create_default_context())


async def test_plain_http_to_the_tls_port_gets_no_answer(tls_agent: RunningAgent) -> None:
    plain = tls_agent.http_url.replace("https://", "http://", 1)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"{plain}/v1/jobs/any/result.psd",
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                await response.read()


@pytest.mark.parametrize("missing", ["tls_private_key", "tls_certificate"])
async def test_half_a_pair_stops_the_start(tmp_path: Path, pair: tuple[Path, Path], missing: str) -> None:
    given = {"tls_certificate": pair[0], "tls_private_key": pair[1]}
    del given[missing]
    with pytest.raises(SettingsError, match=f"{missing} is not"):
        await start_agent(make_settings(tmp_path, **given), {"classic": ClassicEngine()})


@pytest.mark.parametrize("broken", ["missing", "not pem"])
async def test_an_unloadable_certificate_stops_the_start(tmp_path: Path, pair: tuple[Path, Path],
                                                         broken: str) -> None:
    certificate = tmp_path / "broken.pem"
    if broken == "not pem":
        certificate.write_text("not a certificate")
    with pytest.raises(SettingsError, match="Cannot serve TLS with the certificate"):
        await start_agent(make_settings(tmp_path, tls_certificate=certificate, tls_private_key=pair[1]),
                          {"classic": ClassicEngine()})


async def test_the_cli_reaches_a_wss_agent_trusting_its_ca_file(
        tls_agent: RunningAgent, pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No CA trusted until the CLI's ca_file says so (the variable is restored after the test).
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    env = {"UNDERPAINT_AGENT_URL": tls_agent.http_url, "UNDERPAINT_CA_FILE": str(pair[0]),
           "UNDERPAINT_TOKEN": TOKEN}
    # In a thread: the command runs its own event loop while this one serves the agent.
    result = await asyncio.to_thread(CliRunner(env=env).invoke, main,
                                     ["--config-dir", str(tmp_path / "cli-config"), "jobs", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
