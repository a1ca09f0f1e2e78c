import { describe, expect, it } from "vitest";
import { blendLayer, channel, maskFor } from "../src/core/pixels.js";

describe("masks", () => {
  it("selects a soft ellipse over the middle half for a centre fill", () => {
    const mask = maskFor("centre", 40, 20);
    expect(mask[10 * 40 + 20]).toBe(255);
    expect(mask[0]).toBe(0);
    expect(mask[10 * 40 + 2]).toBe(0);
    expect([...mask].some((v) => v > 0 && v < 255)).toBe(true);
  });

  it("selects everything for refine", () => {
    expect(maskFor("full", 3, 2)).toEqual(new Uint8Array(6).fill(255));
  });
});

describe("blendLayer", () => {
  const source = new Uint8Array(4 * 4 * 4).map((_, i) => i % 251);
  const pixel = (image: Uint8Array, x: number, y: number): number[] => [...image.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4)];
  const layer = new Uint8Array(2 * 2 * 4).fill(7).map((v, i) => (i % 4 === 3 ? 255 : v));

  it("keeps every pixel outside the layer or its mask bit-identical", () => {
    const out = blendLayer(source, 4, 4, layer, new Uint8Array([255, 0, 128, 255]), { x: 1, y: 1, width: 2, height: 2 });
    for (const [x, y] of [[2, 1], [0, 0], [3, 3], [0, 2], [3, 1]]) expect(pixel(out, x, y)).toEqual(pixel(source, x, y));
  });

  it("gives an opaque layer exactly where the mask is full", () => {
    const out = blendLayer(source, 4, 4, layer, new Uint8Array(4).fill(255), { x: 1, y: 1, width: 2, height: 2 });
    expect(pixel(out, 1, 1)).toEqual([7, 7, 7, 255]);
  });

  it("folds the layer's alpha into the mask: half alpha under a full mask is a full layer under a half mask", () => {
    const half = layer.map((v, i) => (i % 4 === 3 ? 128 : v));
    const at = { x: 1, y: 1, width: 2, height: 2 };
    expect(blendLayer(source, 4, 4, half, new Uint8Array(4).fill(255), at)).toEqual(blendLayer(source, 4, 4, layer, new Uint8Array(4).fill(128), at));
  });

  it("clips a layer that reaches past the image", () => {
    const opaque = new Uint8Array(16).fill(9).map((v, i) => (i % 4 === 3 ? 255 : v));
    const out = blendLayer(source, 4, 4, opaque, new Uint8Array(4).fill(255), { x: 3, y: 3, width: 2, height: 2 });
    expect(pixel(out, 3, 3)).toEqual([9, 9, 9, 255]);
  });

  it("refuses a layer whose size does not match its bounds", () => {
    expect(() => blendLayer(source, 4, 4, new Uint8Array(3), new Uint8Array(1), { x: 0, y: 0, width: 1, height: 1 })).toThrow(RangeError);
  });

  it("reads one channel of a decoded grayscale image", () => {
    expect(channel(new Uint8Array([5, 5, 5, 255, 9, 9, 9, 255]))).toEqual(new Uint8Array([5, 9]));
  });
});
