"""Protocol v1 messages as pydantic models: the Python codec of protocol/.

protocol/schemas/*.json are generated from these models (`make schemas`) and
a test fails when they drift apart; protocol/examples/ are conformance vectors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer, model_validator
from pydantic_core import PydanticCustomError

from underpaint.core import ErrorCode, Mode, Params, Rect, Size
from underpaint.core.conditioning import ControlKind
from underpaint.core.names import NAME_PATTERN
from underpaint.results.recipe import Recipe
from underpaint.training.recipe import TrainingRecipe

PROTOCOL_VERSION = "1.0"
WEBSOCKET_PATH = "/v1/ws"
_ID_PATTERN = NAME_PATTERN
JobId = Annotated[str, Field(pattern=_ID_PATTERN)]
SetId = Annotated[str, Field(pattern=_ID_PATTERN, description="A consistent set: jobs sharing one recipe.")]
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
    controls: list[Blob | None] = Field(
        default=[], description="One entry per `params.controls`, in order: the control image, covering the job's "
                                "output area, or null for a control derived from the source (image 'source').")
    references: list[Blob] = Field(default=[], description="One per `params.references`, in order: the reference "
                                                           "image, any size.")
    set_id: SetId | None = Field(default=None, description="The consistent set this job belongs to.")
    result_format: Literal["raw", "png"] = "raw"
    previews: bool = False


class SetTarget(_Message):
    """One target of a set: where its result goes, and its own pixels."""

    job_id: JobId
    document: Size
    region: Rect = Field(description="Where `image` and `mask` sit in the document.")
    image: Blob | None = None
    mask: Blob | None = None
    controls: list[Blob | None] = Field(default=[], description="This target's control images, as in `submit`.")


class SubmitSet(_Message):
    """One recipe over many targets: each target becomes an ordinary job carrying `set_id`."""

    type: Literal["submit_set"] = "submit_set"
    set_id: SetId
    mode: Mode
    params: Params = Params()
    targets: list[SetTarget] = Field(description="At least one; each job id once.")
    references: list[Blob] = Field(default=[], description="One per `params.references`: sent once, applied to "
                                                           "every target.")
    result_format: Literal["raw", "png"] = "raw"
    previews: bool = False

    @model_validator(mode="after")
    def _targets(self) -> SubmitSet:
        # Checked here rather than as the schema's minItems, which the generated TypeScript type would make a tuple.
        ids = [target.job_id for target in self.targets]
        if not ids:
            raise PydanticCustomError(ErrorCode.BAD_SET.value, "a set needs at least one target")
        if twice := sorted({job_id for job_id in ids if ids.count(job_id) > 1}):
            raise PydanticCustomError(ErrorCode.BAD_SET.value, "each target needs its own job id: {ids} repeated",
                                      {"ids": ", ".join(twice)})
        return self

    def members(self) -> list[Submit]:
        """Each target as the ordinary submit it stands for: the set's recipe and references, its own pixels."""
        return [Submit(job_id=target.job_id, mode=self.mode, params=self.params, document=target.document,
                       region=target.region, image=target.image, mask=target.mask, controls=target.controls,
                       references=self.references, set_id=self.set_id, result_format=self.result_format,
                       previews=self.previews) for target in self.targets]


class Cancel(_Message):
    type: Literal["cancel"] = "cancel"
    job_id: JobId


class Resume(_Message):
    type: Literal["resume"] = "resume"
    job_id: JobId
    after_seq: int = Field(ge=0, description="Last sequence number the client saw; 0 for all.")


class Export(_Message):
    """Asks for a finished job's variant as delivery presets' files (sizes, formats, colour spaces)."""

    type: Literal["export"] = "export"
    job_id: JobId
    variant: VariantIndex = 0
    presets: list[Annotated[str, Field(max_length=64)]] = Field(
        max_length=32, description="Delivery preset names, at least one; each becomes one file.")

    @model_validator(mode="after")
    def _some(self) -> Export:
        # Checked here rather than as the schema's minItems, which the generated TypeScript type would make a tuple.
        if not self.presets:
            raise PydanticCustomError(ErrorCode.UNKNOWN_PRESET.value, "name at least one delivery preset")
        return self


