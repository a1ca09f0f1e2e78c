// The panel's compositor against the agent's: fixtures/composite-vectors.json
// holds inputs and the bytes underpaint.results.png.composite_layers made of
// them (fixtures/make_composite_vectors.py writes it and says how to rerun it).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { blendLayer, whiteBase } from "../src/core/pixels.js";

interface Vector {
  name: string;
  width: number;
  height: number;
  /** The frame's RGBA, or null for a Generate job. */
  base: number[] | null;
  layer: { x: number; y: number; width: number; height: number; pixels: number[]; mask: number[] };
  expected: number[];
}

const fixture = new URL("./fixtures/composite-vectors.json", import.meta.url);
const { cases } = JSON.parse(readFileSync(fixture, "utf8")) as { cases: Vector[] };

describe("the panel composites a layer byte for byte as the agent's PNG writer does", () => {
  it("has the agent's vectors to compare with", () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });

  it.each(cases)("$name", ({ width, height, base, layer, expected }) => {
    const frame = base ? Uint8Array.from(base) : whiteBase(width, height);
    const out = blendLayer(frame, width, height, Uint8Array.from(layer.pixels), Uint8Array.from(layer.mask), layer);
    expect([...out]).toEqual(expected);
  });
});
