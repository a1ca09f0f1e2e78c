"""Settings: defaults < config file < environment < command line, each value's source recorded."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from underpaint.config import SettingsError, describe, load_settings


def write_config(folder: Path, text: str) -> None:
    (folder / "config.toml").write_text(text, encoding="utf-8")


def test_defaults_listen_on_loopback_port_7433_with_the_classic_engine(tmp_path: Path) -> None:
    settings = load_settings(env={}, config_dir=tmp_path).settings
    assert (settings.host, settings.port, settings.engine) == ("127.0.0.1", 7433, "classic")


def test_each_source_overrides_the_one_before(tmp_path: Path) -> None:
    write_config(tmp_path, "port = 8001\nqueue_size = 5\nmax_variants = 4\n")
    env = {"UNDERPAINT_PORT": "8002", "UNDERPAINT_QUEUE_SIZE": "6"}
    loaded = load_settings({"port": 8003, "engine": None}, env=env, config_dir=tmp_path)
    assert (loaded.settings.port, loaded.settings.queue_size, loaded.settings.max_variants) == (8003, 6, 4)
    assert loaded.sources["port"] == "command line"
    assert loaded.sources["queue_size"] == "environment"
    assert loaded.sources["max_variants"].startswith("file ")
    assert loaded.sources["engine"] == "default"


def test_describe_masks_the_token(tmp_path: Path) -> None:
    loaded = load_settings({"token": "secret-value"}, env={}, config_dir=tmp_path)
    shown = {name: value for name, value, _ in describe(loaded)}
    assert "secret-value" not in shown.values()


def test_a_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(env={}, config_dir=tmp_path).settings.token
    second = load_settings(env={}, config_dir=tmp_path).settings.token
    assert first and first == second
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600


def test_list_settings_come_from_comma_separated_environment_values(tmp_path: Path) -> None:
    env = {"UNDERPAINT_ALLOWED_ORIGINS": "null, https://www.figma.com"}
    settings = load_settings(env=env, config_dir=tmp_path).settings
    assert settings.allowed_origins == ("null", "https://www.figma.com")


@pytest.mark.parametrize(("text", "message"), [
    ("port = [", "not valid TOML"),
    ("colour = 'red'\n", "unknown settings"),
    ("port = 'high'\n", "port"),
])
def test_a_bad_config_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    write_config(tmp_path, text)
    with pytest.raises(SettingsError, match=message):
        load_settings(env={}, config_dir=tmp_path)


def test_a_bad_environment_value_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="environment"):
        load_settings(env={"UNDERPAINT_QUEUE_SIZE": "lots"}, config_dir=tmp_path)
