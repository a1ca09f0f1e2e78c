// PNG in and out of RGBA8 with the browser's canvas: the main thread can only
// export and take PNG, the agent takes raw RGBA (its fast path) and returns PNG.
import type { Size } from "../core/size.js";

function canvas(size: Size): CanvasRenderingContext2D {
  const element = document.createElement("canvas");
  element.width = size.width;
  element.height = size.height;
  const context = element.getContext("2d", { willReadFrequently: true });
  if (!context) throw new Error("This browser gives the panel no 2D canvas.");
  return context;
}

/** RGBA8 of a PNG, resized to `size` when given and different. */
export async function decodePng(png: Uint8Array, size?: Size): Promise<{ data: Uint8Array; width: number; height: number }> {
  // No colour management or premultiplication: the bytes the agent sees are the bytes Figma exported.
  const bitmap = await createImageBitmap(new Blob([png as BlobPart], { type: "image/png" }), {
    colorSpaceConversion: "none", premultiplyAlpha: "none",
  });
  const target = size ?? { width: bitmap.width, height: bitmap.height };
  const context = canvas(target);
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, target.width, target.height);
  bitmap.close();
  const { data } = context.getImageData(0, 0, target.width, target.height);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ...target };
}

export async function encodePng(rgba: Uint8Array, size: Size): Promise<Uint8Array> {
  const context = canvas(size);
  context.putImageData(new ImageData(new Uint8ClampedArray(rgba), size.width, size.height), 0, 0);
  const blob = await new Promise<globalThis.Blob | null>((done) => context.canvas.toBlob(done, "image/png"));
  if (!blob) throw new Error("The browser could not encode the result as PNG.");
  return new Uint8Array(await blob.arrayBuffer());
}
