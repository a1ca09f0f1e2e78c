import { describe, expect, it } from "vitest";
import { FIGMA_MAX_IMAGE_SIDE, snapSize } from "../src/core/size.js";

const rules = { multiple: 8, nativeMin: 128, maxPixels: 50_000_000 };

describe("snapSize", () => {
  it("keeps a frame's size when it already fits the engine's multiple", () => {
    expect(snapSize(320, 200, rules)).toEqual({ width: 320, height: 200 });
  });

  it("snaps both sides to the model's multiple, keeping the aspect", () => {
    const size = snapSize(375, 812, { ...rules, multiple: 64 });
    expect(size.width % 64).toBe(0);
    expect(size.height % 64).toBe(0);
    expect(size.width / size.height).toBeCloseTo(375 / 812, 1);
  });

  it("brings tiny frames up to the engine's native minimum", () => {
    const size = snapSize(40, 20, rules);
    expect(size).toEqual({ width: 128, height: 64 });
  });

  it("caps the long side at Figma's 4096 px image limit", () => {
    const size = snapSize(10_000, 2_500, rules);
    expect(size.width).toBe(FIGMA_MAX_IMAGE_SIDE);
    expect(size.height).toBe(1024);
    const odd = snapSize(5000, 5000, { ...rules, multiple: 7 });
    expect(Math.max(odd.width, odd.height)).toBeLessThanOrEqual(4096);
    expect(odd.width % 7).toBe(0);
  });

  it("respects the agent's pixel limit", () => {
    const size = snapSize(3000, 3000, { ...rules, maxPixels: 1_000_000 });
    expect(size.width * size.height).toBeLessThanOrEqual(1_000_000);
    expect(size.width).toBe(size.height);
  });

  it("applies a scale (2x for crisp images on retina screens)", () => {
    expect(snapSize(100, 50, rules, 2)).toEqual({ width: 200, height: 104 });
  });

  it("refuses empty frames", () => {
    expect(() => snapSize(0, 10, rules)).toThrow(RangeError);
  });
});
