// Commands turned into job orders for the UI. Targets are fixed here, by node
// id, so whatever the user selects or wherever they go while the agent works,
// each result lands in the node it was made for.
import { modeInfo, newJobId, paramsFor, randomSeed, type Brief } from "../core/brief.js";
import { isEmpty, marginsToAspect, scaleMargins, type Margins } from "../core/expand.js";
import { placeVariants } from "../core/layout.js";
import type { JobOrder, MainToUi, SetPart } from "../core/messages.js";
import { decodeRecipe } from "../core/recipe.js";
import { snapSize, type SizeRules } from "../core/size.js";
import { PENDING_KEY, RECIPE_KEY, SOURCE_KEY } from "./keys.js";
import { isTarget, obstaclesBeside, selectedTargets, textBrief, type Target } from "./targets.js";

export type Send = (message: MainToUi) => void;

/** PNG of `node` at exactly `size`: what an img2img mode starts from. */
async function exportAt(node: Target, size: { width: number; height: number }): Promise<Uint8Array> {
  // Width fixes the scale; the UI resizes if Figma's rounding made the height differ by a pixel.
  return node.exportAsync({ format: "PNG", constraint: { type: "WIDTH", value: size.width } });
}

/** Longest side a reference is exported at: the IP-Adapter's image encoder sees 224 px, more only costs bytes. */
export const REFERENCE_SIDE = 512;

/** PNG of a reference node, its longest side at most REFERENCE_SIDE. */
export function exportReference(node: SceneNode & ExportMixin): Promise<Uint8Array> {
  const constraint: ExportSettingsConstraints = Math.max(node.width, node.height) <= REFERENCE_SIDE ? { type: "SCALE", value: 1 }
    : node.width >= node.height ? { type: "WIDTH", value: REFERENCE_SIDE } : { type: "HEIGHT", value: REFERENCE_SIDE };
  return node.exportAsync({ format: "PNG", constraint });
}

/** The first selected node that can be exported: what "Use selection as reference" takes. */
export function selectedReference(): SceneNode & ExportMixin {
  const node = figma.currentPage.selection.find((n): n is SceneNode & ExportMixin => "exportAsync" in n);
  if (!node) throw new UserError("Select the node to use as a reference (a brand board frame, an image, a group), then press Use selection.");
  return node;
}

/** Each reference node exported now, in order: a relaunch resends the bytes as the canvas shows them. */
async function referenceImages(ids: readonly string[]): Promise<Uint8Array[]> {
  const images: Uint8Array[] = [];
  for (const id of ids) {
    const node = await figma.getNodeByIdAsync(id);
    if (!node || node.removed || !("exportAsync" in node) || !("width" in node)) {
      throw new UserError("A reference image of this job was deleted from the file: pick the reference again and fill anew.");
    }
    images.push(await exportReference(node));
  }
  return images;
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
  const { ids, images } = await briefReferences(brief);
  for (const [i, node] of targets.entries()) {
    const size = snapSize(node.width, node.height, rules);
    const order: JobOrder = {
      jobId: newJobId(), command: "fill", mode: brief.mode, params: paramsFor(brief, brief_, seed + i, 1),
      size, mask: info.mask, targets: [node.id], label: node.name, ...ids,
    };
    send({ type: "job", order, source: info.needsImage ? await exportAt(node, size) : null, references: images });
  }
  return targets.length;
}

/** Consistent set: every selected frame, whatever its size, gets the same recipe and seed, as one `submit_set`. */
export async function setOrders(brief: Brief, rules: SizeRules, send: Send): Promise<number> {
  const targets = selectedTargets();
  if (targets.length === 0) nothingSelected();
  const info = modeInfo(brief.mode);
  const params = paramsFor(brief, textBrief(), brief.seed ?? randomSeed(), 1);
  const set: SetPart = { id: newJobId().replace("figma-", "figma-set-"), count: targets.length };
  // One brand board (or any node) can be the reference of the whole set: exported once, sent once.
  const { ids, images } = await briefReferences(brief);
  for (const node of targets) {
    const size = snapSize(node.width, node.height, rules);
    const order: JobOrder = {
      jobId: newJobId(), command: "set", mode: brief.mode, params, size, mask: info.mask, targets: [node.id], label: `${node.name} · set of ${targets.length}`, set, ...ids,
    };
    send({ type: "job", order, source: info.needsImage ? await exportAt(node, size) : null, references: images });
  }
  return targets.length;
}

/** Every frame on the page filled in set `setId`, in the order they were filled. */
function framesOfSet(setId: string): Target[] {
  return figma.currentPage.findAll((node) => isTarget(node) && decodeRecipe(node.getPluginData(RECIPE_KEY))?.setId === setId).filter(isTarget);
}

