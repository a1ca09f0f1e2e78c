/* Generated from protocol/schemas by scripts/gen-types.mjs; do not edit. */

/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Mode".
 */
export type Mode = "fill" | "remove" | "expand" | "generate" | "refine" | "upscale" | "edit";
/**
 * The kinds of control a ControlNet is trained for (Krita AI Diffusion's control layers).
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ControlKind".
 */
export type ControlKind =
  "canny" | "scribble" | "tile" | "inpaint" | "depth" | "pose" | "lineart" | "softedge" | "segmentation";
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ErrorCode".
 */
export type ErrorCode =
  | "bad_json"
  | "unknown_type"
  | "invalid_message"
  | "handshake_required"
  | "unsupported_version"
  | "unauthorized"
  | "bad_frame"
  | "unknown_stream"
  | "chunk_out_of_order"
  | "upload_size_mismatch"
  | "upload_timeout"
  | "upload_too_large"
  | "upload_budget_exceeded"
  | "bad_image"
  | "size_mismatch"
  | "empty_mask"
  | "empty_instruction"
  | "bad_region"
  | "too_many_pixels"
  | "unsupported_mode"
  | "unknown_engine"
  | "unknown_model"
  | "unknown_scheduler"
  | "model_unavailable"
  | "unknown_lora"
  | "incompatible_lora"
  | "lora_changed"
  | "unsupported_feature"
  | "too_many_loras"
  | "weight_out_of_range"
  | "unknown_control_kind"
  | "too_many_controls"
  | "bad_step_range"
  | "control_needs_image"
  | "control_needs_source"
  | "control_size_mismatch"
  | "unknown_controlnet"
  | "incompatible_controlnet"
  | "controlnet_changed"
  | "no_preprocessor"
  | "preprocessor_changed"
  | "too_many_references"
  | "unknown_ip_adapter"
  | "incompatible_ip_adapter"
  | "ip_adapter_changed"
  | "unknown_style"
  | "bad_style"
  | "bad_set"
  | "unknown_upscaler"
  | "upscaler_changed"
  | "unsupported_model_file"
  | "upscale_too_large"
  | "unknown_preset"
  | "bad_preset"
  | "target_size_unreachable"
  | "unknown_variant"
  | "empty_dataset"
  | "no_usable_images"
  | "too_few_images"
  | "bad_training"
  | "bad_credentials"
  | "problem_job"
  | "no_workers"
  | "queue_full"
  | "client_queue_full"
  | "user_queue_full"
  | "job_id_conflict"
  | "unknown_job"
  | "engine_failed"
  | "agent_restarted"
  | "result_not_saved"
  | "internal_error";

export interface ProtocolV1 {
  Accepted?: Accepted;
  FrameHeader?: FrameHeader;
  Cancel?: Cancel;
  Cancelled?: Cancelled;
  Done?: Done;
  Error?: Error;
  Export?: Export;
  Exported?: Exported;
  Hello?: Hello;
  Jobs?: Jobs;
  ListJobs?: ListJobs;
  Plan?: Plan;
  Planned?: Planned;
  Preview?: Preview;
  Progress?: Progress;
  Recipe?: Recipe;
  Result?: Result;
  Resume?: Resume;
  Submit?: Submit;
  SubmitSet?: SubmitSet;
  Train?: Train;
  Welcome?: Welcome;
}
/**
 * Agent -> client: a job is queued (queue_position > 0) or running (0); duplicate=true when the same job id and spec were submitted before.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Accepted".
 */
export interface Accepted {
  duplicate?: boolean;
  job_id: string;
  /**
   * 0 means running now.
   */
  queue_position: number;
  /**
   * 1 for a new job (its first event); 0 in the reply to a duplicate submit, which is not one of the job's logged events.
   */
  seq: number;
  type: "accepted";
}
/**
 * JSON header of a binary frame. Frame layout: 4-byte big-endian header length N, N bytes of UTF-8 JSON matching this schema, then the chunk's payload bytes.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "FrameHeader".
 */
export interface FrameHeader {
  /**
   * Number of chunks in the stream; the same in every chunk.
   */
  count: number;
  /**
   * 0-based chunk index; chunks are sent in order.
   */
  index: number;
  /**
   * Stream id announced by a Blob in a JSON message.
   */
  stream: string;
}
/**
 * Client -> agent: cancel one job; it stops between steps and ends with `cancelled`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Cancel".
 */
