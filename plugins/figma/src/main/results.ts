// Results into nodes. Each target is looked up by the id fixed at submit time;
// a target deleted meanwhile gives a notice and the other results still land.
import type { Margins } from "../core/expand.js";
import type { JobOrder, UiToMain } from "../core/messages.js";
import type { Recipe } from "../core/protocol.js";
import { decodeRecipe, encodeRecipe, summarize, type NodeRecipe } from "../core/recipe.js";
import { PENDING_KEY, RECIPE_KEY, RELAUNCH_COMMANDS, SOURCE_KEY } from "./keys.js";
import { isTarget, type Target } from "./targets.js";

type ImageMessage = Extract<UiToMain, { type: "image" }>;

async function findTarget(id: string): Promise<Target | null> {
  const node = await figma.getNodeByIdAsync(id);
  return isTarget(node) ? node : null;
}

/** The recipe known before `done`: enough to regenerate; `done` replaces it with the agent's full one. */
export function provisionalRecipe(order: JobOrder, seed: number): Recipe {
  return {
    engine: order.params.engine ?? "", mode: order.mode, params: { ...order.params }, seeds: [seed],
    document: order.size, region: { x: 0, y: 0, ...order.size },
  };
}

function writeRecipe(node: Target, record: NodeRecipe): void {
  node.setPluginData(RECIPE_KEY, encodeRecipe(record));
  const summary = summarize(record);
  // Keys match manifest.json's relaunchButtons; the text shows under each button.
  node.setRelaunchData(Object.fromEntries(RELAUNCH_COMMANDS.map((command) => [command, summary])));
}

/** The record for `node`; Regenerate and Vary of one frame of a set leave it in its set. */
function recordOf(node: Target, order: JobOrder, variant: number, seed: number): Omit<NodeRecipe, "recipe"> {
  const kept = order.command === "regenerate" || order.command === "vary" ? decodeRecipe(node.getPluginData(RECIPE_KEY))?.setId : undefined;
  const setId = order.set?.id ?? kept;
  return { v: 1, jobId: order.jobId, variant, seed, mask: order.mask, ...(setId && { setId }), ...(order.references?.length && { references: order.references }) };
}

/** The node larger by `m` on each side, its contents kept where they were on the canvas. */
function grow(node: Target, m: Margins): void {
  node.resizeWithoutConstraints(node.width + m.left + m.right, node.height + m.top + m.bottom);
  node.x -= m.left;
  node.y -= m.top;
  if ("children" in node) {
    for (const child of node.children) {
      child.x += m.left;
      child.y += m.top;
    }
  }
}

/** Puts one variant into its node as an image fill; false (with a notice) when the node is gone. */
export async function placeImage(message: ImageMessage, order: JobOrder): Promise<boolean> {
  const node = await findTarget(message.target);
  if (!node) {
    figma.notify(`The frame for variant ${message.variant + 1} (seed ${message.seed}) was deleted; that result was skipped.`);
    return false;
  }
  const image = figma.createImage(message.png);
  // Fill, Fill as a set and Make variants start from what the node shows now; Regenerate and Vary keep the first source.
  const relaunch = order.command === "regenerate" || order.command === "vary" || order.command === "reseed-set";
  if (!relaunch || !node.getPluginData(SOURCE_KEY)) node.setPluginData(SOURCE_KEY, JSON.stringify(node.fills));
  if (order.grow) grow(node, order.grow);
  node.fills = [{ type: "IMAGE", imageHash: image.hash, scaleMode: "FILL" }];
  if (order.command === "variants") node.name = node.name.replace(/ · variant \d+$/, "") + ` · seed ${message.seed}`;
  node.setPluginData(PENDING_KEY, "");
  writeRecipe(node, { ...recordOf(node, order, message.variant, message.seed), recipe: provisionalRecipe(order, message.seed) });
  // Growing (for Expand) and the new fill are one undo step.
  figma.commitUndo();
  return true;
}

/** The agent's full recipe onto every node that got a variant of the job. */
export async function attachRecipe(order: JobOrder, placed: ReadonlyMap<string, { variant: number; seed: number }>, recipe: Recipe): Promise<void> {
  for (const [id, { variant, seed }] of placed) {
    const node = await findTarget(id);
    if (node) writeRecipe(node, { ...recordOf(node, order, variant, seed), recipe });
  }
}

/** Placeholder copies whose variant never came (cancel, error) are removed again. */
export async function removePlaceholders(order: JobOrder): Promise<number> {
  let removed = 0;
  for (const id of order.targets) {
    const node = await findTarget(id);
    if (node && node.getPluginData(PENDING_KEY) === order.jobId) {
      node.remove();
      removed++;
    }
  }
  return removed;
}
