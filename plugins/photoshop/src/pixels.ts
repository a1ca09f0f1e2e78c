// Pixel buffers as Photoshop hands them over and as the protocol wants them.
// Photoshop trims what it returns to where data exists (a selection's bounds,
// a layer's pixels), and gives RGB without alpha for flat documents; the agent
// wants exactly `region.width * region.height` pixels of RGBA8 / Gray8.

import type { Rect } from "./protocol.js";
import { intersect, isEmpty } from "./geometry.js";

/**
 * Copies `source` (covering `sourceRect`, `components` bytes a pixel) into a new
 * buffer covering `target`, leaving `fill` wherever Photoshop returned nothing.
 */
export function padInto(source: Uint8Array, sourceRect: Rect, target: Rect, components: number, fill = 0): Uint8Array {
  if (source.length !== sourceRect.width * sourceRect.height * components) {
    throw new Error(`Photoshop returned ${source.length} bytes for ${sourceRect.width}x${sourceRect.height}x${components}.`);
  }
  const out = new Uint8Array(target.width * target.height * components);
  if (fill) out.fill(fill);
  const overlap = intersect(sourceRect, target);
  if (isEmpty(overlap)) return out;
  const rowBytes = overlap.width * components;
  for (let y = overlap.y; y < overlap.y + overlap.height; y++) {
    const from = ((y - sourceRect.y) * sourceRect.width + (overlap.x - sourceRect.x)) * components;
    const to = ((y - target.y) * target.width + (overlap.x - target.x)) * components;
    out.set(source.subarray(from, from + rowBytes), to);
  }
  return out;
}

/** RGB (3 components) or RGBA (4) chunky bytes as RGBA8; a flat document is opaque. */
export function toRgba(data: Uint8Array, components: number): Uint8Array {
  if (components === 4) return data;
  if (components !== 3) throw new Error(`Expected RGB or RGBA pixels, got ${components} components.`);
  const pixels = data.length / 3;
  const out = new Uint8Array(pixels * 4);
  for (let i = 0, j = 0; i < pixels; i++, j += 4) {
    out[j] = data[i * 3];
    out[j + 1] = data[i * 3 + 1];
    out[j + 2] = data[i * 3 + 2];
    out[j + 3] = 255;
  }
  return out;
}

/**
 * 8-bit values on Photoshop's full 16-bit range (0..65535, `fullRange: true`):
 * v * 257 maps 0 to 0 and 255 to 65535 exactly, so a 16-bit document gets the
 * agent's pixels without a rounding shift.
 */
export function widenTo16(data: Uint8Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * 257;
  return out;
}

/** Whether any mask byte is above 0: an all-zero mask selects nothing. */
export function selectsAnything(mask: Uint8Array): boolean {
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) return true;
  return false;
}

/** A full-opacity mask: what "no selection" means for modes that work on the whole canvas. */
export function fullMask(width: number, height: number): Uint8Array {
  return new Uint8Array(width * height).fill(255);
}