/** Regenerate set: the whole set of the selected frame again, its recipe kept, one new seed for all, as one new set. */
export async function reseedSetOrders(send: Send): Promise<number> {
  const setId = selectedTargets().map((node) => decodeRecipe(node.getPluginData(RECIPE_KEY))?.setId).find(Boolean);
  if (!setId) throw new UserError("Select a frame of a set that Underpaint filled.");
  const frames = framesOfSet(setId).filter((node) => decodeRecipe(node.getPluginData(RECIPE_KEY))?.recipe);
  const seed = randomSeed();
  const set: SetPart = { id: newJobId().replace("figma-", "figma-set-"), count: frames.length };
  // The set's recipe keeps its references: their nodes are exported again and the bytes resent.
  const references = decodeRecipe(frames[0].getPluginData(RECIPE_KEY))?.references ?? [];
  const images = await referenceImages(references);
  for (const node of frames) {
    const stored = decodeRecipe(node.getPluginData(RECIPE_KEY))!;
    const recipe = stored.recipe!;
    const size = { width: recipe.region.width, height: recipe.region.height };
    const order: JobOrder = {
      jobId: newJobId(), command: "reseed-set", mode: recipe.mode, params: { ...recipe.params, seed, variants: 1 },
      size, mask: stored.mask, targets: [node.id], label: `${node.name} · set of ${frames.length}, new seed`, set, ...(references.length && { references }),
    };
    send({ type: "job", order, source: recipe.mode !== "generate" ? await sourceBeforeResult(node, size) : null, references: images });
  }
  return frames.length;
}

/** Expand: each selected frame grows (by margins, or to an aspect) and the agent fills the new area from its pixels. */
export async function expandOrders(brief: Brief, rules: SizeRules, margins: Margins, aspect: number | null, send: Send): Promise<number> {
  const targets = selectedTargets();
  if (targets.length === 0) nothingSelected();
  const seed = brief.seed ?? randomSeed();
  const { ids, images } = await briefReferences(brief);
  for (const node of targets) {
    const grow = aspect ? marginsToAspect({ width: node.width, height: node.height }, aspect) : margins;
    if (isEmpty(grow)) throw new UserError(aspect ? `${node.name} already has that aspect.` : "Give Expand a margin above 0 on at least one side.");
    const size = snapSize(node.width, node.height, rules);
    // The job runs at the snapped size; its margins scale with it.
    const params = { ...paramsFor({ ...brief, edges: false }, textBrief(), seed, 1), expand: scaleMargins(grow, size.width / node.width) };
    const order: JobOrder = { jobId: newJobId(), command: "expand", mode: "expand", params, size, mask: "none", targets: [node.id], label: `Expand ${node.name}`, grow, ...ids };
    send({ type: "job", order, source: await exportAt(node, size), references: images });
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
  const { ids, images } = await briefReferences(brief);
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
    size, mask: info.mask, targets: copies.map((c) => c.id), label: `${node.name} × ${copies.length}`, ...ids,
  };
  send({ type: "job", order, source, references: images });
  return copies.length;
}

/** The brief's reference nodes as the order keeps them, and their PNGs now. */
async function briefReferences(brief: Brief): Promise<{ ids: Pick<JobOrder, "references">; images: Uint8Array[] }> {
  const ids = brief.references.map((r) => r.nodeId);
  return { ids: ids.length ? { references: ids } : {}, images: await referenceImages(ids) };
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
    // The node has grown since: its pixels before the result are no longer the frame's shape.
    if (recipe.mode === "expand") throw new UserError(`${node.name} was expanded: undo the expansion and Expand again to vary it.`);
    const seed = command === "regenerate" ? stored.seed : randomSeed();
    const size = { width: recipe.region.width, height: recipe.region.height };
    // Only the seed changes (Vary) or nothing (Regenerate): the references' nodes are exported again and resent.
    const references = stored.references ?? [];
    const images = await referenceImages(references);
    const order: JobOrder = {
      jobId: newJobId(), command, mode: recipe.mode, params: { ...recipe.params, seed, variants: 1 },
      size, mask: stored.mask, targets: [node.id], label: `${command === "vary" ? "Vary" : "Regenerate"} ${node.name}`, ...(references.length && { references }),
    };
    const needsImage = recipe.mode !== "generate";
    send({ type: "job", order, source: needsImage ? await sourceBeforeResult(node, size) : null, references: images });
    count++;
  }
  if (count === 0) throw new UserError("Select a frame that Underpaint filled: it keeps the recipe to run again.");
  return count;
}
