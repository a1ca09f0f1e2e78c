// Control layers, LoRA chips and styles as the panel keeps them (conditioning.ts):
// what a model can take, what is refused in words, and what travels.
import { describe, expect, it } from "vitest";
import { addLora, checkControl, controlKindsFor, controlLabel, derivable, modelInfo, styleFill, styleTarget, type ControlLayer } from "../src/conditioning.js";
import { formFromRecipe, lorasFromRecipe } from "../src/form.js";
import type { EngineInfo, ModelInfo, Recipe } from "../src/protocol.js";

const sd15: ModelInfo = {
  name: "sd15", loras: ["ink"], preprocessors: ["canny", "inpaint", "tile"],
  controlnets: [{ name: "canny", kind: "canny" }, { name: "canny-b", kind: "canny" }, { name: "sketch", kind: "scribble" }],
};
const diffusers: EngineInfo = { name: "diffusers", models: ["sd15"], model_details: [sd15], modes: ["fill"], uses_prompt: true, max_pixels: 1, multiple: 8, native_min: 64, native_max: 64 };
const classic: EngineInfo = { ...diffusers, name: "classic", models: [], model_details: [] };
const sketch: ControlLayer = { layerId: 4, label: "Sketch", kind: "scribble", strength: 1, start: 0, end: 1 };

describe("control layers", () => {
  it("offers the kinds the model has a ControlNet for, each once", () => {
    expect(controlKindsFor(sd15)).toEqual(["canny", "scribble"]);
    expect(controlKindsFor(modelInfo(classic, ""))).toEqual([]);
  });
  it("takes the engine's first model when the job names none", () => {
    expect(modelInfo(diffusers, "")).toBe(sd15);
    expect(modelInfo(diffusers, "sdxl")).toBeUndefined();
  });
  it("derives from the source only the kinds the agent has a preprocessor for, never a drawing", () => {
    expect(derivable(sd15, "canny")).toBe(true);
    expect(derivable(sd15, "scribble")).toBe(false);
    expect(checkControl({ ...sketch, layerId: null }, [], sd15)).toEqual({ error: expect.stringMatching(/needs a layer/) });
  });
  it("accepts a sketch layer as scribble", () => {
    expect(checkControl(sketch, [], sd15)).toBe(sketch);
  });
  it("refuses a kind the model has no ControlNet for, a fifth control, and bad numbers", () => {
    expect(checkControl({ ...sketch, kind: "depth" }, [], sd15)).toEqual({ error: expect.stringMatching(/no depth ControlNet/) });
    expect(checkControl(sketch, [sketch, sketch, sketch, sketch], sd15)).toEqual({ error: expect.stringMatching(/at most 4/) });
    expect(checkControl({ ...sketch, strength: 2.5 }, [], sd15)).toEqual({ error: expect.stringMatching(/strength/) });
    expect(checkControl({ ...sketch, strength: Number.NaN }, [], sd15)).toEqual({ error: expect.stringMatching(/strength/) });
    expect(checkControl({ ...sketch, start: 0.7, end: 0.7 }, [], sd15)).toEqual({ error: expect.stringMatching(/start before they end/) });
  });
  it("labels a control with its kind, layer, strength and step range", () => {
    expect(controlLabel(sketch)).toBe("scribble · Sketch · 1");
    expect(controlLabel({ ...sketch, strength: 0.8, end: 0.7 })).toBe("scribble · Sketch · 0.8 · steps 0-70%");
  });
});

describe("LoRA chips", () => {
  it("adds a chip, and changes the weight of one already there", () => {
    const one = addLora([], { name: "ink", weight: 0.5 });
    expect(one).toEqual([{ name: "ink", weight: 0.5 }]);
    expect(addLora(one as never, { name: "ink", weight: 1.2 })).toEqual([{ name: "ink", weight: 1.2 }]);
  });
  it("refuses a weight outside -2..2 and a ninth LoRA", () => {
    expect(addLora([], { name: "ink", weight: 3 })).toEqual({ error: expect.stringMatching(/-2 and 2/) });
    const eight = [...Array(8)].map((_, i) => ({ name: `l${i}`, weight: 1 }));
    expect(addLora(eight, { name: "ink", weight: 1 })).toEqual({ error: expect.stringMatching(/at most 8/) });
  });
  it("comes back from a recipe's resolved stack", () => {
    const recipe = { params: { loras: [{ name: "ink", weight: 0.8, sha256: "ab" }, { name: "paper" }] } } as Recipe;
    expect(lorasFromRecipe(recipe)).toEqual([{ name: "ink", weight: 0.8 }, { name: "paper", weight: 1 }]);
  });
});

describe("styles", () => {
  it("moves the pickers to the engine and model a style runs on", () => {
    expect(styleTarget({ name: "ink-wash", model: "sd15" }, [classic, diffusers])).toEqual({ engine: "diffusers", model: "sd15" });
  });
  it("leaves them where they are for a style without a model, or one no engine has", () => {
    expect(styleTarget({ name: "loose" }, [classic, diffusers])).toBeNull();
    expect(styleTarget({ name: "gone", model: "sdxl" }, [classic, diffusers])).toBeNull();
    expect(styleTarget(undefined, [diffusers])).toBeNull();
  });
});

describe("a picked style's fields", () => {
  it("fills the fields the panel has from the style's sets and names everything it sets", () => {
    const fill = styleFill({
      name: "brand", sets: { prompt: "{prompt}, flat", negative_prompt: "photo", strength: 0.45, loras: [{ name: "ink", weight: 0.8 }], steps: 3, references: [{ weight: 0.5 }] },
    });
    expect(fill.form).toEqual({ negativePrompt: "photo", strength: "45" });
    expect(fill.loras).toEqual([{ name: "ink", weight: 0.8 }]);
    expect(fill.summary).toBe("Sets prompt “{prompt}, flat”, negative prompt “photo”, LoRA ink 0.8, steps 3, strength 0.45, 1 reference image.");
  });
  it("fills nothing a style leaves to the job", () => {
    expect(styleFill({ name: "bare" })).toEqual({ form: {}, loras: null, summary: "" });
    expect(styleFill(undefined)).toEqual({ form: {}, loras: null, summary: "" });
  });
});

describe("recipes back into fields", () => {
  it("gives Expand's margins per side", () => {
    const recipe = { engine: "diffusers", mode: "expand", params: { expand: { left: 10, right: 30 } }, seeds: [1] } as Recipe;
    expect(formFromRecipe(recipe)).toMatchObject({ expandLeft: "10", expandTop: "0", expandRight: "30", expandBottom: "0" });
  });
});