class Train(TrainingRecipe):
    """Asks for a LoRA trained from a dataset folder inside the agent's own datasets folder (never a path of
    the client's choosing); the recipe's fields sit beside `type`, `job_id` and `dataset`."""

    type: Literal["train"] = "train"
    job_id: JobId
    dataset: str = Field(pattern=_ID_PATTERN, description="A folder name in the agent's datasets folder "
                                                          "(`underpaint train` copies the brand's folder there).")
    previews: bool = True

    def recipe(self) -> TrainingRecipe:
        return TrainingRecipe.model_validate(self.model_dump(exclude={"type", "job_id", "dataset", "previews"}))


class ListJobs(_Message):
    type: Literal["list_jobs"] = "list_jobs"
    limit: int = Field(default=50, ge=1, le=1000)
    set_id: SetId | None = Field(default=None, description="Only the jobs of this set.")


# agent -> client


class AgentInfo(_Message):
    name: Literal["underpaint"] = "underpaint"
    version: str


class ControlNetInfo(_Message):
    name: str
    kind: ControlKind


class ModelInfo(_Message):
    """What a job on one model may add: the add-ons registered for its architecture."""

    name: str
    description: str = ""
    loras: list[str] = []
    controlnets: list[ControlNetInfo] = []
    preprocessors: list[ControlKind] = Field(default=[], description="Control kinds the agent can derive from "
                                                                     "a job's source (image 'source').")
    ip_adapters: list[str] = []
    family: str = Field(default="", description="The model family read from its weights: sd1, sd2, sdxl (and "
                                                "their -inpaint variants), flux-dev, flux-schnell, flux-fill, "
                                                "flux-kontext, sd3.")
    modes: list[Mode] = Field(default=[], description="The modes a job on this model may ask for.")
    native_min: int = 0
    native_max: int = 0
    max_pixels: int = 0
    multiple: int = Field(default=0, description="Working sizes are multiples of this (16 for FLUX and SD 3.5).")
    guidance: Literal["cfg", "distilled", "none"] = Field(
        default="none", description="How params.guidance steers this model: true classifier-free guidance, a "
                                    "distilled guidance embedding, or not at all.")


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
    model_details: list[ModelInfo] = Field(default=[], description="One per name in `models`.")
    default_model: str | None = Field(default=None, description="The model a job naming none runs on (one of "
                                                                "`models`); none for engines without models.")


class Limits(_Message):
    max_pixels: int
    max_message_bytes: int
    chunk_bytes: int
    max_variants: int
    queue_size: int
    max_set_targets: int = Field(default=1, ge=1, description="Most targets one submit_set may have: the jobs "
                                                               "one connection may have waiting.")


class StyleInfo(_Message):
    """A style the agent keeps (`underpaint styles list`): a job names it in `params.style`."""

    name: str
    description: str = ""
    model: str | None = Field(default=None, description="The model the style runs on; absent: the job's.")
    sets: Params = Field(default=Params(), description="The fields the style fills when a job leaves them unset, "
                                                       "with their values, as a job gives them; only those fields "
                                                       "are present. `prompt` is its template (the job's prompt "
                                                       "goes where `{prompt}` is); each of `references` gives its "
                                                       "weight and focus, its image stays with the agent.")

    @field_serializer("sets")
    def _only_the_fields_it_sets(self, sets: Params) -> dict[str, Any]:
        # A client must tell "the style sets steps to 20" from "the style leaves steps alone"; a null inside
        # (a LoRA's unpinned sha256) is its field's default, so it is left out too.
        return sets.model_dump(mode="json", exclude_unset=True, exclude_none=True)


class WorkerInfo(_Message):
    """One studio worker (a Ray actor on one GPU, or on a CPU-only machine's CPUs it was given)."""

    name: str
    node: str = Field(description="The Ray node (machine) it runs on.")
    device: str = Field(description="What its engines run on, as they report it.")
    state: Literal["idle", "busy", "starting", "lost"]
    pid: int = Field(default=0, description="Its process on that machine (0 until it has started).")
    loaded_models: list[str] = Field(default=[], description="Models it holds warm.")
    running_job: str | None = None
    jobs_run: int = 0


