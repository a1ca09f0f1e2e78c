"""The agent's credentials come from its settings: signed by default with a pair made on first start,
a studio's own pair when configured, off when turned off, and a clear error for a broken configuration."""

from __future__ import annotations

import io
from pathlib import Path

import c2pa
import pytest

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.runtime import credentials_for
from underpaint.results.credentials import CredentialsError
from underpaint.results.credentials.keys import LOCAL_SIGNER_FILE
from underpaint.results.credentials.provenance import COMPOSITE_SYNTHETIC
from underpaint.results.store import variant_name
from underpaint.server.serve import start_agent


def test_by_default_files_are_signed_with_a_pair_made_in_the_data_folder(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    credentials = credentials_for(settings)
    assert credentials.disclosure
    assert credentials.signing_key is not None and credentials.signing_key.self_made
    assert (settings.credentials_dir / LOCAL_SIGNER_FILE).is_file()


def test_a_configured_pair_signs_instead_of_the_local_one(tmp_path: Path) -> None:
    local = credentials_for(make_settings(tmp_path / "a")).signing_key
    assert local is not None
    certificate, key = tmp_path / "studio.pem", tmp_path / "studio.key"
    certificate.write_bytes(local.certificate_chain)
    key.write_bytes(local.private_key)
    studio = credentials_for(make_settings(tmp_path / "b", c2pa_certificate=certificate, c2pa_private_key=key))
    assert studio.signing_key is not None and not studio.signing_key.self_made
    assert not (tmp_path / "b" / "data" / "credentials").exists()


def test_turning_the_manifest_off_keeps_the_disclosure(tmp_path: Path) -> None:
    credentials = credentials_for(make_settings(tmp_path, c2pa_manifest=False))
    assert (credentials.signing_key, credentials.disclosure) == (None, True)


def test_a_configured_certificate_that_is_missing_is_a_clear_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, c2pa_certificate=tmp_path / "gone.pem", c2pa_private_key=tmp_path / "gone.key")
    with pytest.raises(CredentialsError, match=r"gone\.pem") as caught:
        credentials_for(settings)
    assert caught.value.code == "bad_credentials"


def test_missing_trust_anchors_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="trust anchors"):
        credentials_for(make_settings(tmp_path, c2pa_trust_anchors=tmp_path / "anchors.pem"))


async def test_a_job_through_the_agent_writes_signed_disclosed_files(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    image, mask = textured_rgba(48, 64), soft_ellipse(48, 64, (20, 12, 24, 20))
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await client.submit("signed-1", Mode.FILL, Size(width=64, height=48), Rect(x=0, y=0, width=64, height=48),
                                Params(variants=1), image, mask)
            assert (await client.follow("signed-1")).state == "done"
    finally:
        await agent.stop()
    data = (settings.results_dir / "signed-1" / variant_name(0)).read_bytes()
    with c2pa.Reader("image/png", io.BytesIO(data)) as reader:
        assert reader.get_validation_state() == "Valid"
    # The classic engine runs no trained model, and the file says so.
    assert COMPOSITE_SYNTHETIC.encode() in data
