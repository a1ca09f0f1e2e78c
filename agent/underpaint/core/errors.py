"""Stable error codes (protocol v1 sends them) and the exceptions that carry them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ValidationError


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
    UPLOAD_TOO_LARGE = "upload_too_large"
    UPLOAD_BUDGET_EXCEEDED = "upload_budget_exceeded"
    BAD_IMAGE = "bad_image"
    SIZE_MISMATCH = "size_mismatch"
    EMPTY_MASK = "empty_mask"
    EMPTY_INSTRUCTION = "empty_instruction"
    BAD_REGION = "bad_region"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNSUPPORTED_MODE = "unsupported_mode"
    UNKNOWN_ENGINE = "unknown_engine"
    UNKNOWN_MODEL = "unknown_model"
    UNKNOWN_SCHEDULER = "unknown_scheduler"
    MODEL_UNAVAILABLE = "model_unavailable"
    UNKNOWN_LORA = "unknown_lora"
    INCOMPATIBLE_LORA = "incompatible_lora"
    LORA_CHANGED = "lora_changed"
    UNSUPPORTED_FEATURE = "unsupported_feature"
    TOO_MANY_LORAS = "too_many_loras"
    WEIGHT_OUT_OF_RANGE = "weight_out_of_range"
    UNKNOWN_CONTROL_KIND = "unknown_control_kind"
    TOO_MANY_CONTROLS = "too_many_controls"
    BAD_STEP_RANGE = "bad_step_range"
    CONTROL_NEEDS_IMAGE = "control_needs_image"
    CONTROL_NEEDS_SOURCE = "control_needs_source"
    CONTROL_SIZE_MISMATCH = "control_size_mismatch"
    UNKNOWN_CONTROLNET = "unknown_controlnet"
    INCOMPATIBLE_CONTROLNET = "incompatible_controlnet"
    CONTROLNET_CHANGED = "controlnet_changed"
    NO_PREPROCESSOR = "no_preprocessor"
    PREPROCESSOR_CHANGED = "preprocessor_changed"
    TOO_MANY_REFERENCES = "too_many_references"
    UNKNOWN_IP_ADAPTER = "unknown_ip_adapter"
    INCOMPATIBLE_IP_ADAPTER = "incompatible_ip_adapter"
    IP_ADAPTER_CHANGED = "ip_adapter_changed"
    UNKNOWN_STYLE = "unknown_style"
    BAD_STYLE = "bad_style"
    BAD_SET = "bad_set"
    UNKNOWN_UPSCALER = "unknown_upscaler"
    UPSCALER_CHANGED = "upscaler_changed"
    UNSUPPORTED_MODEL_FILE = "unsupported_model_file"
    UPSCALE_TOO_LARGE = "upscale_too_large"
    UNKNOWN_PRESET = "unknown_preset"
    BAD_PRESET = "bad_preset"
    TARGET_SIZE_UNREACHABLE = "target_size_unreachable"
    UNKNOWN_VARIANT = "unknown_variant"
    EMPTY_DATASET = "empty_dataset"
    NO_USABLE_IMAGES = "no_usable_images"
    TOO_FEW_IMAGES = "too_few_images"
    BAD_TRAINING = "bad_training"
    BAD_CREDENTIALS = "bad_credentials"
    PROBLEM_JOB = "problem_job"
    NO_WORKERS = "no_workers"
    QUEUE_FULL = "queue_full"
    CLIENT_QUEUE_FULL = "client_queue_full"
    USER_QUEUE_FULL = "user_queue_full"
    JOB_ID_CONFLICT = "job_id_conflict"
    UNKNOWN_JOB = "unknown_job"
    ENGINE_FAILED = "engine_failed"
    AGENT_RESTARTED = "agent_restarted"
    RESULT_NOT_SAVED = "result_not_saved"
    INTERNAL = "internal_error"


# The codes a client may resubmit unchanged and expect to succeed: the agent (or a studio's workers)
# was busy or went away, the engine hit a transient failure (memory, a device hiccup), or the disk had
# no room for the result files. Everything else is about the request itself, or a model file that is
# missing or broken, and fails again until someone acts.
RETRYABLE = frozenset(
    {ErrorCode.UPLOAD_TIMEOUT, ErrorCode.UPLOAD_BUDGET_EXCEEDED, ErrorCode.QUEUE_FULL, ErrorCode.CLIENT_QUEUE_FULL,
     ErrorCode.USER_QUEUE_FULL, ErrorCode.AGENT_RESTARTED, ErrorCode.ENGINE_FAILED, ErrorCode.RESULT_NOT_SAVED,
     ErrorCode.NO_WORKERS}
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


_RANGED = frozenset({"weight", "strength"})
_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "greater_than", "less_than"})
_ADD_ONS = frozenset({"loras", "controls", "references"})


def request_error_from(exc: ValidationError, job_id: str | None = None, what: str = "request") -> RequestError:
    """The RequestError for invalid params, with the code of the first problem: a limit's own code
    (validators raise custom errors typed by ErrorCode), weight_out_of_range for a LoRA, control or
    reference weight outside its range, unknown_control_kind, else invalid_message."""
    error = exc.errors()[0]
    loc = tuple(str(part) for part in error["loc"])
    where = ".".join(loc) or what
    code = ErrorCode.INVALID_MESSAGE
    if error["type"] in ErrorCode._value2member_map_:
        code = ErrorCode(error["type"])
    elif loc and loc[-1] in _RANGED and error["type"] in _RANGE_ERRORS and _ADD_ONS.intersection(loc):
        code = ErrorCode.WEIGHT_OUT_OF_RANGE
    elif loc and loc[-1] == "kind" and "controls" in loc and error["type"] == "enum":
        code = ErrorCode.UNKNOWN_CONTROL_KIND
    return RequestError(code, f"Invalid {what}: {where}: {error['msg']}.", job_id)
