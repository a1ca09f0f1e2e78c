"""One frozen Settings object, built once at start and passed down.

Precedence, lowest first: defaults, the TOML file in the user's config
folder, UNDERPAINT_* environment variables, CLI flags. `load_settings`
also records where each value came from, for `underpaint config`.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

APP_NAME = "underpaint"
ENV_PREFIX = "UNDERPAINT_"
CONFIG_FILE_NAME = "config.toml"
TOKEN_FILE_NAME = "token"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=7433, ge=0, le=65535)
    token: str | None = Field(default=None, description="Pairing token; read from the token file when unset.")
    require_token: bool = True
    allowed_origins: tuple[str, ...] = ("null",)
    allowed_hosts: tuple[str, ...] = ()
    tls_certificate: Path | None = Field(default=None, description="PEM certificate chain (the agent's first): "
                                         "`serve` speaks https and wss only, so tokens never cross a network in "
                                         "clear text. Needs tls_private_key.")
    tls_private_key: Path | None = Field(default=None, description="The private key (PEM) of tls_certificate.")
    agent_url: str | None = Field(default=None, description="The agent the CLI's client commands talk to, e.g. "
                                  "wss://studio.example:7433 (default: host and port here, wss:// when "
                                  "tls_certificate is set).")
    ca_file: Path | None = Field(default=None, description="CA certificates (PEM) the CLI trusts for a wss:// agent "
                                 "instead of the system store (a studio's own CA or a self-signed certificate).")
    data_dir: Path = Path(platformdirs.user_data_dir(APP_NAME))
    engine: str = "classic"
    max_pixels: int = Field(default=50_000_000, gt=0)
    chunk_bytes: int = Field(default=1 << 20, ge=1024)
    max_message_bytes: int = Field(default=(1 << 20) + 4096, ge=4096)
    max_variants: int = Field(default=16, ge=1, le=16)
    queue_size: int = Field(default=32, ge=1)
    queue_share: float = Field(default=0.5, gt=0, le=1, description="Most of queue_size one connection may hold.")
    upload_timeout: float = Field(default=30.0, gt=0)
    upload_memory_mb: float = Field(default=1024.0, gt=0, description="MB all unfinished uploads may announce.")
    upload_memory_per_connection_mb: float = Field(
        default=512.0, gt=0, description="MB one connection's unfinished uploads may announce.")
    resume_memory_mb: float = Field(default=256.0, ge=0,
                                    description="MB of finished jobs' result frames kept in memory for resume.")
    http_header_timeout: float = Field(default=10.0, gt=0,
                                       description="Seconds an HTTP connection may take to send a request's headers.")
    result_max_age_days: float = Field(default=14.0, gt=0)
    result_max_total_mb: float = Field(default=4096.0, gt=0)
    presets_folder: Path | None = Field(default=None, description="A team's delivery preset files (TOML or JSON), "
                                        "adding to and overriding the built-ins (default: data_dir/presets).")
    # Content Credentials (README: Content Credentials): what every written file says of how it was made.
    iptc_disclosure: bool = Field(default=True, description="IPTC DigitalSourceType (made or edited with AI) "
                                  "in every file's XMP.")
    c2pa_manifest: bool = Field(default=True, description="A signed C2PA manifest in every PNG, JPEG, WebP, TIFF "
                                "and AVIF; off: none is embedded (the IPTC disclosure stays unless it is off too).")
    c2pa_certificate: Path | None = Field(default=None, description="The studio's signing certificate chain (PEM, "
                                          "signer first); default: a local pair made in data_dir/credentials.")
    c2pa_private_key: Path | None = Field(default=None, description="The private key (PEM) of c2pa_certificate.")
    c2pa_trust_anchors: Path | None = Field(default=None, description="CA certificates (PEM) whose signers "
                                            "`underpaint verify` reports as trusted.")
    hot_folder: Path | None = None
    hot_folder_poll: float | None = Field(default=None, gt=0, description="Poll every N s instead of OS events.")
    hot_folder_stable_seconds: float = Field(default=2.0, gt=0, description="Unchanged this long = complete.")
    hot_folder_max_wait_seconds: float = Field(default=600.0, gt=0, description="Still changing after = failed.")
    hot_folder_rescan_seconds: float = Field(default=10.0, gt=0, description="Full rescan even without events.")
    # diffusers engine (offered only when a model is set or registered)
    model: str | None = Field(default=None, description="Default diffusers model: a registered name or a path.")
    models_file: Path | None = Field(default=None, description="Model registry (default: data_dir/models.json).")
    device: str = Field(default="auto", description="auto, cuda, cuda:N, mps or cpu.")
    dtype: str = Field(default="auto", description="auto (fp16 on GPUs; bf16 on CPUs with native bf16, AMX or "
                       "AVX512-BF16; else fp32), fp16, bf16 or fp32.")
    cpu_offload: bool | Literal["sequential"] = Field(
        default=False, description="On a GPU: true moves each model part to the GPU only while it runs; "
                                   "'sequential' each layer (the least GPU memory, many times slower).")
    drop_text_encoders: bool = Field(default=False, description="Free a FLUX or SD 3.5 model's T5 encoder once "
                                     "a job's prompt is encoded; it is read back from disk for the next job.")
    quantize: Literal["none", "nf4", "int8"] = Field(default="none", description="Quantise FLUX and SD 3.5 "
                                                     "transformers and T5 on load (needs bitsandbytes).")
    compile: bool = Field(default=False, description="torch.compile the UNet: faster steps after minutes of "
                          "warm-up per working size, kept in data_dir/compile-cache for the next start.")
    offline: bool = False
    max_loaded_models: int = Field(default=2, ge=1)
    # studio mode (README: Studio mode): the agent as the gateway of Ray workers
    cluster: str | None = Field(default=None, description="Run jobs' engine steps on Ray workers: auto, HOST:6379 "
                                "(the head's GCS port) or ray://HOST:10001 (Ray Client); unset: in this process.")
    cluster_worker_cpus: float | None = Field(default=None, gt=0, description="CPUs each worker on a CPU-only "
                                              "machine gets (unset: one worker takes all of that machine's).")
    cluster_max_workers: int | None = Field(default=None, ge=1, description="Most workers the gateway starts "
                                            "(unset: one per GPU, or per CPU-only machine, of the whole cluster).")

    @property
    def history_path(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def users_path(self) -> Path:
        """The named users of a studio agent and their token digests (cluster/users.py)."""
        return self.data_dir / "users.sqlite3"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def styles_dir(self) -> Path:
        return self.data_dir / "styles"

    @property
    def training_dir(self) -> Path:
        """One folder per training job: its copy of the dataset, checkpoints, samples, the LoRA and its report."""
        return self.data_dir / "training"

    @property
    def datasets_dir(self) -> Path:
        """Dataset folders a `train` request may name (the only folders it may make the agent read)."""
        return self.data_dir / "datasets"

    @property
    def credentials_dir(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def presets_dir(self) -> Path:
        return self.presets_folder or self.data_dir / "presets"

    @property
    def models_path(self) -> Path:
        return self.models_file or self.data_dir / "models.json"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)


FIELDS = tuple(Settings.model_fields)


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    sources: dict[str, str]
    config_dir: Path


class SettingsError(Exception):
    """Configuration that cannot start the agent; the message says what to change."""


def default_config_dir() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name in ("allowed_origins", "allowed_hosts"):
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif raw.strip().startswith(("[", "{")):
            values[name] = json.loads(raw)
        else:
            values[name] = raw
    return values


def _from_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise SettingsError(f"{path} has unknown settings {unknown}; known ones are {list(FIELDS)}.")
    return data


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
) -> LoadedSettings:
    """Merge the four sources; CLI values of None mean "not given"."""
    env = os.environ if env is None else env
    config_dir = config_dir or default_config_dir()
    layers = [
        (f"file {config_dir / CONFIG_FILE_NAME}", _from_file(config_dir / CONFIG_FILE_NAME)),
        ("environment", _from_env(env)),
        ("command line", {k: v for k, v in (cli or {}).items() if v is not None}),
    ]
    merged: dict[str, Any] = {}
    sources = dict.fromkeys(FIELDS, "default")
    for source, values in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = source
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))} from {sources.get(str(e['loc'][0]), '?')}: {e['msg']}"
            for e in exc.errors()
        )
        raise SettingsError(f"Invalid settings: {problems}") from exc
    if settings.token is None and settings.require_token:
        settings = settings.model_copy(update={"token": load_or_create_token(config_dir)})
        sources["token"] = f"file {config_dir / TOKEN_FILE_NAME}"
    if not settings.is_loopback and not (settings.require_token and settings.token):
        raise SettingsError(
            f"Refusing to listen on {settings.host}, which is not loopback, without a pairing token: "
            "anyone on the network could run jobs. Set require_token = true or bind to 127.0.0.1."
        )
    return LoadedSettings(settings, sources, config_dir)


def load_or_create_token(config_dir: Path) -> str:
    """The pairing token lives in the config folder, readable by the user only."""
    path = config_dir / TOKEN_FILE_NAME
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    config_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.replace(temporary, path)
    return token


def describe(loaded: LoadedSettings) -> list[tuple[str, str, str]]:
    """(name, value, source) rows for `underpaint config`; the token is masked."""
    rows = []
    for name in FIELDS:
        value = getattr(loaded.settings, name)
        shown = "*" * 8 if name == "token" and value else str(value)
        rows.append((name, shown, loaded.sources[name]))
    return rows
