"""Protocol v1 messages as pydantic models: the Python codec of protocol/.

protocol/schemas/*.json are generated from these models (`make schemas`) and
a test fails when they drift apart; protocol/examples/ are conformance vectors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from underpaint.core import ErrorCode, Mode, Params, Rect, Size
from underpaint.results.recipe import Recipe

PROTOCOL_VERSION = "1.0"
WEBSOCKET_PATH = "/v1/ws"
JobId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
StreamId = Annotated[str, Field(min_length=1, max_length=128)]
Seq = Annotated[int, Field(ge=1, description="Per-job event sequence number, from 1 up by 1.")]
VariantIndex = Annotated[int, Field(ge=0, description="0-based variant index; seed = params.seed + index.")]
PixelFormat = Literal["rgba8", "gray8", "png"]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Blob(_Message):
    """Announces image bytes that follow in binary frames tagged with `stream`."""

    stream: StreamId
    format: PixelFormat
    width: int = Field(gt=0, le=65535)
    height: int = Field(gt=0, le=65535)
    bytes: int = Field(gt=0, description="Total payload bytes over all chunks.")


class ClientInfo(_Message):
    name: str = Field(min_length=1, max_length=64)
    version: str = Field(default="", max_length=64)


# client -> agent


class Hello(_Message):
    type: Literal["hello"] = "hello"
    protocol: str = Field(pattern=r"^\d+\.\d+$")
    client: ClientInfo
    token: str = Field(max_length=256)


class Plan(_Message):
    """Asks which context rectangle to send for a selection (only that travels)."""

    type: Literal["plan"] = "plan"
    request_id: str = Field(min_length=1, max_length=64)
    mode: Mode
    document: Size
    selection: Rect
    params: Params = Params()


class Submit(_Message):
    type: Literal["submit"] = "submit"
    job_id: JobId
    mode: Mode
    params: Params = Params()
    document: Size
    region: Rect = Field(description="Where `image` and `mask` sit in the document.")
    image: Blob | None = None
    mask: Blob | None = None
    result_format: Literal["raw", "png"] = "raw"
    previews: bool = False


class Cancel(_Message):
    type: Literal["cancel"] = "cancel"
    job_id: JobId


class Resume(_Message):
    type: Literal["resume"] = "resume"
    job_id: JobId
    after_seq: int = Field(ge=0, description="Last sequence number the client saw; 0 for all.")


class ListJobs(_Message):
    type: Literal["list_jobs"] = "list_jobs"
    limit: int = Field(default=50, ge=1, le=1000)


# agent -> client


class AgentInfo(_Message):
    name: Literal["underpaint"] = "underpaint"
    version: str


class EngineInfo(_Message):
    name: str
    modes: list[Mode]
    uses_prompt: bool
    native_min: int
    native_max: int
    multiple: int
    max_pixels: int
    models: list[str] = []
    description: str = ""


class Limits(_Message):
    max_pixels: int
    max_message_bytes: int
    chunk_bytes: int
    max_variants: int
    queue_size: int


class Capabilities(_Message):
    engines: list[EngineInfo]
    default_engine: str
    formats: list[PixelFormat]
    limits: Limits


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    protocol: str
    agent: AgentInfo
    capabilities: Capabilities


class Planned(_Message):
    type: Literal["planned"] = "planned"
    request_id: str
    context: Rect
    working: Size


class Accepted(_Message):
    type: Literal["accepted"] = "accepted"
    job_id: JobId
    seq: int = Field(
        ge=0,
        description="1 for a new job (its first event); 0 in the reply to a duplicate submit, "
        "which is not one of the job's logged events.",
    )
    queue_position: int = Field(ge=0, description="0 means running now.")
    duplicate: bool = False


class Progress(_Message):
    type: Literal["progress"] = "progress"
    job_id: JobId
    seq: Seq
    variant: VariantIndex
    step: int = Field(ge=0)
    steps: int = Field(ge=1)
    fraction: float = Field(ge=0, le=1, description="Of the whole job, all variants.")


class Preview(_Message):
    type: Literal["preview"] = "preview"
    job_id: JobId
    seq: Seq
    variant: VariantIndex
    step: int = Field(ge=0)
    image: Blob


class LayerInfo(_Message):
    name: str
    bounds: Rect = Field(description="Document coordinates of the pixels and mask.")
    visible: bool


class Result(_Message):
    type: Literal["result"] = "result"
    job_id: JobId
    seq: Seq
    variant: VariantIndex
    seed: int = Field(ge=0, le=2**32 - 1)
    layer: LayerInfo
    pixels: Blob
    mask: Blob


class Downloads(_Message):
    psd: str
    variants: list[str]


class Done(_Message):
    type: Literal["done"] = "done"
    job_id: JobId
    seq: Seq
    recipe: Recipe
    downloads: Downloads
    warnings: list[str] = []


class Error(_Message):
    type: Literal["error"] = "error"
    job_id: str | None = None
    seq: Seq | None = None
    code: ErrorCode
    message: str
    retryable: bool


class Cancelled(_Message):
    type: Literal["cancelled"] = "cancelled"
    job_id: JobId
    seq: Seq


JobState = Literal["queued", "running", "done", "error", "cancelled"]


class JobSummary(_Message):
    job_id: str
    state: JobState
    mode: Mode
    prompt: str
    variants: int
    client: str
    source: str
    created_at: float
    finished_at: float | None = None
    error_code: str | None = None
    last_seq: int = 0


class Jobs(_Message):
    type: Literal["jobs"] = "jobs"
    jobs: list[JobSummary]


ClientMessage = Annotated[Hello | Plan | Submit | Cancel | Resume | ListJobs, Field(discriminator="type")]
AgentMessage = Annotated[
    Welcome | Planned | Accepted | Progress | Preview | Result | Done | Error | Cancelled | Jobs,
    Field(discriminator="type"),
]
JobEvent = Accepted | Progress | Preview | Result | Done | Error | Cancelled

CLIENT_MESSAGES: tuple[type[_Message], ...] = (Hello, Plan, Submit, Cancel, Resume, ListJobs)
CLIENT_KINDS = frozenset(message.model_fields["type"].default for message in CLIENT_MESSAGES)
AGENT_MESSAGES: tuple[type[_Message], ...] = (
    Welcome,
    Planned,
    Accepted,
    Progress,
    Preview,
    Result,
    Done,
    Error,
    Cancelled,
    Jobs,
)

client_message_adapter: TypeAdapter[Hello | Plan | Submit | Cancel | Resume | ListJobs] = TypeAdapter(ClientMessage)
agent_message_adapter: TypeAdapter[
    Welcome | Planned | Accepted | Progress | Preview | Result | Done | Error | Cancelled | Jobs
] = TypeAdapter(AgentMessage)
