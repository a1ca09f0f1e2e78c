// The Edit mode and the per-model menus in the panel's pure modules: what goes out for an edit, and
// that a mode or guidance the chosen model lacks never does.
import { describe, expect, it } from "vitest";
import { formFromRecipe, requestFromForm, type FormValues } from "../src/form.js";
import { paramsFor, type JobRequest } from "../src/job.js";
import { MODES, targetFor, transferFor } from "../src/modes.js";
import { groupName, historyName } from "../src/naming.js";
import { abilitiesOf, type EngineInfo, type Recipe } from "../src/protocol.js";

const form: FormValues = {
  mode: "edit", prompt: "make the jacket red", negativePrompt: "", engine: "diffusers", model: "kontext", variants: "1", seed: "4",
  seedLocked: true, strength: "80", expandLeft: "0", expandTop: "0", expandRight: "0", expandBottom: "0",
};
const engine: EngineInfo = {
  name: "diffusers", modes: ["fill", "generate", "refine", "upscale"], uses_prompt: true, native_min: 64, native_max: 64, multiple: 8, max_pixels: 4096,
  models: ["kontext", "sd15"], model_details: [
    { name: "kontext", modes: ["edit", "upscale"], guidance: "distilled", family: "flux-kontext" },
    { name: "sd15", modes: ["fill", "generate", "refine", "upscale"], guidance: "cfg", family: "sd1" },
  ],
};
const limits = { max_variants: 16 };

describe("the Edit mode", () => {
  it("is in the panel's menu", () => {
    expect(MODES).toContain("edit");
  });
  it("works on the whole canvas without a selection and on the selection's context with one", () => {
    const doc = { width: 100, height: 80 };
    expect(targetFor("edit", doc, null)).toMatchObject({ kind: "canvas" });
    const selected = targetFor("edit", doc, { x: 10, y: 10, width: 20, height: 20 });
    expect(transferFor("edit", selected)).toEqual({ plan: true, image: true, mask: true });
    expect(transferFor("edit", targetFor("edit", doc, null))).toEqual({ plan: false, image: true, mask: false });
  });
  it("sends the instruction as the prompt with the strength", () => {
    const request = requestFromForm(form, limits, abilitiesOf(engine, "kontext")) as JobRequest;
    expect(paramsFor(request)).toMatchObject({ prompt: "make the jacket red", strength: 0.8, model: "kontext" });
  });
  it("refuses an empty instruction before anything is sent", () => {
    expect(requestFromForm({ ...form, prompt: "  " }, limits, abilitiesOf(engine, "kontext"))).toEqual({ error: expect.stringMatching(/Describe the change/) });
  });
  it("names the group and the history step after the change", () => {
    expect(groupName("edit", " make the  jacket red")).toBe("Edit: make the jacket red");
    expect(historyName("edit", "make the jacket red")).toBe("Underpaint Edit: make the jacket red");
  });
});

describe("what the chosen model can do", () => {
  it("refuses a mode the model cannot do, saying which it can", () => {
    expect(requestFromForm(form, limits, abilitiesOf(engine, "sd15"))).toEqual({ error: "The chosen model cannot do Edit; it does Fill, Generate, Refine." });
  });
  it("sends guidance only where the model steers by it", () => {
    const kontext = requestFromForm({ ...form, guidance: "3.5" }, limits, abilitiesOf(engine, "kontext")) as JobRequest;
    expect(paramsFor(kontext).guidance).toBe(3.5);
    const none = abilitiesOf({ ...engine, model_details: [{ name: "kontext", modes: ["edit"], guidance: "none" }] }, "kontext");
    expect(paramsFor(requestFromForm({ ...form, guidance: "3.5" }, limits, none) as JobRequest).guidance).toBeUndefined();
  });
  it("leaves guidance to the model when the field is empty, and refuses one out of range", () => {
    expect(paramsFor(requestFromForm(form, limits, abilitiesOf(engine, "kontext")) as JobRequest).guidance).toBeUndefined();
    expect(requestFromForm({ ...form, guidance: "31" }, limits, abilitiesOf(engine, "kontext"))).toEqual({ error: expect.stringMatching(/Guidance/) });
  });
  it("brings a recipe's guidance back into the field", () => {
    const recipe = { mode: "edit", engine: "diffusers", model: { name: "kontext", sha256: "0".repeat(64) }, params: { prompt: "x", guidance: 2.5 }, seeds: [1] } as unknown as Recipe;
    expect(formFromRecipe(recipe)).toMatchObject({ mode: "edit", guidance: "2.5" });
  });
});
