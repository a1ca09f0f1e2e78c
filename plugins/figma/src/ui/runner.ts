// Runs one job order on the agent: the frame's pixels and mask up as raw RGBA
// and Gray8 (the protocol's fast path), results back as PNG (what Figma takes),
// each variant composited over the frame's pixels and handed to the main thread
// as soon as it is ready. A set's orders go up together as one submit_set.
import type { AgentClient, ImageInput, JobOutcome, SetTargetRequest, VariantResult } from "../../../../protocol/client/src/index.js";
import { grownCanvas, grownSize, NO_MARGINS } from "../core/expand.js";
import { explainJobError } from "../core/explain.js";
import type { JobOrder, UiToMain } from "../core/messages.js";
import { blendLayer, channel, maskFor, whiteBase } from "../core/pixels.js";
import { decodePng, encodePng } from "../core/png.js";
import { decodePngAt } from "./images.js";

export interface JobView {
  accepted(queuePosition: number): void;
  progress(fraction: number, variant: number, step: number, steps: number): void;
  variantReady(variant: number, seed: number): void;
  finished(state: JobOutcome["state"], text: string): void;
}

/** The frame's new image for one variant: the layer through its mask over the frame, as the agent flattens it. */
function frameImage(order: JobOrder, source: Uint8Array | null, result: VariantResult): Uint8Array {
  const { bounds } = result.message.layer;
  // The protocol's margins default each side to 0.
  const margins = order.mode === "expand" && order.params.expand ? { ...NO_MARGINS, ...order.params.expand } : null;
  const { width, height } = margins ? grownSize(order.size, margins) : order.size;
  const base = source && margins ? grownCanvas(source, order.size, margins) : source;
  const whole = bounds.x === 0 && bounds.y === 0 && bounds.width === width && bounds.height === height;
  // A Generate layer covers the whole frame, opaque, through a full mask: flattening it gives the agent's PNG back.
  if (!base && whole) return result.pixels;
  const layer = decodePng(result.pixels);
  const mask = channel(decodePng(result.mask).data);
  return encodePng(blendLayer(base ?? whiteBase(width, height), width, height, layer.data, mask, bounds), { width, height });
}

/** What the agent is sent for one order: its region, the frame's pixels and mask, a null per source-derived control. */
function targetOf(order: JobOrder, source: Uint8Array | null): SetTargetRequest {
  const { width, height } = order.size;
  const controls = order.params.controls ?? [];
  return {
    jobId: order.jobId, document: order.size, region: { x: 0, y: 0, width, height },
    ...(source && { image: { data: source, width, height, format: "rgba8" as const } }),
    ...(order.mask !== "none" && { mask: { data: maskFor(order.mask, width, height), width, height, format: "gray8" as const } }),
    // The panel only offers controls the agent derives from the frame (image "source"): their blobs are null.
    ...(controls.length && { controls: controls.map(() => null) }),
  };
}

/** One running order: where its variants go and how its row shows them. */
class OrderRun {
  private readonly sends: Promise<void>[] = [];

  constructor(readonly order: JobOrder, readonly source: Uint8Array | null, readonly view: JobView, private readonly post: (m: UiToMain) => void) {}

  /** Results are composited in order, one at a time; the job's end waits for all of them. */
  result(result: VariantResult): void {
    this.sends.push((this.sends.at(-1) ?? Promise.resolve()).then(() => {
      const { variant, seed } = result.message;
      const png = frameImage(this.order, this.source, result);
      const target = this.order.targets[Math.min(variant, this.order.targets.length - 1)];
      this.post({ type: "image", jobId: this.order.jobId, target, variant, seed, png });
      this.view.variantReady(variant, seed);
    }));
  }

  failed(text: string): "error" {
    this.post({ type: "finished", jobId: this.order.jobId, state: "error", recipe: null, message: text });
    this.view.finished("error", text);
    return "error";
  }

  async finish(outcome: JobOutcome): Promise<JobOutcome["state"]> {
    await Promise.all(this.sends);
    const { jobId } = this.order;
    const n = outcome.results.length;
    if (outcome.state === "done") {
      const warnings = outcome.done.warnings?.length ? ` ${outcome.done.warnings.join(" ")}` : "";
      this.post({ type: "finished", jobId, state: "done", recipe: outcome.done.recipe, message: "" });
      this.view.finished("done", `Done: ${n} variant${n === 1 ? "" : "s"}.${warnings}`);
    } else if (outcome.state === "cancelled") {
      this.post({ type: "finished", jobId, state: "cancelled", recipe: null, message: "Cancelled." });
      this.view.finished("cancelled", n ? `Cancelled after ${n} variant${n === 1 ? "" : "s"}.` : "Cancelled.");
    } else {
      return this.failed(explainJobError(outcome.error.code, outcome.error.message));
    }
    return outcome.state;
  }
}

const decoded = async (order: JobOrder, png: Uint8Array | null): Promise<Uint8Array | null> => (png ? (await decodePngAt(png, order.size)).data : null);

/** The reference images as the protocol's raw RGBA8, at the size they were exported. */
export function referenceInputs(pngs: readonly Uint8Array[]): ImageInput[] {
  return pngs.map((png) => {
    const { data, width, height } = decodePng(png);
    return { data, width, height, format: "rgba8" };
  });
}

export async function runOrder(
  client: AgentClient, order: JobOrder, sourcePng: Uint8Array | null, referencePngs: readonly Uint8Array[], view: JobView, post: (m: UiToMain) => void,
): Promise<JobOutcome["state"]> {
  const run = new OrderRun(order, await decoded(order, sourcePng), view, post);
  let outcome: JobOutcome;
  try {
    const references = referenceInputs(referencePngs);
    outcome = await client.submit(
      { ...targetOf(order, run.source), mode: order.mode, params: order.params, resultFormat: "png", ...(references.length && { references }) },
      { onAccepted: (m) => view.accepted(m.queue_position), onProgress: (m) => view.progress(m.fraction, m.variant, m.step, m.steps), onResult: (r) => run.result(r) },
    );
  } catch (error) {
    return run.failed(error instanceof Error ? error.message : String(error));
  }
  return run.finish(outcome);
}

/** The orders of one set (same recipe, one frame each) as one `submit_set`: queued all or none; the references go once. */
export async function runSet(
  client: AgentClient, parts: readonly { order: JobOrder; source: Uint8Array | null; references: Uint8Array[]; view: JobView }[], post: (m: UiToMain) => void,
): Promise<JobOutcome["state"][]> {
  const runs = await Promise.all(parts.map(async (p) => new OrderRun(p.order, await decoded(p.order, p.source), p.view, post)));
  const byJob = new Map(runs.map((run) => [run.order.jobId, run]));
  const [{ order: first, references: pngs }] = parts;
  let outcomes: Map<string, JobOutcome>;
  try {
    const references = referenceInputs(pngs);
    outcomes = await client.submitSet(
      {
        setId: first.set!.id, mode: first.mode, params: first.params, targets: runs.map((run) => targetOf(run.order, run.source)), resultFormat: "png",
        ...(references.length && { references }),
      },
      {
        onAccepted: (m) => byJob.get(m.job_id)?.view.accepted(m.queue_position),
        onProgress: (m) => byJob.get(m.job_id)?.view.progress(m.fraction, m.variant, m.step, m.steps),
        onResult: (r) => byJob.get(r.message.job_id)?.result(r),
      },
    );
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return runs.map((run) => run.failed(text));
  }
  return Promise.all(runs.map((run) => run.finish(outcomes.get(run.order.jobId)!)));
}
