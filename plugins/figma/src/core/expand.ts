// Expand: how far a frame grows on each side, from margins the user typed or a
// target aspect, and the grown canvas the agent's result is composited over.
import type { Size } from "./size.js";

export interface Margins {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export const NO_MARGINS: Margins = { left: 0, top: 0, right: 0, bottom: 0 };

/** Aspects the panel offers (width / height), as designers name them. */
export const ASPECTS: readonly { label: string; ratio: number }[] = [
  { label: "1:1", ratio: 1 }, { label: "4:5", ratio: 4 / 5 }, { label: "3:2", ratio: 3 / 2 },
  { label: "16:9", ratio: 16 / 9 }, { label: "9:16", ratio: 9 / 16 },
];

/** Margins that bring `size` to `ratio` by growing only the short way, evenly on both sides (odd pixel right or bottom). */
export function marginsToAspect(size: Size, ratio: number): Margins {
  if (!(ratio > 0)) throw new RangeError(`Cannot expand to an aspect of ${ratio}.`);
  // Too narrow grows sideways, too wide grows up and down; never both.
  const dw = size.width / size.height < ratio ? Math.round(size.height * ratio) - size.width : 0;
  const dh = dw === 0 ? Math.max(0, Math.round(size.width / ratio) - size.height) : 0;
  return { left: Math.floor(dw / 2), right: Math.ceil(dw / 2), top: Math.floor(dh / 2), bottom: Math.ceil(dh / 2) };
}

export function scaleMargins(margins: Margins, scale: number): Margins {
  const { left, top, right, bottom } = margins;
  return { left: Math.round(left * scale), top: Math.round(top * scale), right: Math.round(right * scale), bottom: Math.round(bottom * scale) };
}

export const isEmpty = (m: Margins): boolean => m.left + m.top + m.right + m.bottom === 0;

export function grownSize(size: Size, m: Margins): Size {
  return { width: size.width + m.left + m.right, height: size.height + m.top + m.bottom };
}

/** The grown canvas: transparent, with the frame's RGBA8 pixels at their place in it. */
export function grownCanvas(source: Uint8Array, size: Size, m: Margins): Uint8Array {
  const grown = grownSize(size, m);
  const out = new Uint8Array(grown.width * grown.height * 4);
  const row = size.width * 4;
  for (let y = 0; y < size.height; y++) out.set(source.subarray(y * row, (y + 1) * row), ((y + m.top) * grown.width + m.left) * 4);
  return out;
}
