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
  it("keeps every pixel outside the mask bit-identical and puts the layer where it is full", () => {
    const layer = new Uint8Array(2 * 2 * 4).fill(7);
    const mask = new Uint8Array([255, 0, 128, 255]);
    const out = blendLayer(source, 4, 4, layer, mask, { x: 1, y: 1, width: 2, height: 2 });
    const at = (x: number, y: number): number[] => [...out.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4)];
    const src = (x: number, y: number): number[] => [...source.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4)];
    expect(at(1, 1)).toEqual([7, 7, 7, 7]);
    expect(at(2, 1)).toEqual(src(2, 1));
    expect(at(1, 2)).toEqual(src(1, 2).map((v) => Math.round((v * 127 + 7 * 128) / 255)));
    for (const [x, y] of [[0, 0], [3, 3], [0, 2], [3, 1]]) expect(at(x, y)).toEqual(src(x, y));
  });

  it("clips a layer that reaches past the image", () => {
    const out = blendLayer(source, 4, 4, new Uint8Array(16).fill(9), new Uint8Array(4).fill(255), { x: 3, y: 3, width: 2, height: 2 });
    expect([...out.subarray(60, 64)]).toEqual([9, 9, 9, 9]);
  });

  it("refuses a layer whose size does not match its bounds", () => {
    expect(() => blendLayer(source, 4, 4, new Uint8Array(3), new Uint8Array(1), { x: 0, y: 0, width: 1, height: 1 })).toThrow(RangeError);
  });

  it("reads one channel of a decoded grayscale image", () => {
    expect(channel(new Uint8Array([5, 5, 5, 255, 9, 9, 9, 255]))).toEqual(new Uint8Array([5, 9]));
  });
});
