// Rectangle maths between Photoshop's {left, top, right, bottom} bounds and the
// protocol's {x, y, width, height} rects. Everything the agent sees is integer
// document pixels, so conversions round outwards: a soft selection's fractional
// edge must never be cut off.

import type { Rect, Size } from "./protocol.js";

export interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Pixels added on each side of the canvas (Expand), every side given. */
export type Sides = { left: number; top: number; right: number; bottom: number };

/** `rect` grown by `sides`: where Expand's output lies in the old canvas's coordinates. */
export function growRect(rect: Rect, sides: Sides): Rect {
  return { x: rect.x - sides.left, y: rect.y - sides.top, width: rect.width + sides.left + sides.right, height: rect.height + sides.top + sides.bottom };
}

export function rectFromBounds(bounds: Bounds): Rect {
  const left = Math.floor(bounds.left);
  const top = Math.floor(bounds.top);
  return { x: left, y: top, width: Math.ceil(bounds.right) - left, height: Math.ceil(bounds.bottom) - top };
}

export function boundsFromRect(rect: Rect): Bounds {
  return { left: rect.x, top: rect.y, right: rect.x + rect.width, bottom: rect.y + rect.height };
}

export function canvasRect(size: Size): Rect {
  return { x: 0, y: 0, width: size.width, height: size.height };
}

/** The overlap of two rects; width or height 0 when they do not meet. */
export function intersect(a: Rect, b: Rect): Rect {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const right = Math.min(a.x + a.width, b.x + b.width);
  const bottom = Math.min(a.y + a.height, b.y + b.height);
  return { x, y, width: Math.max(0, right - x), height: Math.max(0, bottom - y) };
}

export function isEmpty(rect: Rect): boolean {
  return rect.width <= 0 || rect.height <= 0;
}

export function area(rect: Rect): number {
  return Math.max(0, rect.width) * Math.max(0, rect.height);
}

/** True when every value is a whole number: what putPixels needs to land on exact pixels. */
export function isIntegerRect(rect: Rect): boolean {
  return [rect.x, rect.y, rect.width, rect.height].every(Number.isInteger);
}

export function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}
