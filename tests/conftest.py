"""Shared fixtures: a live agent on a free loopback port, real clients, realistic images."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from underpaint.config import Settings
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, Engine, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent

TOKEN = "test-token-0123456789"


def textured_rgba(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Opaque RGBA8 with gradients, stripes and grain, like a photo's texture."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 90 + 80 * np.sin(xs / 9.0) + ys / max(height, 1) * 60
    green = 110 + 50 * np.cos((xs + ys) / 14.0)
    blue = 70 + xs / max(width, 1) * 120
    rgb = np.stack([red, green, blue], axis=-1) + rng.normal(0, 10, (height, width, 3))
    alpha = np.full((height, width, 1), 255, dtype=np.float32)
    return np.concatenate([rgb, alpha], axis=-1).clip(0, 255).astype(np.uint8)


def soft_ellipse(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Gray8 soft ellipse inside box (x, y, w, h): 255 in the middle, a ramp at the rim."""
    x, y, w, h = box
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.sqrt(((xs - (x + w / 2)) / (w / 2)) ** 2 + ((ys - (y + h / 2)) / (h / 2)) ** 2)
    return (np.clip((1.0 - r) / 0.3, 0, 1) * 255).round().astype(np.uint8)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "port": 0, "token": TOKEN, "data_dir": tmp_path / "data", "upload_timeout": 5.0,
    }
    return Settings.model_validate(values | overrides)


class GatedEngine(ModellessEngine):
    """The classic engine, but each step waits for the test to open the gate.

    Lets tests hold a job at a known point (running, mid-variant) without
    sleeping; the pixels are still the classic engine's real output.
    """

    def __init__(self) -> None:
        self.inner = ClassicEngine()
        self.gate = threading.Semaphore(0)
        self.steps_waiting = threading.Event()
        self.open = False

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.inner.capabilities

    def release(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.gate.release()

    def open_fully(self) -> None:
        self.open = True
        self.gate.release(1000)

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        def gated(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
            progress(variant, step, steps, preview)
            self.steps_waiting.set()
            while not self.open and not self.gate.acquire(timeout=0.05):
                cancel.raise_if_cancelled()

        return self.inner.run(work, gated, cancel)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def gated() -> Iterator[GatedEngine]:
    engine = GatedEngine()
    yield engine
    engine.open_fully()



@pytest.fixture
async def agent(settings: Settings) -> AsyncIterator[RunningAgent]:
    running = await start_agent(settings, {"classic": ClassicEngine()})
    yield running
    await running.stop()


@pytest.fixture
async def gated_agent(settings: Settings, gated: GatedEngine) -> AsyncIterator[RunningAgent]:
    engines: dict[str, Engine] = {"classic": gated}
    running = await start_agent(settings, engines)
    yield running
    gated.open_fully()
    await running.stop()


# The tiny diffusers models, built once per session and shared by every test module that needs them.


@pytest.fixture(scope="session")
def registry_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_pipelines import build_tiny_models

    return build_tiny_models(tmp_path_factory.getbasetemp() / "tiny-models")


@pytest.fixture(scope="session")
def engine(registry_path: Path) -> Engine:
    """One diffusers engine for the session: its models stay warm between tests, as in the agent."""
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions
    from underpaint.engines.diffusers.registry import ModelRegistry

    return DiffusersEngine(ModelRegistry(registry_path), "sd15", LoadOptions(placement("cpu")), max_models=4)


@pytest.fixture(scope="session")
def family_registry_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny FLUX.1 ([dev], [schnell], Fill, Kontext) and SD 3.5 models, each registered under its family's name."""
    from tiny_flux import build_tiny_families

    return build_tiny_families(tmp_path_factory.getbasetemp() / "tiny-families")


@pytest.fixture(scope="session")
def family_engine(family_registry_path: Path) -> Engine:
    """One diffusers engine over the tiny FLUX.1 and SD 3.5 models, warm for the session."""
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions
    from underpaint.engines.diffusers.registry import ModelRegistry

    return DiffusersEngine(ModelRegistry(family_registry_path), "flux-dev", LoadOptions(placement("cpu")),
                           max_models=5)
