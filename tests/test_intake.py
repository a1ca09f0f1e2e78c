"""jobs.intake: the one set of request checks every front door runs, with its stable codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from underpaint.core import RETRYABLE, ErrorCode, Margins, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic import CAPABILITIES
from underpaint.jobs.intake import Intake, JobRequest

SIZE = Size(width=40, height=30)
WHOLE = Rect(x=0, y=0, width=40, height=30)


class WithModels(ModellessEngine):
    """An engine that names its models and schedulers, as the diffusers engine does."""

    @property
    def capabilities(self) -> EngineCapabilities:
        return replace(CAPABILITIES, name="models", models=("sd15",), schedulers=("euler", "ddim"))

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        yield from ()


INTAKE = Intake({"models": WithModels()}, "models", max_pixels=40 * 30, max_variants=4)


def request(mode: Mode = Mode.FILL, **params: object) -> JobRequest:
    return JobRequest("j", mode, Params.model_validate(params), SIZE, WHOLE, SIZE, SIZE)


def refused(job: JobRequest) -> RequestError:
    with pytest.raises(RequestError) as caught:
        INTAKE.check(job)
    assert caught.value.job_id == "j"
    return caught.value


@pytest.mark.parametrize(("job", "code"), [
    (request(engine="dall-e"), ErrorCode.UNKNOWN_ENGINE),
    (request(model="sdxl-turbo"), ErrorCode.UNKNOWN_MODEL),
    (request(scheduler="heun"), ErrorCode.UNKNOWN_SCHEDULER),
    (request(Mode.GENERATE), ErrorCode.UNSUPPORTED_MODE),
    (request(variants=5), ErrorCode.INVALID_MESSAGE),
    (request(Mode.EXPAND), ErrorCode.INVALID_MESSAGE),
    (replace(request(), mask=None), ErrorCode.INVALID_MESSAGE),
    (replace(request(), image=Size(width=41, height=30)), ErrorCode.SIZE_MISMATCH),
    (replace(request(), region=Rect(x=1, y=0, width=40, height=30)), ErrorCode.BAD_REGION),
    (replace(request(), region=Rect(x=0, y=0, width=0, height=30)), ErrorCode.BAD_REGION),
    (replace(request(Mode.EXPAND, expand=Margins(right=1)), document=Size(width=40, height=31)),
     ErrorCode.TOO_MANY_PIXELS),
], ids=["engine", "model", "scheduler", "mode", "variants", "expand-margins", "no-mask", "image-size",
        "outside", "empty-region", "expanded-pixels"])
def test_a_request_is_refused_with_its_own_code_and_never_as_retryable(job: JobRequest, code: ErrorCode) -> None:
    error = refused(job)
    assert error.code is code and not error.retryable


def test_a_good_request_resolves_the_default_engine() -> None:
    assert INTAKE.check(request(model="sd15", scheduler="ddim")) == "models"


def test_the_spec_carries_the_engine_it_will_run_on() -> None:
    image, mask = np.zeros((30, 40, 4), np.uint8), np.full((30, 40), 255, np.uint8)
    spec = INTAKE.spec(request(), image, mask, "api", "test")
    assert spec.params.engine == "models" and spec.mode is Mode.FILL


def test_an_empty_mask_is_refused_once_the_pixels_are_known() -> None:
    image, mask = np.zeros((30, 40, 4), np.uint8), np.zeros((30, 40), np.uint8)
    with pytest.raises(RequestError) as caught:
        INTAKE.spec(request(), image, mask, "api", "test")
    assert caught.value.code is ErrorCode.EMPTY_MASK


def test_only_transient_codes_are_retryable() -> None:
    assert {code.value for code in RETRYABLE} == {
        "upload_timeout", "upload_budget_exceeded", "queue_full", "client_queue_full", "user_queue_full",
        "agent_restarted", "engine_failed", "result_not_saved", "no_workers"}
