// What the selection offers: frames (and rectangles) to fill, a text layer to
// use as the brief, and the nodes a row of copies must stay clear of.
import type { Box } from "../core/layout.js";
import type { SelectionInfo } from "../core/messages.js";

export type Target = FrameNode | RectangleNode | ComponentNode;
const TARGET_TYPES = new Set<string>(["FRAME", "RECTANGLE", "COMPONENT"]);

export function isTarget(node: BaseNode | null): node is Target {
  return node !== null && TARGET_TYPES.has(node.type) && !node.removed;
}

export function selectedTargets(): Target[] {
  return figma.currentPage.selection.filter(isTarget);
}

/** The first selected text layer's characters (a brief written on the canvas). */
export function textBrief(): string {
  const text = figma.currentPage.selection.find((n): n is TextNode => n.type === "TEXT");
  return text ? text.characters : "";
}

export function selectionInfo(): SelectionInfo {
  return { frames: selectedTargets().length, textBrief: textBrief() };
}

/** Siblings of `node` that a copy placed beside it must not cover. */
export function obstaclesBeside(node: SceneNode): Box[] {
  const parent = node.parent;
  if (!parent || !("children" in parent)) return [];
  return parent.children.filter((n) => n.id !== node.id && n.visible).map((n) => ({ x: n.x, y: n.y, width: n.width, height: n.height }));
}
