"""Stable error codes (protocol v1 sends them) and the exceptions that carry them."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    HANDSHAKE_REQUIRED = "handshake_required"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHORIZED = "unauthorized"
    BAD_FRAME = "bad_frame"
    UNKNOWN_STREAM = "unknown_stream"
    CHUNK_OUT_OF_ORDER = "chunk_out_of_order"
    UPLOAD_SIZE_MISMATCH = "upload_size_mismatch"
    UPLOAD_TIMEOUT = "upload_timeout"
    BAD_IMAGE = "bad_image"
    SIZE_MISMATCH = "size_mismatch"
    EMPTY_MASK = "empty_mask"
    BAD_REGION = "bad_region"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNSUPPORTED_MODE = "unsupported_mode"
    UNKNOWN_ENGINE = "unknown_engine"
    UNKNOWN_MODEL = "unknown_model"
    UNKNOWN_SCHEDULER = "unknown_scheduler"
    MODEL_UNAVAILABLE = "model_unavailable"
    QUEUE_FULL = "queue_full"
    JOB_ID_CONFLICT = "job_id_conflict"
    UNKNOWN_JOB = "unknown_job"
    ENGINE_FAILED = "engine_failed"
    AGENT_RESTARTED = "agent_restarted"
    INTERNAL = "internal_error"


# The codes a client may resubmit unchanged and expect to succeed: the agent was busy, went away,
# or the engine hit a transient failure (memory, a device hiccup). Everything else is about the
# request itself, or a model file that is missing or broken, and fails again until someone acts.
RETRYABLE = frozenset(
    {ErrorCode.UPLOAD_TIMEOUT, ErrorCode.QUEUE_FULL, ErrorCode.AGENT_RESTARTED, ErrorCode.ENGINE_FAILED}
)


class RequestError(Exception):
    """A request the agent refuses; becomes an `error` message, never a crash."""

    def __init__(self, code: ErrorCode, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.job_id = job_id

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE
