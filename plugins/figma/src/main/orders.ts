// Commands turned into job orders for the UI. Targets are fixed here, by node
// id, so whatever the user selects or wherever they go while the agent works,
// each result lands in the node it was made for.
import { modeInfo, newJobId, paramsFor, randomSeed, type Brief } from "../core/brief.js";
import { placeVariants } from "../core/layout.js";
import type { JobOrder, MainToUi } from "../core/messages.js";
import { decodeRecipe } from "../core/recipe.js";
import { snapSize, type SizeRules } from "../core/size.js";
import { PENDING_KEY, RECIPE_KEY, SOURCE_KEY } from "./keys.js";
import { obstaclesBeside, selectedTargets, textBrief, type Target } from "./targets.js";

export type Send = (message: MainToUi) => void;

/** PNG of `node` at exactly `size`: what an img2img mode starts from. */
async function exportAt(node: Target, size: { width: number; height: number }): Promise<Uint8Array> {
  // Width fixes the scale; the UI resizes if Figma's rounding made the height differ by a pixel.
  return node.exportAsync({ format: "PNG", constraint: { type: "WIDTH", value: size.width } });
}

function nothingSelected(): never {
  throw new UserError("Select one or more frames or rectangles first.");
}

/** A problem the user can fix; shown as a notice, not an error report. */
export class UserError extends Error {}

/** Fill frames: each selected frame gets its own variant (seed, seed + 1, ...). */
export async function fillOrders(brief: Brief, rules: SizeRules, send: Send): Promise<number> {
  const targets = selectedTargets();
  if (targets.length === 0) nothingSelected();
  const info = modeInfo(brief.mode);
  const seed = brief.seed ?? randomSeed();
  const brief_ = textBrief();
  for (const [i, node] of targets.entries()) {
    const size = snapSize(node.width, node.height, rules);
    const order: JobOrder = {
      jobId: newJobId(), command: "fill", mode: brief.mode, params: paramsFor(brief, brief_, seed + i, 1),
      size, mask: info.mask, targets: [node.id], label: node.name,
    };
    send({ type: "job", order, source: info.needsImage ? await exportAt(node, size) : null });
  }
  return targets.length;
}

/** Make variants: copies of one frame in a row beside it, each to receive one variant. */
export async function variantOrder(brief: Brief, rules: SizeRules, send: Send): Promise<number> {
  const targets = selectedTargets();
  if (targets.length !== 1) throw new UserError("Select exactly one frame to make variants of.");
  const [node] = targets;
  const info = modeInfo(brief.mode);
  const size = snapSize(node.width, node.height, rules);
  const source = info.needsImage ? await exportAt(node, size) : null;
  const jobId = newJobId();
  const boxes = placeVariants({ x: node.x, y: node.y, width: node.width, height: node.height }, brief.variants, obstaclesBeside(node));
  const copies = boxes.map((box, i) => {
    const copy = node.clone();
    const parent = node.parent;
    // clone() parents the copy on the page; put it beside its source instead.
    if (parent && "insertChild" in parent) parent.insertChild(parent.children.indexOf(node) + 1 + i, copy);
    copy.x = box.x;
    copy.y = box.y;
    copy.name = `${node.name} · variant ${i + 1}`;
    copy.setPluginData(PENDING_KEY, jobId);
    for (const key of [RECIPE_KEY, SOURCE_KEY]) copy.setPluginData(key, "");
    return copy;
  });
  // The placeholders are one undo step; each result that lands is another.
  figma.commitUndo();
  const seed = brief.seed ?? randomSeed();
  const order: JobOrder = {
    jobId, command: "variants", mode: brief.mode, params: paramsFor(brief, textBrief(), seed, copies.length),
    size, mask: info.mask, targets: copies.map((c) => c.id), label: `${node.name} × ${copies.length}`,
  };
  send({ type: "job", order, source });
  return copies.length;
}

/** Source pixels for a relaunch: the node as it was before its first result, when Figma still has them. */
async function sourceBeforeResult(node: Target, size: { width: number; height: number }): Promise<Uint8Array> {
  const saved = node.getPluginData(SOURCE_KEY);
  if (!saved) return exportAt(node, size);
  const copy = node.clone();
  try {
    copy.fills = JSON.parse(saved) as Paint[];
    return await exportAt(copy, size);
  } catch {
    // The original image is gone from the file: continue from what the node shows now.
    return exportAt(node, size);
  } finally {
    copy.remove();
  }
}

/** Regenerate (same seed) or Vary (a new one) every selected node that carries a recipe. */
export async function relaunchOrders(command: "regenerate" | "vary", send: Send): Promise<number> {
  let count = 0;
  for (const node of selectedTargets()) {
    const stored = decodeRecipe(node.getPluginData(RECIPE_KEY));
    if (!stored?.recipe) continue;
    const { recipe } = stored;
    const seed = command === "regenerate" ? stored.seed : randomSeed();
    const size = { width: recipe.region.width, height: recipe.region.height };
    const order: JobOrder = {
      jobId: newJobId(), command, mode: recipe.mode, params: { ...recipe.params, seed, variants: 1 },
      size, mask: stored.mask, targets: [node.id], label: `${command === "vary" ? "Vary" : "Regenerate"} ${node.name}`,
    };
    const needsImage = recipe.mode !== "generate";
    send({ type: "job", order, source: needsImage ? await sourceBeforeResult(node, size) : null });
    count++;
  }
  if (count === 0) throw new UserError("Select a frame that Underpaint filled: it keeps the recipe to run again.");
  return count;
}
