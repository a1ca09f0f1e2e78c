// One press of Generate, start to finish: ask the host for the document and
// selection, ask the agent (`plan`) for the context rectangle, read only that
// rectangle, submit, follow events, and place every variant in one undo step.
// Photoshop stays behind `Host`; the agent behind the shared AgentClient.

import { usesStrength, type AgentClient, type ImageInput, type JobOutcome, type Mode, type Params, type Preview, type Progress, type Recipe, type Rect, type Size, type VariantResult } from "./protocol.js";
import { controlRefs, loraRefs, type ControlLayer, type LoraChip } from "./conditioning.js";
import { area, canvasRect, growRect, intersect, isEmpty, isIntegerRect, type Sides } from "./geometry.js";
import type { DocumentKey } from "./history.js";
import type { DocumentInfo, Host, Placement } from "./host.js";
import { referenceRefs, type ReferenceImage } from "./references.js";
import type { RunningJob, RunningJobs } from "./running.js";
import { MODE_LABELS, placementDepth, targetFor, transferFor, type PlacementDepth } from "./modes.js";
import { groupName, historyName, newJobId } from "./naming.js";
import { selectsAnything } from "./pixels.js";

export interface JobRequest {
  mode: Mode;
  prompt: string;
  negativePrompt: string;
  variants: number;
  seed: number;
  /** Refine and Edit only: how much may change (0-1). */
  strength: number;
  /** How closely to follow the prompt; absent where the model has no guidance or the user left it. */
  guidance?: number;
  engine?: string;
  model?: string;
  /** Expand only: pixels added on each side. */
  expand: Sides;
  /** Marked control layers (or source-derived controls), in the order they are sent. */
  controls?: ControlLayer[];
  loras?: LoraChip[];
  /** Reference images (IP-Adapter), in the order they are sent. */
  references?: ReferenceImage[];
  /** A style the agent keeps: it fills every field this request leaves unset. */
  style?: string;
  /** A recipe's params to run again (Regenerate, Vary): this request's own fields win over them. */
  base?: Params;
}

export type Phase = "planning" | "reading" | "uploading" | "queued" | "running" | "placing";

export interface JobEvents {
  onPhase?(phase: Phase, jobId: string | null): void;
  onProgress?(message: Progress): void;
  onPreview?(message: Preview, png: Uint8Array): void;
  onResult?(variant: number, received: number): void;
}

export type RunOutcome =
  | { state: "done"; jobId: string; document: DocumentKey; recipe: Recipe; layers: number; layerIds: number[]; warnings: string[] }
  | { state: "refused"; message: string }
  | { state: "error"; jobId: string | null; code: string; message: string; retryable: boolean }
  | { state: "cancelled"; jobId: string };

export interface ControllerOptions {
  makeJobId?: (documentId: number) => string;
  previews?: boolean;
  /** Where a job sent but not yet placed is kept, so a reopened panel resumes it. */
  running?: RunningJobs;
}

/** What placing a job's results needs of its request: also all a resumed job keeps of it. */
export type PlacementRequest = Pick<JobRequest, "mode" | "prompt" | "expand">;

export class JobController {
  private currentJob: string | null = null;
  private abandonRun: ((error: Error) => void) | null = null;

  constructor(
    private readonly host: Host,
    private readonly client: () => AgentClient,
    private readonly options: ControllerOptions = {},
  ) {}

  get running(): string | null {
    return this.currentJob;
  }

  cancel(): void {
    if (this.currentJob) this.client().cancel(this.currentJob);
  }

  /** Gives up waiting for the running job (the agent stayed unreachable); `run` rejects with `error`. */
  abandon(error: Error): void {
    this.abandonRun?.(error);
  }

