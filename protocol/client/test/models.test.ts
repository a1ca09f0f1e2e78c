// Reading one model's abilities from the handshake: what every plugin's menus offer.
import { describe, expect, it } from "vitest";
import { abilitiesOf, guidanceLabel, keptMode, offeredModes, promptLabel, usesStrength } from "../src/models.js";
import type { EngineInfo, ModelInfo } from "../src/messages.gen.js";

const kontext: ModelInfo = { name: "kontext", family: "flux-kontext", modes: ["edit", "upscale"], guidance: "distilled", native_min: 512, native_max: 1024, max_pixels: 1024 * 1024, multiple: 16 };
const schnell: ModelInfo = { name: "schnell", family: "flux-schnell", modes: ["generate", "refine", "fill", "upscale"], guidance: "none", native_min: 512, native_max: 1024, max_pixels: 1 << 20 };
const bare: ModelInfo = { name: "old" };
const engine: EngineInfo = {
  name: "diffusers", modes: ["fill", "remove", "generate", "refine", "upscale"], uses_prompt: true, native_min: 512, native_max: 768,
  multiple: 8, max_pixels: 512 * 768, models: ["kontext", "schnell", "old"], model_details: [kontext, schnell, bare],
};

describe("a model's abilities", () => {
  it("come from the model's own details", () => {
    expect(abilitiesOf(engine, "kontext")).toEqual({ modes: ["edit", "upscale"], guidance: "distilled", nativeMin: 512, nativeMax: 1024, maxPixels: 1 << 20, multiple: 16 });
  });
  it("fall back to the engine's when a model has no details", () => {
    expect(abilitiesOf(engine, "old")).toEqual({ modes: engine.modes, guidance: "cfg", nativeMin: 512, nativeMax: 768, maxPixels: 512 * 768, multiple: 8 });
  });
  it("are the engine's own for the engine's default model when the agent names none", () => {
    expect(abilitiesOf(engine, "").modes).toEqual(engine.modes);
  });
  it("are the default model's own when the agent names it (a FLUX default steers by distilled guidance)", () => {
    expect(abilitiesOf({ ...engine, default_model: "kontext" }, "")).toEqual(abilitiesOf(engine, "kontext"));
  });
  it("have no guidance on an engine that takes no prompts", () => {
    expect(abilitiesOf({ ...engine, uses_prompt: false, model_details: [] }, "").guidance).toBe("none");
  });
});

describe("the mode menu", () => {
  it("lists the plugin's modes the model can do, in the plugin's order", () => {
    expect(offeredModes(["fill", "remove", "generate", "refine", "edit"], abilitiesOf(engine, "kontext"))).toEqual(["edit"]);
    expect(offeredModes(["fill", "remove", "generate", "refine", "edit"], abilitiesOf(engine, "schnell"))).toEqual(["fill", "generate", "refine"]);
  });
  it("keeps the chosen mode where the new model has it, else moves to its first", () => {
    expect(keptMode("refine", ["fill", "refine"])).toBe("refine");
    expect(keptMode("edit", ["fill", "refine"])).toBe("fill");
    expect(keptMode("edit", [])).toBeUndefined();
  });
});

describe("the fields", () => {
  it("hide guidance where the model has none and name distilled guidance as such", () => {
    expect(guidanceLabel("none")).toBeNull();
    expect(guidanceLabel("distilled")).toBe("Distilled guidance");
    expect(guidanceLabel("cfg")).toBe("Guidance (CFG)");
  });
  it("ask an edit for the change to make", () => {
    expect(promptLabel("edit").label).toBe("Describe the change");
    expect(promptLabel("fill").label).toBe("Prompt");
  });
  it("give refine and edit a strength", () => {
    expect(usesStrength("edit") && usesStrength("refine")).toBe(true);
    expect(usesStrength("fill")).toBe(false);
  });
});
