// The Edit mode in the Figma panel's pure modules: an instruction edit of the whole frame, with its
// strength and the model's guidance, checked where the UI hands it to the main thread.
import { describe, expect, it } from "vitest";
import { MODES, modeInfo, paramsFor, type Brief } from "../src/core/brief.js";
import { parseUiMessage } from "../src/core/messages.js";

const brief: Brief = {
  mode: "edit", prompt: "make the jacket red", negativePrompt: "", variants: 1, seed: 3, engine: "diffusers", model: "kontext",
  style: "", loras: [], edges: false, references: [], strength: 0.8, guidance: 2.5,
};
const rules = { multiple: 16, nativeMin: 512, maxPixels: 1 << 20 };

describe("the Edit mode", () => {
  it("is offered, editing the whole frame's pixels", () => {
    expect(MODES.map((m) => m.mode)).toContain("edit");
    expect(modeInfo("edit")).toMatchObject({ mask: "full", needsImage: true });
  });
  it("sends the instruction as the prompt, with its strength and guidance", () => {
    expect(paramsFor(brief, "", 3, 1)).toMatchObject({ prompt: "make the jacket red", strength: 0.8, guidance: 2.5, model: "kontext" });
  });
  it("sends no strength for a mode that has none", () => {
    expect(paramsFor({ ...brief, mode: "fill" }, "", 3, 1).strength).toBeUndefined();
  });
  it("leaves guidance out when the brief has none", () => {
    expect(paramsFor({ ...brief, guidance: undefined }, "", 3, 1).guidance).toBeUndefined();
  });
  it("travels to the main thread, and a strength or guidance out of range does not", () => {
    expect(parseUiMessage({ type: "run", command: "fill", brief, rules })).not.toBeNull();
    expect(parseUiMessage({ type: "run", command: "fill", brief: { ...brief, strength: 1.5 }, rules })).toBeNull();
    expect(parseUiMessage({ type: "run", command: "fill", brief: { ...brief, guidance: -1 }, rules })).toBeNull();
  });
});
