// PNG in and out of RGBA8 (core/png.ts): exact bytes, whatever colour type
// Figma's export or the agent's result uses.
import { encode } from "fast-png";
import { describe, expect, it } from "vitest";
import { decodePng, encodePng } from "../src/core/png.js";

describe("PNG", () => {
  it("round-trips semi-transparent RGBA byte for byte", () => {
    // Colours under low alpha are what a premultiplying canvas would round away.
    const rgba = Uint8Array.from([200, 100, 50, 1, 10, 20, 30, 128, 255, 0, 128, 0, 77, 177, 7, 254, 1, 2, 3, 255, 9, 8, 7, 3]);
    const decoded = decodePng(encodePng(rgba, { width: 3, height: 2 }));
    expect([decoded.width, decoded.height]).toEqual([3, 2]);
    expect(decoded.data).toEqual(rgba);
  });

  it("reads a grayscale mask into every colour channel, opaque", () => {
    const png = encode({ width: 3, height: 1, data: Uint8Array.from([0, 128, 255]), channels: 1, depth: 8 });
    expect([...decodePng(png).data]).toEqual([0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255]);
  });

  it("reads gray with alpha", () => {
    const png = encode({ width: 2, height: 1, data: Uint8Array.from([40, 7, 90, 200]), channels: 2, depth: 8 });
    expect([...decodePng(png).data]).toEqual([40, 40, 40, 7, 90, 90, 90, 200]);
  });

  it("reads RGB as opaque RGBA", () => {
    const png = encode({ width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]), channels: 3, depth: 8 });
    expect([...decodePng(png).data]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
  });

  it("reads a palette with transparency", () => {
    // The see-through entry first: fast-png's encoder writes alpha (tRNS) only for entries that are not opaque.
    const palette = [[40, 50, 60, 5], [10, 20, 30, 255]];
    const png = encode({ width: 3, height: 1, data: Uint8Array.from([0, 1, 0]), channels: 1, depth: 8, palette });
    expect([...decodePng(png).data]).toEqual([40, 50, 60, 5, 10, 20, 30, 255, 40, 50, 60, 5]);
  });

  it("refuses a 16-bit PNG instead of misreading it", () => {
    const png = encode({ width: 1, height: 1, data: Uint16Array.from([1, 2, 3, 4]), channels: 4, depth: 16 });
    expect(() => decodePng(png)).toThrow(/16-bit/);
  });
});