export interface Cancel {
  job_id: string;
  type: "cancel";
}
/**
 * Agent -> client, terminal: the job was cancelled.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Cancelled".
 */
export interface Cancelled {
  job_id: string;
  /**
   * Per-job event sequence number, from 1 up by 1.
   */
  seq: number;
  type: "cancelled";
}
/**
 * Agent -> client, terminal: every variant was sent; carries the recipe and download URLs.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Done".
 */
export interface Done {
  /**
   * The result files; absent for a training.
   */
  downloads?: Downloads | null;
  job_id: string;
  recipe: Recipe;
  /**
   * Per-job event sequence number, from 1 up by 1.
   */
  seq: number;
  /**
   * A training's outcome.
   */
  trained?: TrainedInfo | null;
  type: "done";
  warnings?: string[];
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Downloads".
 */
export interface Downloads {
  /**
   * The PSD's C2PA manifest (result.c2pa), which no PSD can embed: save it beside the PSD as NAME.c2pa. Absent when the agent signs no manifests.
   */
  manifest?: string | null;
  psd: string;
  variants: string[];
}
/**
 * Everything needed to re-create a result: engine, model, mode, parameters, the seed of each variant, input hashes and the Underpaint version. Stored in `done`, PNG text chunks and PSDs.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Recipe".
 */
export interface Recipe {
  document: Size;
  engine: string;
  image_sha256?: string | null;
  mask_sha256?: string | null;
  mode: Mode;
  model?: ModelRef | null;
  params: Params;
  region: Rect;
  seeds: number[];
  /**
   * Upscale: the document as sent (`document` is the upscaled one).
   */
  sent_document?: Size | null;
  /**
   * Upscale: the region as sent (`region` is the upscaled one).
   */
  sent_region?: Rect | null;
  /**
   * The consistent set the job belonged to.
   */
  set_id?: string | null;
  /**
   * The style resolved into `params` (its name, for people; a replay needs only `params`).
   */
  style?: string | null;
  /**
   * Version of Underpaint that made the result.
   */
  underpaint?: string;
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Size".
 */
export interface Size {
  height: number;
  width: number;
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ModelRef".
 */
export interface ModelRef {
  name: string;
  sha256?: string | null;
}
/**
 * Everything about a job that is not pixels: what a recipe replays.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Params".
 */
export interface Params {
  /**
   * Match the fill's colours to its surroundings.
   */
  color_match?: boolean;
  /**
   * ControlNets steering the layout, at most 4 (engines that load models).
   */
  controls?: ControlRef[];
  /**
   * Engine name; the agent's default when absent.
   */
  engine?: string | null;
  /**
   * Expand: pixels to add on each side.
   */
  expand?: Margins | null;
  /**
   * Mask feather in document pixels.
   */
  feather?: number | null;
  /**
   * Mask grow in document pixels.
   */
  grow?: number | null;
  /**
   * How closely to follow the prompt (CFG scale).
   */
  guidance?: number;
  /**
   * Fraction of the last steps run without classifier-free guidance: each such step costs one UNet pass instead of two, at a small cost in prompt adherence of the finest detail. 0 (the default) skips none.
   */
  guidance_skip?: number;
  /**
   * LoRAs to apply, each at its weight, at most 8 (engines that load models).
   */
  loras?: LoraRef[];
  /**
   * Model name for engines that load models.
   */
  model?: string | null;
  /**
   * What to keep out of it.
   */
  negative_prompt?: string;
  /**
   * What to put there (engines that take prompts).
   */
  prompt?: string;
  /**
   * Reference images (IP-Adapter), at most 4.
   */
  references?: ReferenceRef[];
  /**
   * Sampler name (the engine lists its own).
   */
  scheduler?: string;
  /**
   * Variant i uses seed + i.
   */
  seed?: number;
  /**
   * Denoising steps per variant.
   */
  steps?: number;
  /**
   * How much may change: 0 keeps, 1 remakes.
   */
  strength?: number;
  /**
   * A style to start from: the agent fills every field the job leaves unset from it at intake. Recipes hold the resolved fields, with this cleared and the style's name in the recipe's `style`.
   */
  style?: string | null;
  /**
   * Upscale: how much larger, and how.
   */
  upscale?: UpscaleParams | null;
  /**
   * How many variants, one layer each.
   */
  variants?: number;
}
/**
 * One control of a job: a ControlNet steering the layout from a control image.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ControlRef".
 */
export interface ControlRef {
  /**
   * Fraction of the steps where it stops steering.
   */
  end?: number;
  /**
   * Canny: edges this strong always count.
   */
  high_threshold?: number;
  /**
   * 'sent': the control image comes with the job, covering its output area (the region; for expand the region with its margins). 'source': the agent derives it from the job's own source with the kind's preprocessor.
   */
  image?: "sent" | "source";
  /**
   * Hash of the sent control image (recipes pin it).
   */
  image_sha256?: string | null;
  kind: ControlKind;
  /**
   * Canny: weaker edges than this are dropped.
   */
  low_threshold?: number;
  /**
   * A ControlNet registered with the engine; absent: the first, by name, registered for this kind and the job model's architecture.
   */
  model?: string | null;
  /**
   * Run the kind's preprocessor on a sent image (canny edges, a scribble binarised); false when the image already is the control map.
   */
  preprocess?: boolean;
  /**
   * The registered preprocessor model that makes this control's map (depth, segmentation), from the source or from a sent image with preprocess true; absent: the first, by name, registered for the kind.
   */
  preprocessor?: string | null;
  /**
   * Content hash the preprocessor model must have (recipes pin it).
   */
  preprocessor_sha256?: string | null;
  /**
   * Content hash the ControlNet must have (recipes pin it).
   */
  sha256?: string | null;
  /**
   * Fraction of the steps where it starts steering.
   */
  start?: number;
  /**
   * How strongly it steers; 0 is the job without it.
   */
  strength?: number;
}
/**
 * How far Expand grows the canvas on each side, in pixels.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Margins".
 */
export interface Margins {
  bottom?: number;
  left?: number;
  right?: number;
  top?: number;
}
/**
 * One LoRA of a job's stack: a registered LoRA by name, at a weight.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "LoraRef".
 */
export interface LoraRef {
  /**
   * A LoRA registered with the engine (its `loras`).
   */
  name: string;
  /**
   * Content hash the LoRA must have; recipes pin it, so a replay never runs on a changed file.
   */
  sha256?: string | null;
  /**
   * How strongly it applies; 0 leaves it out, negative pushes away from it.
   */
  weight?: number;
}
/**
 * One reference image of a job: an IP-Adapter carrying its look or content into the result.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ReferenceRef".
 */
export interface ReferenceRef {
  /**
   * 'all': content and look; 'style': only the look (colour, texture, light), applied in the style layers alone (InstantStyle).
   */
  focus?: "all" | "style";
  /**
   * Hash of the reference image (recipes pin it).
   */
  image_sha256?: string | null;
  /**
   * An IP-Adapter registered with the engine; absent: the first, by name, registered for the job model's architecture.
   */
  model?: string | null;
  /**
   * Content hash the IP-Adapter must have (recipes pin it).
   */
  sha256?: string | null;
  /**
   * How strongly it steers; 0 is the job without it.
   */
  weight?: number;
}
/**
 * An upscale by `factor` or to `size` (exactly one), enlarged by `upscaler` (a registered
 * super-resolution model; absent: the built-in Lanczos resampler with a light unsharp mask), then,
 * when `refine` is above 0, re-detailed in overlapping img2img tiles at that strength.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "UpscaleParams".
 */
export interface UpscaleParams {
  /**
   * How many times larger each side becomes (2, 4, 1.5, ...).
   */
  factor?: number | null;
  /**
   * Strength of the tiled img2img re-detail after enlarging; 0 skips it.
   */
  refine?: number;
  /**
   * The exact size the upscaled region becomes; its aspect ratio must match the region's within a pixel.
   */
  size?: Size | null;
  /**
   * A registered super-resolution model; absent: Lanczos.
   */
  upscaler?: string | null;
  /**
   * Content hash the upscaler must have; recipes pin it.
   */
  upscaler_sha256?: string | null;
}
/**
 * An integer rectangle in document pixels.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Rect".
 */
export interface Rect {
  height: number;
  width: number;
  x: number;
  y: number;
}
/**
 * What a finished training made: a registered LoRA and a style for it, with the report's files.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "TrainedInfo".
 */
export interface TrainedInfo {
  device: string;
  /**
   * The LoRA's .safetensors (kohya keys) on the agent's disk.
   */
  file: string;
  last_loss: number;
  lora: string;
  /**
   * loss_curve, samples (PNG) and report (JSON) beside it.
   */
  report: {
    [k: string]: string;
  };
  /**
   * The checkpoint step a resumed training started from.
   */
  resumed_from?: number;
  seconds: number;
  steps: number;
  style: string;
}
/**
 * Agent -> client: a stable code, a human sentence and whether a retry can help. With a job_id and seq it is a job's terminal event.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Error".
 */
export interface Error {
  code: ErrorCode;
  job_id?: string | null;
  message: string;
  retryable: boolean;
  seq?: number | null;
  /**
   * The submit_set this refuses, whole: none of its targets was queued.
   */
  set_id?: string | null;
  type: "error";
}
/**
 * Client -> agent: a finished job's variant as delivery presets' files; answered by `exported`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Export".
 */
export interface Export {
  job_id: string;
  /**
   * Delivery preset names, at least one; each becomes one file.
   *
   * @maxItems 32
   */
  presets: string[];
  type: "export";
  /**
   * 0-based variant index; seed = params.seed + index.
   */
  variant?: number;
}
/**
 * Agent -> client, reply to `export`: one download per preset, and warnings (an enlargement).
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Exported".
 */
export interface Exported {
  /**
   * One per preset asked for, in order.
   */
  files: ExportedFile[];
  job_id: string;
  type: "exported";
  /**
   * 0-based variant index; seed = params.seed + index.
   */
  variant: number;
  /**
   * E.g. that a preset needed more pixels than the result has, so it was enlarged.
   */
  warnings?: string[];
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ExportedFile".
 */
export interface ExportedFile {
  bytes: number;
  format: "png" | "jpeg" | "webp" | "avif" | "tiff" | "psd";
  height: number;
  /**
   * The file name the preset's naming pattern gives, to save it as.
   */
  name: string;
  preset: string;
  /**
   * Download path on the agent's HTTP port, like `done.downloads`.
   */
  url: string;
  width: number;
}
/**
 * Client -> agent, first message on a connection: protocol version, client name, pairing token.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Hello".
 */
export interface Hello {
  client: ClientInfo;
  protocol: string;
  token: string;
  type: "hello";
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ClientInfo".
 */
export interface ClientInfo {
  name: string;
  version?: string;
}
/**
 * Agent -> client, reply to `list_jobs`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Jobs".
 */
export interface Jobs {
  jobs: JobSummary[];
  type: "jobs";
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "JobSummary".
 */
export interface JobSummary {
  client: string;
  created_at: number;
  error_code?: string | null;
  finished_at?: number | null;
  job_id: string;
  last_seq?: number;
  mode: Mode | "train";
  prompt: string;
  set_id?: string | null;
  source: string;
  state: "queued" | "running" | "done" | "error" | "cancelled";
  variants: number;
}
/**
 * Client -> agent: list recent jobs (newest first); answered by `jobs`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ListJobs".
 */
export interface ListJobs {
  limit?: number;
  /**
   * Only the jobs of this set.
   */
  set_id?: string | null;
  type: "list_jobs";
}
/**
 * Client -> agent: which context rectangle to send for a selection; answered by `planned`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Plan".
 */
export interface Plan {
  document: Size;
  mode: Mode;
  params?: Params;
  request_id: string;
  selection: Rect;
  type: "plan";
}
/**
 * Agent -> client, reply to `plan`: the context rectangle to send and the working size.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Planned".
 */
export interface Planned {
  context: Rect;
  request_id: string;
  type: "planned";
  working: Size;
}
/**
 * Agent -> client: a small preview image of a running variant (only when submit.previews).
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Preview".
 */
export interface Preview {
  image: Blob;
  job_id: string;
  /**
   * Per-job event sequence number, from 1 up by 1.
   */
  seq: number;
  step: number;
  type: "preview";
  /**
   * 0-based variant index; seed = params.seed + index.
   */
  variant: number;
}
/**
 * Announces image bytes that follow in binary frames tagged with `stream`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Blob".
 */
export interface Blob {
  /**
   * Total payload bytes over all chunks.
   */
  bytes: number;
  format: "rgba8" | "gray8" | "png";
  height: number;
  stream: string;
  width: number;
}
/**
 * Agent -> client: a job advanced one step.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Progress".
 */
export interface Progress {
  /**
   * A training's estimated time left.
   */
  eta_seconds?: number | null;
  /**
   * Of the whole job, all variants.
   */
  fraction: number;
  job_id: string;
  /**
   * A training's loss at this step.
   */
  loss?: number | null;
  /**
   * Per-job event sequence number, from 1 up by 1.
   */
  seq: number;
  step: number;
  steps: number;
  type: "progress";
  /**
   * 0-based variant index; seed = params.seed + index.
   */
  variant: number;
}
/**
 * Agent -> client: one finished variant; its pixels and mask follow in binary frames.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Result".
 */
export interface Result {
  job_id: string;
  layer: LayerInfo;
  mask: Blob;
  pixels: Blob;
  seed: number;
  /**
   * Per-job event sequence number, from 1 up by 1.
   */
  seq: number;
  type: "result";
  /**
   * 0-based variant index; seed = params.seed + index.
   */
  variant: number;
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "LayerInfo".
 */
export interface LayerInfo {
  bounds: Rect;
  name: string;
  visible: boolean;
}
/**
 * Client -> agent: replay a job's events with seq > after_seq, then follow it live.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Resume".
 */
export interface Resume {
  /**
   * Last sequence number the client saw; 0 for all.
   */
  after_seq: number;
  job_id: string;
  type: "resume";
}
/**
 * Client -> agent: start a job with a client-chosen, idempotent job id. Image and mask bytes follow in binary frames tagged with the announced stream ids.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Submit".
 */
export interface Submit {
  /**
   * One entry per `params.controls`, in order: the control image, covering the job's output area, or null for a control derived from the source (image 'source').
   */
  controls?: (Blob | null)[];
  document: Size;
  image?: Blob | null;
  job_id: string;
  mask?: Blob | null;
  mode: Mode;
  params?: Params;
  previews?: boolean;
  /**
   * One per `params.references`, in order: the reference image, any size.
   */
  references?: Blob[];
  region: Rect;
  result_format?: "raw" | "png";
  /**
   * The consistent set this job belongs to.
   */
  set_id?: string | null;
  type: "submit";
}
/**
 * Client -> agent: one recipe over many targets, queued all or none as ordinary jobs sharing set_id. Each target's image, mask and control bytes, then the shared reference bytes, follow in binary frames.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "SubmitSet".
 */
export interface SubmitSet {
  mode: Mode;
  params?: Params;
  previews?: boolean;
  /**
   * One per `params.references`: sent once, applied to every target.
   */
  references?: Blob[];
  result_format?: "raw" | "png";
  /**
   * A consistent set: jobs sharing one recipe.
   */
  set_id: string;
  /**
   * At least one; each job id once.
   */
  targets: SetTarget[];
  type: "submit_set";
}
/**
 * One target of a set: where its result goes, and its own pixels.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "SetTarget".
 */
export interface SetTarget {
  /**
   * This target's control images, as in `submit`.
   */
  controls?: (Blob | null)[];
  document: Size;
  image?: Blob | null;
  job_id: string;
  mask?: Blob | null;
  region: Rect;
}
/**
 * Client -> agent: train a LoRA (and its style) from a dataset folder in the agent's own datasets folder; a job like any other (progress with loss and eta_seconds, previews of the samples, done with `trained`).
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Train".
 */
export interface Train {
  /**
   * LoRA alpha; the rank when absent (scale 1).
   */
  alpha?: number | null;
  /**
   * The registered base model (SD 1.5 or SDXL family); the agent's default model when absent.
   */
  base?: string | null;
  /**
   * Images per step, all from one aspect bucket.
   */
  batch_size?: number;
  /**
   * Steps between checkpoints, progress previews and sample rows.
   */
  checkpoint_every?: number;
  /**
   * A folder name in the agent's datasets folder (`underpaint train` copies the brand's folder there).
   */
  dataset: string;
  job_id: string;
  learning_rate?: number;
  /**
   * The LoRA's and its style's name.
   */
  name: string;
  /**
   * Adds a per-channel constant to the noise, so the LoRA can learn flat dark or bright brand colours.
   */
  noise_offset?: number;
  previews?: boolean;
  /**
   * LoRA rank: the size of the learned change.
   */
  rank?: number;
  /**
   * Training area is about resolution x resolution pixels per image, at its own aspect; the base's native size when absent.
   */
  resolution?: number | null;
  /**
   * Fixed seeds of the samples: the same at every checkpoint, so rows compare.
   */
  sample_seeds?: number[];
  /**
   * Denoising steps of each sample image.
   */
  sample_steps?: number;
  /**
   * Seed of the noise, timesteps and order.
   */
  seed?: number;
  /**
   * Optimizer steps.
   */
  steps?: number;
  /**
   * Train the text encoders too (stronger trigger, more risk of forgetting).
   */
  text_encoder?: boolean;
  /**
   * The word that calls the look in a prompt; the name when empty.
   */
  trigger?: string;
  type: "train";
}
/**
 * Agent -> client, reply to a valid `hello`: agent version and capabilities (engines, models, modes, formats, limits).
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Welcome".
 */
export interface Welcome {
  agent: AgentInfo;
  capabilities: Capabilities;
  protocol: string;
  type: "welcome";
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "AgentInfo".
 */
export interface AgentInfo {
  name?: "underpaint";
  version: string;
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Capabilities".
 */
export interface Capabilities {
  /**
   * Studio mode's workers, for admins; absent on a single-process agent.
   */
  cluster?: ClusterInfo | null;
  /**
   * Every kind a control may name.
   */
  control_kinds?: ControlKind[];
  default_engine: string;
  engines: EngineInfo[];
  formats: ("rgba8" | "gray8" | "png")[];
  limits: Limits;
  /**
   * The styles a job may name, read when the client connects (a style added later works as well).
   */
  styles?: StyleInfo[];
}
/**
 * Studio mode's workers (`underpaint cluster`), shown to admins in the handshake and in /health.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ClusterInfo".
 */
export interface ClusterInfo {
  /**
   * Jobs waiting for a worker.
   */
  queued: number;
  workers: WorkerInfo[];
}
/**
 * One studio worker (a Ray actor on one GPU, or on a CPU-only machine's CPUs it was given).
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "WorkerInfo".
 */
export interface WorkerInfo {
  /**
   * What its engines run on, as they report it.
   */
  device: string;
  jobs_run?: number;
  /**
   * Models it holds warm.
   */
  loaded_models?: string[];
  name: string;
  /**
   * The Ray node (machine) it runs on.
   */
  node: string;
  /**
   * Its process on that machine (0 until it has started).
   */
  pid?: number;
  running_job?: string | null;
  state: "idle" | "busy" | "starting" | "lost";
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "EngineInfo".
 */
export interface EngineInfo {
  /**
   * The model a job naming none runs on (one of `models`); none for engines without models.
   */
  default_model?: string | null;
  description?: string;
  max_pixels: number;
  /**
   * One per name in `models`.
   */
  model_details?: ModelInfo[];
  models?: string[];
  modes: Mode[];
  multiple: number;
  name: string;
  native_max: number;
  native_min: number;
  uses_prompt: boolean;
}
/**
 * What a job on one model may add: the add-ons registered for its architecture.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ModelInfo".
 */
export interface ModelInfo {
  controlnets?: ControlNetInfo[];
  description?: string;
  /**
   * The model family read from its weights: sd1, sd2, sdxl (and their -inpaint variants), flux-dev, flux-schnell, flux-fill, flux-kontext, sd3.
   */
  family?: string;
  /**
   * How params.guidance steers this model: true classifier-free guidance, a distilled guidance embedding, or not at all.
   */
  guidance?: "cfg" | "distilled" | "none";
  ip_adapters?: string[];
  loras?: string[];
  max_pixels?: number;
  /**
   * The modes a job on this model may ask for.
   */
  modes?: Mode[];
  /**
   * Working sizes are multiples of this (16 for FLUX and SD 3.5).
   */
  multiple?: number;
  name: string;
  native_max?: number;
  native_min?: number;
  /**
   * Control kinds the agent can derive from a job's source (image 'source').
   */
  preprocessors?: ControlKind[];
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "ControlNetInfo".
 */
export interface ControlNetInfo {
  kind: ControlKind;
  name: string;
}
/**
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "Limits".
 */
export interface Limits {
  chunk_bytes: number;
  max_message_bytes: number;
  max_pixels: number;
  /**
   * Most targets one submit_set may have: the jobs one connection may have waiting.
   */
  max_set_targets?: number;
  max_variants: number;
  queue_size: number;
}
/**
 * A style the agent keeps (`underpaint styles list`): a job names it in `params.style`.
 *
 * This interface was referenced by `ProtocolV1`'s JSON-Schema
 * via the `definition` "StyleInfo".
 */
export interface StyleInfo {
  description?: string;
  /**
   * The model the style runs on; absent: the job's.
   */
  model?: string | null;
  name: string;
  sets?: Params;
}
