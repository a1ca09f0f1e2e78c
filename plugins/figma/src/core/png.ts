// PNG to and from RGBA8 with fast-png (pure JavaScript, so the UI iframe and
// the Node tests run the same code). Exact both ways: a canvas stores alpha
// premultiplied and would round the colour of every semi-transparent pixel,
// so a frame would no longer match the agent's composite outside the mask.
import { convertIndexedToRgb, decode, encode } from "fast-png";
import type { Size } from "./size.js";

export interface Rgba8 extends Size {
  data: Uint8Array;
}

/** RGBA8 of an 8-bit PNG: gray, gray + alpha, RGB, RGBA (Figma's exports, the agent's results) or palette. */
export function decodePng(png: Uint8Array): Rgba8 {
  const image = decode(png);
  const { width, height, palette } = image;
  if (image.depth !== 8 && !palette) throw new RangeError(`Cannot read a ${image.depth}-bit PNG; Figma and the agent write 8-bit.`);
  const samples = palette ? convertIndexedToRgb(image) : image.data;
  const channels = palette ? palette[0].length : image.channels;
  const gray = channels < 3;
  // Gray + alpha and RGBA carry alpha last; the others are opaque.
  const alpha = channels % 2 === 0;
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, s = 0; i < data.length; i += 4, s += channels) {
    data[i] = samples[s];
    data[i + 1] = samples[gray ? s : s + 1];
    data[i + 2] = samples[gray ? s : s + 2];
    data[i + 3] = alpha ? samples[s + channels - 1] : 255;
  }
  return { width, height, data };
}

export function encodePng(rgba: Uint8Array, size: Size): Uint8Array {
  // Level 1, as the agent's own PNGs: the designer waits for this encode, and size matters less.
  return encode({ width: size.width, height: size.height, data: rgba, channels: 4, depth: 8 }, { zlib: { level: 1 } });
}