class ClusterInfo(_Message):
    """Studio mode's workers (`underpaint cluster`), shown to admins in the handshake and in /health."""

    workers: list[WorkerInfo]
    queued: int = Field(description="Jobs waiting for a worker.")


class Capabilities(_Message):
    engines: list[EngineInfo]
    default_engine: str
    formats: list[PixelFormat]
    limits: Limits
    control_kinds: list[ControlKind] = Field(default=[], description="Every kind a control may name.")
    styles: list[StyleInfo] = Field(default=[], description="The styles a job may name, read when the client "
                                                            "connects (a style added later works as well).")
    cluster: ClusterInfo | None = Field(default=None, description="Studio mode's workers, for admins; absent on "
                                                                  "a single-process agent.")


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
    loss: float | None = Field(default=None, description="A training's loss at this step.")
    eta_seconds: float | None = Field(default=None, ge=0, description="A training's estimated time left.")


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
    manifest: str | None = Field(default=None, description="The PSD's C2PA manifest (result.c2pa), which no PSD "
                                                            "can embed: save it beside the PSD as NAME.c2pa. "
                                                            "Absent when the agent signs no manifests.")


class TrainedInfo(_Message):
    """What a finished training made: a registered LoRA and a style for it, with the report's files."""

    lora: str
    style: str
    file: str = Field(description="The LoRA's .safetensors (kohya keys) on the agent's disk.")
    report: dict[str, str] = Field(description="loss_curve, samples (PNG) and report (JSON) beside it.")
    steps: int
    seconds: float
    device: str
    last_loss: float
    resumed_from: int = Field(default=0, description="The checkpoint step a resumed training started from.")


class Done(_Message):
    type: Literal["done"] = "done"
    job_id: JobId
    seq: Seq
    recipe: Recipe = Field(description="What was made; for a training, a generate job on its new style.")
    downloads: Downloads | None = Field(default=None, description="The result files; absent for a training.")
    warnings: list[str] = []
    trained: TrainedInfo | None = Field(default=None, description="A training's outcome.")


class ExportedFile(_Message):
    preset: str
    url: str = Field(description="Download path on the agent's HTTP port, like `done.downloads`.")
    name: str = Field(description="The file name the preset's naming pattern gives, to save it as.")
    format: Literal["png", "jpeg", "webp", "avif", "tiff", "psd"]
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    bytes: int = Field(gt=0)


class Exported(_Message):
    type: Literal["exported"] = "exported"
    job_id: JobId
    variant: VariantIndex
    files: list[ExportedFile] = Field(description="One per preset asked for, in order.")
    warnings: list[str] = Field(default=[], description="E.g. that a preset needed more pixels than the result has, "
                                                        "so it was enlarged.")


class Error(_Message):
    type: Literal["error"] = "error"
    job_id: str | None = None
    set_id: str | None = Field(default=None, description="The submit_set this refuses, whole: none of its targets "
                                                         "was queued.")
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
    mode: Mode | Literal["train"]
    prompt: str
    variants: int
    client: str
    source: str
    created_at: float
    finished_at: float | None = None
    error_code: str | None = None
    last_seq: int = 0
    set_id: str | None = None


class Jobs(_Message):
    type: Literal["jobs"] = "jobs"
    jobs: list[JobSummary]


ClientMessage = Annotated[Hello | Plan | Submit | SubmitSet | Cancel | Resume | ListJobs | Export | Train,
                          Field(discriminator="type")]
AgentMessage = Annotated[
    Welcome | Planned | Accepted | Progress | Preview | Result | Done | Error | Cancelled | Jobs | Exported,
    Field(discriminator="type"),
]
JobEvent = Accepted | Progress | Preview | Result | Done | Error | Cancelled

CLIENT_MESSAGES: tuple[type[BaseModel], ...] = (Hello, Plan, Submit, SubmitSet, Cancel, Resume, ListJobs, Export,
                                                Train)
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
    Exported,
)

client_message_adapter: TypeAdapter[
    Hello | Plan | Submit | SubmitSet | Cancel | Resume | ListJobs | Export | Train
] = TypeAdapter(ClientMessage)
agent_message_adapter: TypeAdapter[
    Welcome | Planned | Accepted | Progress | Preview | Result | Done | Error | Cancelled | Jobs | Exported
] = TypeAdapter(AgentMessage)
