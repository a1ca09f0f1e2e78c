import { describe, expect, it } from "vitest";
import type { Recipe } from "../src/core/protocol.js";
import { decodeRecipe, encodeRecipe, PLUGIN_DATA_LIMIT, summarize, utf8Length, type NodeRecipe } from "../src/core/recipe.js";

const recipe: Recipe = {
  underpaint: "0.1.0", engine: "classic", model: null, mode: "fill",
  params: { engine: "classic", prompt: "a wooden bench", variants: 2, seed: 42 },
  seeds: [42, 43], document: { width: 320, height: 200 }, region: { x: 0, y: 0, width: 320, height: 200 },
  image_sha256: "ab".repeat(32), mask_sha256: "cd".repeat(32),
};
const record: NodeRecipe = { v: 1, jobId: "figma-1", variant: 1, seed: 43, mask: "centre", recipe };

describe("recipes on nodes", () => {
  it("round-trips through plugin data", () => {
    expect(decodeRecipe(encodeRecipe(record))).toEqual(record);
  });

  it("counts UTF-8 bytes as Figma's limit does", () => {
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("€")).toBe(3);
    expect(utf8Length("🎨")).toBe(4);
    expect(utf8Length("🎨é")).toBe(Buffer.byteLength("🎨é"));
  });

  it("stays under the 100 kB plugin-data limit even with the longest prompts", () => {
    const longest = { ...record, recipe: { ...recipe, params: { ...recipe.params, prompt: "🎨".repeat(4000), negative_prompt: "€".repeat(4000) } } };
    const text = encodeRecipe(longest);
    expect(Buffer.byteLength(text)).toBeLessThan(PLUGIN_DATA_LIMIT);
    expect(decodeRecipe(text)).toEqual(longest);
  });

  it("keeps the job id and seed when a recipe would not fit", () => {
    const text = encodeRecipe(record, 200);
    expect(Buffer.byteLength(text)).toBeLessThan(200);
    expect(decodeRecipe(text)).toEqual({ ...record, recipe: null });
  });

  it("ignores empty, foreign or damaged data", () => {
    for (const bad of ["", "not json", "[]", '{"v":2}', '{"v":1,"jobId":"x","variant":0,"seed":1,"mask":"oval","recipe":null}', '{"v":1,"jobId":"x","variant":0,"seed":1,"mask":"full","recipe":{}}']) {
      expect(decodeRecipe(bad)).toBeNull();
    }
  });

  it("summarizes a recipe in one short line for the relaunch buttons", () => {
    expect(summarize(record)).toBe("classic · fill · seed 43 · a wooden bench");
    const long = summarize({ ...record, recipe: { ...recipe, params: { prompt: "x".repeat(300) } } });
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long.endsWith("…")).toBe(true);
  });
});
