// Pixel maths the UI does before and after a job, on plain arrays so it is
// tested without a canvas: the mask a mode sends, and the frame's new image
// made from its source and a result layer, by the agent's compositing rule.

/** Gray8 mask for a `mask` kind: "centre" is a soft ellipse over the middle half, "full" selects everything. */
export function maskFor(kind: "centre" | "full", width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  if (kind === "full") return mask.fill(255);
  // Half the frame each way: a subject in the middle, with its surroundings left to continue from.
  const cx = width / 2;
  const cy = height / 2;
  const rx = width / 4;
  const ry = height / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = Math.hypot((x + 0.5 - cx) / rx, (y + 0.5 - cy) / ry);
      // Solid inside 0.8 of the radius, easing to 0 at the edge: no hard seam in the fill.
      mask[y * width + x] = Math.round(Math.min(1, Math.max(0, (1 - r) / 0.2)) * 255);
    }
  }
  return mask;
}

export interface Placement {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What is under a Generate job's layer, as in the agent's own PNG: opaque white, like a new document. */
export function whiteBase(width: number, height: number): Uint8Array {
  return new Uint8Array(width * height * 4).fill(255);
}

/**
 * `source` (RGBA8, `width` x `height`) with `layer` (RGBA8) composited at `at`
 * through `mask` (Gray8, one byte per layer pixel), by the agent's own rule
 * (underpaint.results.png.composite_layers), so the frame gets the bytes the
 * agent's PNG of the variant holds: the layer's alpha folds into the mask,
 * weight = (mask * alpha + 127) // 255, and the layer, taken as opaque, is
 * blended by that weight with rounding (blend_masked):
 * out = (source * (255 - weight) + layer * weight + 127) // 255.
 *
 * Where the weight is 0 the output is the source byte for byte, as the agent
 * promises; where it is 255 it is the layer's colour, opaque.
 */
export function blendLayer(
  source: Uint8Array | Uint8ClampedArray, width: number, height: number,
  layer: Uint8Array | Uint8ClampedArray, mask: Uint8Array | Uint8ClampedArray, at: Placement,
): Uint8Array {
  if (source.length !== width * height * 4) throw new RangeError("The source is not width x height RGBA.");
  if (layer.length !== at.width * at.height * 4 || mask.length !== at.width * at.height) {
    throw new RangeError("The layer and its mask do not match the layer's bounds.");
  }
  const out = new Uint8Array(source);
  // The agent's integer maths: (x + 127) // 255 is x / 255 rounded to the nearest.
  const mix = (base: number, top: number, weight: number): number => Math.floor((base * (255 - weight) + top * weight + 127) / 255);
  for (let ly = 0; ly < at.height; ly++) {
    const y = at.y + ly;
    if (y < 0 || y >= height) continue;
    for (let lx = 0; lx < at.width; lx++) {
      const x = at.x + lx;
      if (x < 0 || x >= width) continue;
      const o = (y * width + x) * 4;
      const l = (ly * at.width + lx) * 4;
      const weight = Math.floor((mask[ly * at.width + lx] * layer[l + 3] + 127) / 255);
      for (let c = 0; c < 3; c++) out[o + c] = mix(source[o + c], layer[l + c], weight);
      out[o + 3] = mix(source[o + 3], 255, weight);
    }
  }
  return out;
}

/** One channel of an RGBA8 image (the gray of a decoded grayscale PNG is in every colour channel). */
export function channel(rgba: Uint8Array | Uint8ClampedArray, index = 0): Uint8Array {
  const out = new Uint8Array(rgba.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = rgba[i * 4 + index];
  return out;
}
