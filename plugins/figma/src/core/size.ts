// The pixel size a frame is generated at: the frame's aspect, a multiple of what
// the engine wants, no side above Figma's image limit and no area above the
// agent's. Pure, so the same numbers hold in the main thread and in tests.

/** Figma refuses images with a side longer than this (createImage throws). */
export const FIGMA_MAX_IMAGE_SIDE = 4096;

export interface Size {
  width: number;
  height: number;
}

/** What the chosen engine and the agent allow; from `welcome.capabilities`. */
export interface SizeRules {
  multiple: number;
  nativeMin: number;
  maxPixels: number;
}

/**
 * Pixel size for a `width` x `height` frame at `scale` pixels per unit.
 *
 * Tiny frames are brought up to the engine's native minimum (the engine would
 * upscale anyway, and Figma scales the image fill down to the frame); large
 * ones come down until the long side fits 4096 and the area fits `maxPixels`.
 */
export function snapSize(width: number, height: number, rules: SizeRules, scale = 1): Size {
  if (!(width > 0 && height > 0 && scale > 0)) throw new RangeError(`Cannot size a ${width}x${height} frame.`);
  const m = Math.max(1, Math.floor(rules.multiple));
  const w = width * scale;
  const h = height * scale;
  const long = Math.max(w, h);
  let factor = long < rules.nativeMin ? rules.nativeMin / long : 1;
  factor = Math.min(factor, FIGMA_MAX_IMAGE_SIDE / long, Math.sqrt(rules.maxPixels / (w * h)));
  const snap = (v: number, round: (x: number) => number): number => Math.max(m, round((v * factor) / m) * m);
  let size = { width: snap(w, Math.round), height: snap(h, Math.round) };
  if (!fits(size, rules)) {
    // Rounding to the nearest multiple went over a limit; rounding down never does.
    size = { width: snap(w, Math.floor), height: snap(h, Math.floor) };
  }
  return size;
}

function fits(size: Size, rules: SizeRules): boolean {
  return Math.max(size.width, size.height) <= FIGMA_MAX_IMAGE_SIDE && size.width * size.height <= rules.maxPixels;
}
