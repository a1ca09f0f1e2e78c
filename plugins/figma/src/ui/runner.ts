// Runs one job order on the agent: the frame's pixels and mask up as raw RGBA
// and Gray8 (the protocol's fast path), results back as PNG (what Figma takes),
// each variant composited over the frame's pixels and handed to the main thread
// as soon as it is ready.
import type { AgentClient, JobOutcome, VariantResult } from "../../../../protocol/client/src/index.js";
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
  const { width, height } = order.size;
  const { bounds } = result.message.layer;
  const whole = bounds.x === 0 && bounds.y === 0 && bounds.width === width && bounds.height === height;
  // A Generate layer covers the whole frame, opaque, through a full mask: flattening it gives the agent's PNG back.
  if (!source && whole) return result.pixels;
  const layer = decodePng(result.pixels);
  const mask = channel(decodePng(result.mask).data);
  return encodePng(blendLayer(source ?? whiteBase(width, height), width, height, layer.data, mask, bounds), order.size);
}

export async function runOrder(
  client: AgentClient, order: JobOrder, sourcePng: Uint8Array | null, view: JobView, post: (m: UiToMain) => void,
): Promise<JobOutcome["state"]> {
  const { width, height } = order.size;
  const source = sourcePng ? (await decodePngAt(sourcePng, order.size)).data : null;
  const sends: Promise<void>[] = [];
  const deliver = (result: VariantResult): void => {
    const { variant, seed } = result.message;
    const png = frameImage(order, source, result);
    const target = order.targets[Math.min(variant, order.targets.length - 1)];
    post({ type: "image", jobId: order.jobId, target, variant, seed, png });
    view.variantReady(variant, seed);
  };
  let outcome: JobOutcome;
  try {
    outcome = await client.submit(
      {
        jobId: order.jobId, mode: order.mode, params: order.params, document: order.size, region: { x: 0, y: 0, width, height },
        ...(source && { image: { data: source, width, height, format: "rgba8" as const } }),
        ...(order.mask !== "none" && { mask: { data: maskFor(order.mask, width, height), width, height, format: "gray8" as const } }),
        resultFormat: "png",
      },
      {
        onAccepted: (m) => view.accepted(m.queue_position),
        onProgress: (m) => view.progress(m.fraction, m.variant, m.step, m.steps),
        // Results are composited in order, one at a time; the job's end waits for all of them.
        onResult: (r) => sends.push((sends.at(-1) ?? Promise.resolve()).then(() => deliver(r))),
      },
    );
    await Promise.all(sends);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    post({ type: "finished", jobId: order.jobId, state: "error", recipe: null, message: text });
    view.finished("error", text);
    return "error";
  }
  const n = outcome.results.length;
  if (outcome.state === "done") {
    const warnings = outcome.done.warnings?.length ? ` ${outcome.done.warnings.join(" ")}` : "";
    post({ type: "finished", jobId: order.jobId, state: "done", recipe: outcome.done.recipe, message: "" });
    view.finished("done", `Done: ${n} variant${n === 1 ? "" : "s"}.${warnings}`);
  } else if (outcome.state === "cancelled") {
    post({ type: "finished", jobId: order.jobId, state: "cancelled", recipe: null, message: "Cancelled." });
    view.finished("cancelled", n ? `Cancelled after ${n} variant${n === 1 ? "" : "s"}.` : "Cancelled.");
  } else {
    const text = explainJobError(outcome.error.code, outcome.error.message);
    post({ type: "finished", jobId: order.jobId, state: "error", recipe: null, message: text });
    view.finished("error", text);
  }
  return outcome.state;
}
