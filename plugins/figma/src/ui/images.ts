// The frame's exported PNG as RGBA8 at the job's size. Bytes come exact from
// core/png.ts; the browser's canvas only resamples an export whose size came
// out off the job's (Figma rounds the height the width constraint implies).
import { decodePng, type Rgba8 } from "../core/png.js";
import type { Size } from "../core/size.js";

export async function decodePngAt(png: Uint8Array, size: Size): Promise<Rgba8> {
  const image = decodePng(png);
  if (image.width === size.width && image.height === size.height) return image;
  const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), {
    resizeWidth: size.width, resizeHeight: size.height, resizeQuality: "high", premultiplyAlpha: "none", colorSpaceConversion: "none",
  });
  const element = document.createElement("canvas");
  element.width = size.width;
  element.height = size.height;
  const context = element.getContext("2d", { willReadFrequently: true });
  if (!context) throw new Error("This browser gives the panel no 2D canvas.");
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { data } = context.getImageData(0, 0, size.width, size.height);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ...size };
}
