// One press of Generate, start to finish: ask the host for the document and
// selection, ask the agent (`plan`) for the context rectangle, read only that
// rectangle, submit, follow events, and place every variant in one undo step.
// Photoshop stays behind `Host`; the agent behind the shared AgentClient.

import type { AgentClient, JobOutcome, Mode, Params, Preview, Progress, Recipe, Rect, Size, VariantResult } from "./protocol.js";
import { area, canvasRect, intersect, isEmpty, isIntegerRect } from "./geometry.js";
import type { Host, Placement } from "./host.js";
import { placementDepth, targetFor, transferFor, type PlacementDepth } from "./modes.js";
import { groupName, historyName, newJobId } from "./naming.js";
import { selectsAnything } from "./pixels.js";

export interface JobRequest {
  mode: Mode;
  prompt: string;
  negativePrompt: string;
  variants: number;
  seed: number;
  /** Refine only: how much may change (0-1). */
  strength: number;
  engine?: string;
  model?: string;
  /** Expand only: pixels added on every side. */
  expandBy: number;
}

export type Phase = "planning" | "reading" | "uploading" | "queued" | "running" | "placing";

export interface JobEvents {
  onPhase?(phase: Phase, jobId: string | null): void;
  onProgress?(message: Progress): void;
  onPreview?(message: Preview, png: Uint8Array): void;
  onResult?(variant: number, received: number): void;
}

export type RunOutcome =
  | { state: "done"; jobId: string; documentId: number; recipe: Recipe; layers: number; warnings: string[] }
  | { state: "refused"; message: string }
  | { state: "error"; jobId: string | null; code: string; message: string; retryable: boolean }
  | { state: "cancelled"; jobId: string };

export interface ControllerOptions {
  makeJobId?: (documentId: number) => string;
  previews?: boolean;
}

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
    let outcome: JobOutcome;
    let received = 0;
    const abandoned = new Promise<never>((_, reject) => (this.abandonRun = reject));
    try {
      outcome = await Promise.race([abandoned, client.submit(
        {
          jobId, mode: request.mode, document: size, region, params, previews: this.options.previews ?? true,
          image: image && { data: image, width: region.width, height: region.height, format: "rgba8" },
          mask: mask && { data: mask, width: region.width, height: region.height, format: "gray8" },
        },
        {
          onAccepted: (m) => events.onPhase?.(m.queue_position > 0 ? "queued" : "running", jobId),
          onProgress: (m) => {
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
    if (outcome.state === "cancelled") return { state: "cancelled", jobId };
    if (outcome.state === "error") {
      const { code, message, retryable } = outcome.error;
      return { state: "error", jobId, code, message, retryable };
    }

    events.onPhase?.("placing", jobId);
    // Placed by id: if the user switched documents meanwhile, the layers still land where the job came from.
    await this.host.place(document.id, placementFor(request, depth, outcome.results, size));
    return {
      state: "done", jobId, documentId: document.id, recipe: outcome.done.recipe,
      layers: outcome.results.length, warnings: outcome.done.warnings ?? [],
    };
  }
}

function refuse(message: string): RunOutcome {
  return { state: "refused", message };
}

/** Only what the user set travels: the agent fills in the rest and the recipe records it. */
export function paramsFor(request: JobRequest): Params {
  const params: Params = {
    prompt: request.prompt,
    negative_prompt: request.negativePrompt,
    variants: request.variants,
    seed: request.seed,
  };
  if (request.engine) params.engine = request.engine;
  if (request.model) params.model = request.model;
  if (request.mode === "refine") params.strength = request.strength;
  if (request.mode === "expand") {
    const m = request.expandBy;
    params.expand = { left: m, top: m, right: m, bottom: m };
  }
  return params;
}

export function placementFor(request: JobRequest, depth: PlacementDepth, results: VariantResult[], document: Size): Placement {
  const layers = [...results]
    .sort((a, b) => a.message.variant - b.message.variant)
    .map((r) => ({ name: r.message.layer.name, bounds: r.message.layer.bounds, visible: r.message.layer.visible, pixels: r.pixels, mask: r.mask }));
  const placement: Placement = {
    groupName: groupName(request.mode, request.prompt),
    historyName: historyName(request.mode, request.prompt),
    depth,
    layers,
  };
  if (request.mode === "expand") {
    placement.canvas = { width: document.width + 2 * request.expandBy, height: document.height + 2 * request.expandBy };
  }
  return placement;
}