  async run(request: JobRequest, events: JobEvents = {}): Promise<RunOutcome> {
    const document = await this.host.activeDocument();
    if (!document) return refuse("Open a document first, then press Generate.");
    const depth = placementDepth(document.facts);
    if (typeof depth !== "number") return refuse(depth.refuse);
    const size: Size = { width: document.width, height: document.height };
    const target = targetFor(request.mode, size, await this.host.selectionBounds(document.id));
    if (target.kind === "refuse") return refuse(target.message);
    const transfer = transferFor(request.mode, target);
    const params = paramsFor(request);
    const client = this.client();

    let region: Rect = target.rect;
    if (transfer.plan) {
      events.onPhase?.("planning", null);
      // The agent knows how much surroundings its engine needs; only that rectangle is read and sent.
      const planned = await client.plan(request.mode, size, target.rect, params);
      region = intersect(planned.context, canvasRect(size));
    }
    if (isEmpty(region) || !isIntegerRect(region)) return refuse("The agent planned an empty area; select a larger area.");
    const limit = client.welcome.capabilities.limits.max_pixels;
    if (area(region) > limit) {
      return refuse(`The area is ${area(region).toLocaleString("en")} pixels and the agent takes at most ${limit.toLocaleString("en")}: select a smaller area.`);
    }

    events.onPhase?.("reading", null);
    const image = transfer.image ? await this.host.readPixels(document.id, region) : undefined;
    const controls = await this.readControls(document.id, request, outputArea(request, region));
    const references = await this.readReferences(document.id, request.references ?? [], limit);
    if ("refuse" in references) return refuse(references.refuse);
    let mask = transfer.mask ? await this.host.readSelection(document.id, region) : undefined;
    if (mask && !selectsAnything(mask)) {
      if (request.mode === "fill" || request.mode === "remove") {
        return refuse("The selection is fully transparent here: select the area more firmly, then press Generate.");
      }
      mask = undefined;
    }

    const jobId = (this.options.makeJobId ?? newJobId)(document.id);
    this.currentJob = jobId;
    events.onPhase?.("uploading", jobId);
    const running = this.options.running;
    // Kept until placed: closing the panel now leaves the job to the next one that opens.
    running?.put(runningJob(jobId, document, request, depth));
    const handled = (seq: number): void => {
      if (received === 0) running?.advance(jobId, seq);
    };
    let outcome: JobOutcome;
    let received = 0;
    const abandoned = new Promise<never>((_, reject) => (this.abandonRun = reject));
    try {
      outcome = await Promise.race([abandoned, client.submit(
        {
          jobId, mode: request.mode, document: size, region, params, previews: this.options.previews ?? true,
          image: image && { data: image, width: region.width, height: region.height, format: "rgba8" },
          mask: mask && { data: mask, width: region.width, height: region.height, format: "gray8" },
          ...(controls.length && { controls }),
          ...(references.images.length && { references: references.images }),
        },
        {
          onAccepted: (m) => {
            handled(m.seq);
            events.onPhase?.(m.queue_position > 0 ? "queued" : "running", jobId);
          },
          onProgress: (m) => {
            handled(m.seq);
            events.onPhase?.("running", jobId);
            events.onProgress?.(m);
          },
          onPreview: (m, png) => events.onPreview?.(m, png),
          onResult: (r) => events.onResult?.(r.message.variant, ++received),
        },
      )]);
    } finally {
      this.currentJob = null;
      this.abandonRun = null;
    }
    if (outcome.state !== "done") running?.remove(jobId);
    if (outcome.state === "cancelled") return { state: "cancelled", jobId };
    if (outcome.state === "error") {
      const { code, message, retryable } = outcome.error;
      return { state: "error", jobId, code, message, retryable };
    }

    events.onPhase?.("placing", jobId);
    let layerIds: number[];
    try {
      // Placed by id: if the user switched documents meanwhile, the layers still land where the job came from.
      layerIds = await this.host.place(document.id, placementFor(request, depth, outcome.results));
    } finally {
      running?.remove(jobId);
    }
    return {
      state: "done", jobId, document: { id: document.id, path: document.path }, recipe: outcome.done.recipe,
      layers: outcome.results.length, layerIds, warnings: outcome.done.warnings ?? [],
    };
  }

  /** Each reference's image: a layer's own pixels wherever it has any, or a picked file's PNG bytes as they are. */
  private async readReferences(documentId: number, references: readonly ReferenceImage[], maxPixels: number): Promise<{ images: ImageInput[] } | { refuse: string }> {
    const images: ImageInput[] = [];
    for (const reference of references) {
      const { source } = reference;
      if (source.kind === "file") {
        images.push({ data: source.png, width: source.width, height: source.height, format: "png" });
        continue;
      }
      const { data, rect } = await this.host.readLayerImage(documentId, source.layerId);
      if (isEmpty(rect)) return { refuse: `The reference layer '${reference.label}' has no pixels: paint or place an image on it, or remove it.` };
      if (area(rect) > maxPixels) return { refuse: `The reference layer '${reference.label}' is larger than the agent takes (${maxPixels.toLocaleString("en")} pixels): use a smaller layer.` };
      images.push({ data, width: rect.width, height: rect.height, format: "rgba8" });
    }
    return { images };
  }

  /** Each marked layer's own pixels over the job's output area; null where the agent derives the map from the source. */
  private async readControls(documentId: number, request: JobRequest, area: Rect): Promise<(ImageInput | null)[]> {
    const images: (ImageInput | null)[] = [];
    for (const control of request.controls ?? []) {
      if (control.layerId === null) {
        images.push(null);
        continue;
      }
      const data = await this.host.readLayerPixels(documentId, control.layerId, area);
      images.push({ data, width: area.width, height: area.height, format: "rgba8" });
    }
    return images;
  }
}

/** Where a control image must cover (PROTOCOL.md, Controls): the region, grown by Expand's margins. */
export function outputArea(request: JobRequest, region: Rect): Rect {
  return request.mode === "expand" ? growRect(region, request.expand) : region;
}

function refuse(message: string): RunOutcome {
  return { state: "refused", message };
}

/** Only what the user set travels: the agent fills in the rest and the recipe records it. */
export function paramsFor(request: JobRequest): Params {
  // A recipe's controls came with images this panel no longer has: the marked controls replace them.
  // A recipe's style is already resolved into its params.
  // A recipe's references likewise: the panel's own reference list goes instead.
  const base: Params = { ...request.base };
  delete base.controls;
  delete base.references;
  delete base.style;
  const params: Params = { ...base, prompt: request.prompt, variants: request.variants, seed: request.seed };
  // Left out when empty, so a style's negative prompt applies.
  if (request.negativePrompt) params.negative_prompt = request.negativePrompt;
  if (request.style) params.style = request.style;
  if (request.controls?.length) params.controls = controlRefs(request.controls);
  if (request.loras?.length) params.loras = loraRefs(request.loras);
  if (request.references?.length) params.references = referenceRefs(request.references);
  if (request.engine) params.engine = request.engine;
  if (request.model) params.model = request.model;
  if (usesStrength(request.mode)) params.strength = request.strength;
  if (request.guidance !== undefined) params.guidance = request.guidance;
  if (request.mode === "expand") params.expand = { ...request.expand };
  return params;
}

function runningJob(jobId: string, document: DocumentInfo, request: JobRequest, depth: PlacementDepth): RunningJob {
  return {
    jobId, document: { id: document.id, path: document.path, title: document.title }, afterSeq: 0, mode: request.mode, prompt: request.prompt,
    expand: { ...request.expand }, depth, label: request.prompt.trim() || MODE_LABELS[request.mode],
  };
}

export function placementFor(request: PlacementRequest, depth: PlacementDepth, results: VariantResult[]): Placement {
  const layers = [...results]
    .sort((a, b) => a.message.variant - b.message.variant)
    .map((r) => ({ name: r.message.layer.name, bounds: r.message.layer.bounds, visible: r.message.layer.visible, pixels: r.pixels, mask: r.mask }));
  const placement: Placement = {
    groupName: groupName(request.mode, request.prompt),
    historyName: historyName(request.mode, request.prompt),
    depth,
    layers,
  };
  if (request.mode === "expand") placement.grow = { ...request.expand };
  return placement;
}
