"""Stable error codes of protocol v1 and the exception that carries them."""

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
    QUEUE_FULL = "queue_full"
    JOB_ID_CONFLICT = "job_id_conflict"
    UNKNOWN_JOB = "unknown_job"
    ENGINE_FAILED = "engine_failed"
    AGENT_RESTARTED = "agent_restarted"
    INTERNAL = "internal_error"


RETRYABLE = frozenset(
    {ErrorCode.UPLOAD_TIMEOUT, ErrorCode.QUEUE_FULL, ErrorCode.AGENT_RESTARTED, ErrorCode.ENGINE_FAILED}
)


class ProtocolError(Exception):
    """A request the agent refuses; becomes an `error` message, never a crash."""

    def __init__(self, code: ErrorCode, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.job_id = job_id

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE
